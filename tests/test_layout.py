"""The package's shape (issue 35), checked on every import statement (those inside functions too)
by tools/import_graph.py: no import cycle, no arrow from a lower layer of the layout to a higher
one, no module over 400 lines; all use of ``numba.cuda`` under ``kernels/cuda``; data ranges
interpreted only by ``conventions/data_range.py``; one list of backends."""

import ast
import importlib.util
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fastssim"


@pytest.fixture(scope="module")
def graph():
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "tools" / "import_graph.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["import_graph"] = mod
    spec.loader.exec_module(mod)
    return mod


def test_no_cycle_no_upward_arrow_no_large_module(graph):
    r = graph.report(max_lines=400)
    assert r["cycles"] == []
    assert r["upward"] == []
    assert r["over_limit"] == []
    assert r["package_floors"] <= 7


def test_the_checker_sees_deferred_imports_and_cycles(graph, tmp_path, monkeypatch):
    """The checker is not vacuous: a deferred import that closes a cycle, and an arrow from the
    kernels up to the batch layer, are reported."""
    pkg = tmp_path / "fastssim"
    (pkg / "kernels").mkdir(parents=True)
    (pkg / "batch").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "kernels" / "__init__.py").write_text("")
    (pkg / "batch" / "__init__.py").write_text("")
    (pkg / "kernels" / "engine.py").write_text("def f():\n    from ..batch import run\n")
    (pkg / "batch" / "run.py").write_text("from ..kernels import engine\n" + "x = 1\n" * 401)
    monkeypatch.setattr(graph, "ROOT", pkg)
    r = graph.report(max_lines=400)
    assert r["cycles"] == [["fastssim.batch.run", "fastssim.kernels.engine"]]
    assert r["upward"] == [("fastssim.kernels.engine", "fastssim.batch.run")]
    assert r["over_limit"] == [["fastssim.batch.run", 402]]


def _sources():
    return {p.relative_to(PACKAGE).as_posix(): p.read_text() for p in PACKAGE.rglob("*.py")}


def test_numba_cuda_only_under_kernels_cuda():
    users = []
    for name, src in _sources().items():
        for node in ast.walk(ast.parse(src)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) and node.module \
                else []
            if any(m.startswith("numba.cuda") for m in mods) and not name.startswith("kernels/cuda/"):
                users.append(name)
    assert users == []


def test_data_ranges_are_interpreted_in_one_module():
    """No module but conventions/data_range.py takes an integer dtype's range or a data span for L."""
    allowed = {"conventions/data_range.py",
               "conventions/transforms.py",  # rounds grey values back into the dtype (MATLAB's rgb2gray)
               "cli/loss_demo.py",  # scales a target image to [0, 1] for display, not a data range
               "report/load.py"}  # int64's max as a sentinel
    def uses(src):
        return any(isinstance(n, ast.Attribute) and n.attr in ("iinfo", "ptp") for n in ast.walk(ast.parse(src)))

    found = sorted(name for name, src in _sources().items() if uses(src) and name not in allowed)
    assert found == []


def test_one_list_of_backends():
    from fastssim import config
    from fastssim.batch import options
    from fastssim.cli.parser import build
    from fastssim.conventions import checks

    assert checks.BACKENDS is options.BACKENDS is config.BACKENDS
    _, subs = build()
    choices = next(a.choices for a in subs["score"]._actions if "--backend" in a.option_strings)
    assert tuple(choices) == config.BACKENDS
    literal = [name for name, src in _sources().items() if '("auto", "cpu", "cuda")' in src]
    assert literal == ["config.py"]
