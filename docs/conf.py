"""Sphinx configuration of fastssim's documentation.

Build: ``pip install -e '.[docs]'`` then ``python -m sphinx -W --keep-going -b html docs docs/_build/html``.
"""

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
os.environ.setdefault("FASTSSIM_PROGRESS_EVERY", "3600")  # no progress lines in executed examples

import fastssim  # noqa: E402

project = "fastssim"
author = "the fastssim developers"
copyright = "the fastssim developers; BSD-3-Clause"
version = release = fastssim.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx.ext.mathjax",
    "sphinx_gallery.gen_gallery",
    "sphinxarg.ext",
    "fastssim_docs",  # docs/_ext: the pages computed when the docs are built
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "README.md", "auto_examples/*.ipynb", "auto_examples/*.py",
                    "auto_examples/*.zip", "auto_examples/*.codeobj.json"]
# a reference to a page or heading that does not exist is a warning, and warnings fail the build
nitpicky = False
myst_heading_anchors = 3
# the benchmarks page includes generated sections (H2) under its own title
suppress_warnings = ["myst.header"]
myst_enable_extensions = ["colon_fence", "dollarmath"]

autosummary_generate = True
autodoc_default_options = {"members": False}
autodoc_inherit_docstrings = False  # the drop-ins' classes: their own docstrings, not the libraries'
autodoc_typehints = "none"  # numpydoc's Parameters sections say the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

sphinx_gallery_conf = {
    "examples_dirs": str(HERE.parent / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "abort_on_example_error": True,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "write_computation_times": False,
    "plot_gallery": "True",
}

html_theme = "pydata_sphinx_theme"
html_title = f"fastssim {release}"
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# the section navigation on the pages of a section (guides, reference); none where it would be empty
html_sidebars = {"**": ["sidebar-nav-bs"], **{page: [] for page in (
    "index", "getting-started", "disagreement", "benchmarks", "design", "changelog")}}
html_static_path = []
html_last_updated_fmt = None
