"""scikit-image's own tests for ``structural_similarity``, run against fastssim's drop-in.

The test file comes from the sdist of the installed scikit-image
(``python .ci/fetch_test_data.py`` puts it in ``.cache/skimage/<version>/``;
``.ci/run`` does so) or from the path in ``FASTSSIM_SKIMAGE_SUITE``. It is loaded as a
module, its ``structural_similarity`` is replaced by
``fastssim.compat.skimage.structural_similarity``, and its test functions (with their
parametrizations) are collected here under ``test_skimage_*`` names. No code of
scikit-image's is kept in this repository.
"""

import importlib.util
import os
import pathlib

import pytest
import skimage

from fastssim.integrations.skimage import structural_similarity

ROOT = pathlib.Path(__file__).resolve().parents[1]
SUITE = pathlib.Path(os.environ.get(
    "FASTSSIM_SKIMAGE_SUITE",
    ROOT / ".cache" / "skimage" / skimage.__version__ / "test_structural_similarity.py"))


def _load():
    spec = importlib.util.spec_from_file_location("skimage_structural_similarity_suite", SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.structural_similarity = structural_similarity  # the tests look it up at call time
    return module


if SUITE.exists():
    _suite = _load()
    _names = [n for n in vars(_suite) if n.startswith("test_") and callable(getattr(_suite, n))]
    for _name in _names:
        globals()["test_skimage_" + _name[len("test_"):]] = getattr(_suite, _name)

    def test_the_suite_calls_fastssim():
        """The collected tests call the drop-in, not scikit-image (checked through a test
        function's own globals), and the file held tests."""
        assert len(_names) >= 10
        assert getattr(_suite, _names[0]).__globals__["structural_similarity"] is structural_similarity
else:
    def test_skimage_suite():
        pytest.skip(f"scikit-image {skimage.__version__}'s test file is not at {SUITE}: run "
                    "`python .ci/fetch_test_data.py` (needs the network once) or set "
                    "FASTSSIM_SKIMAGE_SUITE to its path")
