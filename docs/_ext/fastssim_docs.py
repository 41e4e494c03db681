"""A Sphinx extension: the parts of the docs computed when they are built, into ``docs/_generated``.

- ``disagreement.md`` and two figures: every installed library's SSIM of one real pair beside the
  preset that reproduces it (``disagreement.py``; the build fails where they do not agree);
- ``loss-demo/progress.gif``: ``fastssim demo --loss`` on its built-in image, for the training guide;
- ``benchmarks.md``: one section per results file the benchmark scripts wrote in
  ``benchmarks/results/`` (the machine, versions, command and table of the last run of each);
- ``first_call_table.md``: the first-call table alone, for the performance guide, so that the
  guide quotes the last run rather than figures copied by hand.
"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DOCS = HERE.parent
RESULTS = DOCS.parent / "benchmarks" / "results"

#: the order of the benchmarks page; a results file not named here comes after, by name
ORDER = ["test_cpu_ssim", "test_under_load", "first_call", "test_dropins", "test_cpu_gradient", "test_native_peers",
         "test_presets"]


def benchmarks_markdown(directory=RESULTS):
    files = sorted(Path(directory).glob("*.json"),
                   key=lambda p: (ORDER.index(p.stem) if p.stem in ORDER else len(ORDER), p.stem))
    if not files:
        raise RuntimeError(f"no benchmark results in {directory}: run a benchmark script (see its docstring)")
    parts = []
    for path in files:
        r = json.loads(path.read_text())
        m = r["machine"]
        versions = ", ".join(f"{k} {v}" for k, v in r["versions"].items())
        layer = f", Numba threading layer {m['threading_layer']}" if m.get("threading_layer") else ""
        parts.append("\n".join([
            f"## {r['title']}", "",
            f"```bash\n{r['command']}\n```", "",
            f"Run {r['date']} at commit {r['commit'] or 'unknown'}, on {m['cpu']} ({m['cores']} cores{layer}), "
            f"{m['system']}, Python {m['python']}; {versions}.", "",
            r["notes"], "",
            r["table"], "",
        ]))
    return "\n".join(parts)


def generate(app):
    out = DOCS / "_generated"
    out.mkdir(exist_ok=True)
    _write(out / "benchmarks.md", benchmarks_markdown())
    _write(out / "first_call_table.md", json.loads((RESULTS / "first_call.json").read_text())["table"] + "\n")
    import disagreement

    records = disagreement.compute()
    _write(out / "disagreement.md", disagreement.markdown(records))
    disagreement.figures(records, out)
    _loss_demo(out / "loss-demo")


def _loss_demo(workdir):
    """The GIF ``fastssim demo --loss`` writes (noise optimised towards the built-in image by SSIM's
    gradient), and the SSIM it reached, for the training guide."""
    from fastssim.cli import loss_demo

    reached, steps, value, gif = loss_demo.run(loss_demo.builtin_target(), str(workdir), out=lambda line: None)
    if not reached:
        raise RuntimeError(f"the loss demo did not reach its goal: SSIM {value:.4f} after {steps} steps")
    _write(workdir / "result.md", f"The demo reached SSIM {value:.3f} at step {steps}.\n")


def _write(path, text):
    if not path.exists() or path.read_text() != text:  # unchanged files keep Sphinx's cache valid
        path.write_text(text)


def setup(app):
    app.connect("builder-inited", generate)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
