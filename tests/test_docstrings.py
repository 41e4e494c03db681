"""The API reference is generated from the docstrings, so each public function and class on it
(docs/reference/api.md) documents every parameter it takes and nothing it does not take, and
says what it returns (numpydoc's own validation: PR01, PR02, RT01, RT03, GL08). The drop-ins
(``compat.*``) take their original library's parameters and say so, pointing at its docs."""

import re
from pathlib import Path

import pytest

API_PAGE = Path(__file__).resolve().parents[1] / "docs" / "reference" / "api.md"
CHECKS = {"PR01", "PR02", "RT01", "RT03", "GL08"}


def documented_names():
    """The fully qualified names the API page lists (autosummary entries under their module)."""
    names = []
    for block in re.findall(r"```\{eval-rst\}\n(.*?)```", API_PAGE.read_text(), re.S):
        module = re.search(r"\.\. currentmodule:: (\S+)", block).group(1)
        entries = re.findall(r"^   ([A-Za-z_][\w.]*)$", block, re.M)
        names += [f"{module}.{e}" for e in entries]
    return names


def test_the_api_page_lists_the_public_api():
    import fastssim
    names = documented_names()
    assert len(names) > 40
    missing = [n for n in fastssim.__all__ if n != "__version__" and f"fastssim.{n}" not in names]
    assert missing == []


@pytest.mark.parametrize("name", [n for n in documented_names() if ".compat." not in n])
def test_docstring_documents_every_parameter_and_the_result(name):
    numpydoc = pytest.importorskip("numpydoc.validate", reason="numpydoc is in the docs extra")
    if name.startswith(("fastssim.torch.",)):
        pytest.importorskip("torch")
    if name.startswith("fastssim.dask."):
        pytest.importorskip("dask")
    errors = [(code, message) for code, message in numpydoc.validate(name)["errors"] if code in CHECKS]
    if name.endswith(("MS_SSIM_WEIGHTS", "THREE_SSIM_WEIGHTS")):  # constants: no parameters or returns
        errors = [e for e in errors if e[0] == "GL08"]
    assert errors == []
