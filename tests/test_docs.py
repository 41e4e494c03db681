"""The documentation is checked like code: the Sphinx build (gallery examples executed, the
disagreement page computed) passes with warnings as errors, every internal link of the built
pages resolves, and the code blocks of the guides run.

A guide's ```python and ```bash blocks run in order, in one fresh directory per page (the bash
ones through ``bash -e``), each Python block in the namespace the page's earlier ones built. A
block whose first line is ``# not run: REASON`` is shown only (an illustration with paths that do
not exist); ``# needs: a, b`` names the modules without which the page's blocks are skipped,
saying so.
"""

import html.parser
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
PAGES = sorted(p for p in DOCS.rglob("*.md") if not {"_build", "_generated"} & set(p.relative_to(DOCS).parts))
FENCE = re.compile(r"^```(python|bash)\n(.*?)^```", re.S | re.M)


def blocks(page):
    """The (language, code) of every fenced python or bash block of a page, in order."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(page.read_text())]


def test_the_pages_have_runnable_blocks_and_every_skip_says_why():
    """The harness finds the blocks (a broken pattern would pass every page), and a block that is
    not run says why."""
    found = {p.name: blocks(p) for p in PAGES}
    assert sum(len(b) for b in found.values()) >= 30, found.keys()
    for name, bs in found.items():
        for _, code in bs:
            first = code.splitlines()[0] if code.strip() else ""
            if first.startswith("# not run"):
                assert re.match(r"# not run: \S", first), (name, first)


RUNNER = r"""
import os, subprocess, sys
blocks = {blocks!r}
namespace = {{"__name__": "__main__"}}
for i, (lang, code) in enumerate(blocks):
    print(f"--- block {{i}} ({{lang}})", flush=True)
    if lang == "python":
        exec(compile(code, f"<block {{i}}>", "exec"), namespace)
    else:
        subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], check=True)
"""


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: str(p.relative_to(DOCS)))
def test_code_blocks_of_the_page_run(page, tmp_path):
    runnable = [(lang, code) for lang, code in blocks(page) if not code.startswith("# not run")]
    needs = set()
    for _, code in runnable:
        m = re.match(r"# needs: (.+)", code)
        if m:
            needs |= {n.strip() for n in m.group(1).split(",")}
    missing = sorted(n for n in needs if importlib.util.find_spec(n) is None)
    if missing:
        pytest.skip(f"{page.name} needs {', '.join(missing)}, not installed here")
    if not runnable:
        pytest.skip(f"{page.name} has no block to run")
    env = dict(os.environ, MPLBACKEND="Agg", FASTSSIM_PROGRESS_EVERY="3600",
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    script = tmp_path / "run_page.py"
    script.write_text(RUNNER.format(blocks=runnable))
    work = tmp_path / "work"
    work.mkdir()
    out = subprocess.run([sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, f"{page.name}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"


class _Links(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        for key in ("href", "src"):
            if a.get(key) and tag in ("a", "img", "link", "script"):
                self.links.append(a[key])


def broken_links(html_dir):
    """Internal links of the built pages whose file or anchor does not exist."""
    html_dir = Path(html_dir).resolve()
    parsed = {}
    for page in html_dir.rglob("*.html"):
        if {"_static", "_sources"} & set(page.relative_to(html_dir).parts):
            continue  # the theme's templates and the pages' sources, not pages
        p = _Links()
        p.feed(page.read_text(errors="replace"))
        parsed[page] = p
    broken = []
    for page, p in parsed.items():
        for link in p.links:
            url = urlparse(link)
            if url.scheme or link.startswith(("//", "mailto:", "javascript:")):
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if url.path.endswith("/") or target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{page.relative_to(html_dir)}: {link} (no such file)")
            elif url.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else set()
                if url.fragment not in ids:
                    broken.append(f"{page.relative_to(html_dir)}: {link} (no such anchor)")
    return sorted(broken)


def test_docs_build_without_warnings_and_every_internal_link_resolves(tmp_path):
    for module in ("sphinx", "numpydoc", "sphinx_gallery", "sphinxarg", "myst_parser", "pydata_sphinx_theme"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed: pip install -e '.[docs]' to build the docs")
    out = tmp_path / "html"
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          "-d", str(tmp_path / "doctrees"), str(DOCS), str(out)],
                         capture_output=True, text=True, timeout=1200,
                         env=dict(os.environ, MPLBACKEND="Agg"))
    assert run.returncode == 0, run.stderr[-5000:]
    for page in ("index.html", "disagreement.html", "reference/api.html", "reference/cli.html",
                 "benchmarks.html", "auto_examples/index.html", "reference/generated/fastssim.ssim.html"):
        assert (out / page).exists(), page
    assert broken_links(out) == []
    # the computed parts are there: the disagreement table's numbers and a benchmark table
    text = (out / "disagreement.html").read_text()
    assert "preset=&quot;skimage&quot;" in text and re.search(r"0\.8\d{5}", text)
    assert "fastssim speed-up" in (out / "benchmarks.html").read_text()


def test_the_link_checker_finds_a_broken_link_and_a_missing_anchor(tmp_path):
    (tmp_path / "a.html").write_text('<a href="b.html#there">b</a> <a href="c.html">c</a> <p id="here"></p>')
    (tmp_path / "b.html").write_text('<a href="a.html#here">a</a> <a href="a.html#gone">a</a>')
    assert broken_links(tmp_path) == ["a.html: b.html#there (no such anchor)", "a.html: c.html (no such file)",
                                      "b.html: a.html#gone (no such anchor)"]
