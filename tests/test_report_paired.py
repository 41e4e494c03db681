"""`fastssim report --baseline`: paired statistics on real outputs of `fastssim score`, against
pandas and SciPy computations of the same numbers, a plain-loop bootstrap, and a coverage
simulation."""

import io
import json
import os
import re
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

from fastssim.report import paired
from images import DISTORTIONS, camera

stats = pytest.importorskip("scipy.stats")
CLI = [sys.executable, "-m", "fastssim.cli"]


def test_bootstrap_equals_a_plain_loop():
    d = np.random.default_rng(5).normal(0.01, 0.02, 37)
    lo, hi = paired.bootstrap_ci(d, resamples=3000, seed=11)
    rng = np.random.default_rng(11)
    means = [d[rng.integers(0, d.size, size=d.size)].mean() for _ in range(3000)]
    assert (lo, hi) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])), rel=1e-12)  # the same resamples


def test_bootstrap_interval_covers_the_true_difference_at_the_nominal_rate():
    rng = np.random.default_rng(2024)
    true, trials, hits = 0.3, 300, 0
    for t in range(trials):
        d = rng.normal(true, 1.0, 60)
        lo, hi = paired.bootstrap_ci(d, resamples=2000, seed=t)
        hits += lo <= true <= hi
    # 95% nominal; the percentile bootstrap runs slightly under at n = 60; 300 trials: +-2.5% is 2 s.d.
    assert 0.90 <= hits / trials <= 0.985


@pytest.mark.parametrize("kind", ["continuous", "ties", "zeros"])
def test_wilcoxon_equals_scipy_on_large_samples_and_their_subsets(kind):
    """Above 50 differences the p-value is computed by fastssim (no SciPy call); it must be
    SciPy's normal approximation, ties and zeros included, on the whole and on subsets."""
    rng = np.random.default_rng(7)
    d = rng.normal(0.02, 1.0, 4000)
    if kind != "continuous":
        d = np.round(d, 1)  # many ties
    if kind == "zeros":
        d[rng.random(d.size) < 0.2] = 0.0
    for sel in (np.ones(d.size, bool), rng.random(d.size) < 0.3, np.arange(d.size) % 7 == 0,
                np.arange(d.size) < 60, np.arange(d.size) < 40):  # the last: SciPy's exact/permutation test
        assert paired.wilcoxon_p(d[sel]) == pytest.approx(stats.wilcoxon(d[sel]).pvalue, rel=1e-12)
    assert paired.wilcoxon_p(-d) == pytest.approx(stats.wilcoxon(-d).pvalue, rel=1e-12)
    assert paired.wilcoxon_p(np.zeros(100)) == 1.0


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    """Three methods over two datasets of real crops; method 'c' loses 3 pairs (broken files)."""
    root = tmp_path_factory.mktemp("suite")
    cam = camera()
    strength = {"a": ("noise", None), "b": ("blur", None), "c": ("jpeg", None)}
    for ds, n in (("Set5", 5), ("Set14", 14)):
        for i in range(n):
            x = cam[11 * i + (0 if ds == "Set5" else 200):][:48, 17 * i:17 * i + 48]
            for sub in ("ref", "a", "b", "c"):
                os.makedirs(root / sub / ds, exist_ok=True)
            iio.imwrite(root / "ref" / ds / f"{i}.png", x)
            for m, (kind, _) in strength.items():
                y = DISTORTIONS[kind](x, None) if kind == "noise" else DISTORTIONS[kind](x)
                iio.imwrite(root / m / ds / f"{i}.png", y)
    for i in (1, 2, 3):
        (root / "c" / "Set14" / f"{i}.png").write_bytes(b"broken")
    out = root / "out"
    r = subprocess.run(CLI + ["score", str(root / "ref"), "--dist", f"a={root / 'a'}", "--dist", f"b={root / 'b'}",
                              "--dist", f"c={root / 'c'}", "-o", str(out), "--quiet", "--metrics", "ssim,psnr,mse"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr  # the broken files are error rows
    return out


def _pandas_diff(out, method, metric, dataset=None):
    df = pd.read_parquet(out)
    base = df[df.method == "a"].set_index("ref")[metric]
    other = df[df.method == method].set_index("ref")[metric]
    j = pd.concat([base.rename("b"), other.rename("o")], axis=1, join="inner").dropna().sort_index()
    if dataset is not None:
        j = j[j.index.str.startswith(dataset + "/")]
    return (j.o - j.b).to_numpy()


def test_command_against_pandas_and_scipy(scored):
    r = subprocess.run(CLI + ["report", str(scored), "--baseline", "a", "--format", "json", "--resamples", "2000",
                              "--seed", "3"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    assert "paired comparison against a" in got["comparison"] and "2000 resamples" in got["comparison"]
    rows = {(x["dataset"], x["method"], x["metric"]): x for x in got["rows"]}
    assert {k[0] for k in rows} == {"all", "Set5", "Set14"} and {k[1] for k in rows} == {"b", "c"}
    for (ds, method, metric), row in rows.items():
        d = _pandas_diff(scored, method, metric, None if ds == "all" else ds)
        assert row["n"] == d.size
        assert row["mean_diff"] == pytest.approx(d.mean(), rel=1e-12, abs=1e-15)
        assert row["p_wilcoxon"] == pytest.approx(stats.wilcoxon(d).pvalue, rel=1e-12)
        better = d > 0 if metric != "mse" else d < 0
        assert (row["wins"], row["ties"], row["losses"]) == (better.sum(), (d == 0).sum(), (~better & (d != 0)).sum())
        assert row["ci_low"] <= row["mean_diff"] <= row["ci_high"]
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(paired.bootstrap_ci(d, 2000, 3), rel=1e-12)
    assert rows[("all", "c", "ssim")]["n"] == 16 and rows[("all", "b", "ssim")]["n"] == 19  # c lost 3 pairs
    assert rows[("Set14", "c", "psnr")]["n"] == 11
    csv_out = subprocess.run(CLI + ["report", str(scored), "--baseline", "a", "--format", "csv", "--resamples", "500",
                                    "--metrics", "SSIM"], capture_output=True, text=True, timeout=300)
    table = pd.read_csv(io.StringIO(csv_out.stdout))
    assert set(table.metric) == {"ssim"} and len(table) == 6 and "paired comparison" in csv_out.stderr
    md = subprocess.run(CLI + ["report", str(scored), "--baseline", "a", "--format", "markdown", "--resamples", "500"],
                        capture_output=True, text=True, timeout=300).stdout
    assert [c.strip() for c in md.splitlines()[0].split("|")[1:5]] == ["dataset", "method", "metric", "n"]
    assert "- paired comparison against a" in md


def test_mistakes(scored, tmp_path, monkeypatch):
    r = subprocess.run(CLI + ["report", str(scored), "--baseline", "bicubic"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 2 and "baseline 'bicubic' is not a method" in r.stderr and "a, b, c" in r.stderr
    r = subprocess.run(CLI + ["report", str(scored), "--baseline", "a", "--resamples", "5"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2 and "--resamples must be at least 100" in r.stderr
    monkeypatch.setitem(sys.modules, "scipy.stats", None)  # as without fastssim[stats]
    with pytest.raises(ImportError, match=r"fastssim\[stats\]"):
        paired.compare(str(scored), "a", resamples=200)


def test_normal_interval_takes_over_where_it_matches_the_bootstrap():
    from fastssim import config as cfg

    n = cfg.BOOTSTRAP_MAX_PAIRS
    d = np.random.default_rng(8).gamma(2.0, 0.01, n) - 0.015  # skewed, like SSIM differences
    boot = paired.bootstrap_ci(d, resamples=2000, seed=1)
    norm = paired.normal_ci(d)
    width = boot[1] - boot[0]
    assert abs(boot[0] - norm[0]) < 0.03 * width and abs(boot[1] - norm[1]) < 0.03 * width
    assert paired._row("all", "m", "ssim", np.zeros(n + 1), d[:1].repeat(n + 1), 100, 0, 0.95)["ci_method"] == "normal"
    assert paired._row("all", "m", "ssim", np.zeros(n), d, 100, 0, 0.95)["ci_method"] == "bootstrap"


def _report(*args):
    r = subprocess.run(CLI + ["report", *map(str, args)], capture_output=True, text=True, timeout=300)
    return r


def test_dataset_table_against_pandas(scored):
    r = _report(scored, "--by-dataset", "--metrics", "psnr,ssim", "--format", "json")
    assert r.returncode == 0, r.stderr
    got = {(x["method"], x["dataset"], x["metric"]): x for x in json.loads(r.stdout)["rows"]}
    df = pd.read_parquet(scored)
    df["dataset"] = df.ref.str.split("/").str[0]
    for metric in ("psnr", "ssim"):
        wide = df.pivot(index="ref", columns="method", values=metric).dropna()  # pairs every method has
        wide["dataset"] = wide.index.str.split("/").str[0]
        for ds, part in list(wide.groupby("dataset")) + [("all", wide)]:
            means = part[["a", "b", "c"]].mean()
            for method in "abc":
                row = got[(method, ds, metric)]
                assert row["n"] == len(part) and row["mean"] == pytest.approx(means[method], rel=1e-12)
                assert row["best"] == (method == means.idxmax())
    md = _report(scored, "--by-dataset", "--format", "markdown").stdout
    assert [c.strip() for c in md.splitlines()[0].strip("|").split("|")] == [
        "method", "Set5 (PSNR / SSIM)", "Set14 (PSNR / SSIM)", "all (PSNR / SSIM)"]
    assert md.count("**") == 2 * 6  # one best per dataset (3) and metric (2)
    tex = _report(scored, "--by-dataset", "--format", "latex", "--metrics", "psnr,ssim,mse", "--precision",
                  "mse=1").stdout
    body = tex.replace(r"\{", "").replace(r"\}", "")
    assert body.count("{") == body.count("}")
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert tex.count(rule) == 1
    rows = [line for line in tex.splitlines() if line.endswith(r"\\")]
    assert len(rows) == 2 + 3 and all(line.count("&") == 3 for line in rows)
    assert r"\begin{tabular}{lccc}" in tex and tex.count(r"\textbf{") == 3 * 3
    assert any(line.startswith("a & ") and ".0 \\\\" not in line for line in rows)


def test_several_directories_are_joined_only_when_comparable(scored, tmp_path):
    root = scored.parent
    base = ["score", str(root / "ref"), "-o"]
    run = [subprocess.run(CLI + base + [str(tmp_path / "A"), "--dist", f"a={root / 'a'}", "--quiet"],
                          capture_output=True, text=True, timeout=300),
           subprocess.run(CLI + base + [str(tmp_path / "B"), "--dist", f"b={root / 'b'}", "--dist", f"c={root / 'c'}",
                                        "--quiet"], capture_output=True, text=True, timeout=300)]
    assert [r.returncode for r in run] == [0, 1]
    one = _report(scored, "--by-dataset", "--format", "json").stdout
    two = _report(tmp_path / "A", tmp_path / "B", "--by-dataset", "--format", "json").stdout
    assert json.loads(one) == json.loads(two)
    assert _report(tmp_path / "A", tmp_path / "B", "--baseline", "a", "--format", "json",
                   "--resamples", "300").returncode == 0
    subprocess.run(CLI + base + [str(tmp_path / "C"), "--dist", f"d={root / 'b'}", "--quiet", "--data-range", "255"],
                   capture_output=True, text=True, timeout=300)
    r = _report(tmp_path / "A", tmp_path / "C", "--by-dataset")
    assert r.returncode == 2 and "scored with other parameters" in r.stderr and "data_range" in r.stderr
    assert _report(tmp_path / "A", tmp_path / "C", "--by-dataset", "--mixed-params").returncode == 0
    r = _report(scored, tmp_path / "A", "--by-dataset")
    assert r.returncode == 2 and "pair(s) are in more than one of the directories" in r.stderr
    r = _report(scored, "--format", "latex")
    assert r.returncode == 2 and "--format latex is for the --by-dataset table" in r.stderr


_THREADS = """
import contextlib, io, json, os, sys, time
import numpy, pyarrow, pyarrow.parquet, scipy.stats  # their own (BLAS) threads start here, before the count
from fastssim.cli import main

def threads():
    return {t: open(f"/proc/self/task/{t}/comm").read().strip() for t in os.listdir("/proc/self/task")}

before = threads()
out = sys.argv[1]
with contextlib.redirect_stdout(io.StringIO()):
    codes = [main(["report", out, *extra]) for extra in ([], ["--by-dataset"], ["--baseline", "a"])]
for _ in range(40):  # a joined Python thread (the paired report's pool) may take a moment to exit
    started = sorted(n for t, n in threads().items() if t not in before and n != "jemalloc_bg_thd")
    if not started:
        break
    time.sleep(0.05)
print(json.dumps([codes, started]))
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="counts threads in /proc (Linux)")
def test_reading_results_leaves_no_arrow_thread_running(scored):
    """A report reads every part on its own thread: a thread of Arrow's pools still alive when a
    short command exits can abort it (SIGABRT, "terminate called without an active exception";
    seen once in CI on a report that ended on an error). pq.read_table's read-ahead left four, and
    Table.group_by's threaded plan three."""
    r = subprocess.run([sys.executable, "-c", _THREADS, str(scored)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    codes, started = json.loads(r.stdout)
    assert codes == [0, 0, 0] and started == []


def test_figures_are_written_with_their_axes(scored, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from fastssim.report import plots

    rows = paired.compare(str(scored), "a", metrics=["psnr", "ssim"], resamples=300)
    paths = plots.plot(str(scored), str(tmp_path / "figs"), metrics=("psnr", "ssim"), baseline="a",
                       paired_rows=rows)
    names = sorted(os.path.basename(p) for p in paths)
    assert names == sorted(f"{n}.{e}" for n in ("psnr_distribution", "ssim_distribution", "psnr_scatter_vs_a",
                                                 "ssim_scatter_vs_a", "paired_differences_vs_a")
                           for e in ("png", "svg"))

    def axes(name):
        svg = (tmp_path / "figs" / f"{name}.svg").read_text()
        return len(set(re.findall(r'id="axes_(\d+)"', svg)))

    assert axes("psnr_distribution") == 3  # Set5, Set14, all
    assert axes("ssim_scatter_vs_a") == 2  # b and c against a
    assert axes("paired_differences_vs_a") == 2  # one per metric
    png = iio.imread(tmp_path / "figs" / "psnr_distribution.png")
    assert png.shape[0] > 300 and png.std() > 10  # drawn, not blank
    r = _report(scored, "--baseline", "a", "--resamples", "300", "--metrics", "psnr,ssim", "--plot", tmp_path / "cli")
    assert r.returncode == 0 and "wrote 10 figure files" in r.stderr
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"fastssim\[plot\]"):
        plots.plot(str(scored), str(tmp_path / "x"))


def test_map_figure_with_matplotlib_and_without(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from fastssim.report import heatmap as render

    cam = camera()[:96, :128]
    smap = __import__("fastssim").ssim_map(cam, DISTORTIONS["jpeg"](cam))
    assert render.heatmap_image(smap, str(tmp_path / "m.svg"), "SSIM 0.9 of a crop") == "matplotlib"
    svg = (tmp_path / "m.svg").read_text()
    assert "<svg" in svg and len(set(re.findall(r'id="axes_(\d+)"', svg))) == 2  # the map and its colour bar
    assert render.heatmap_image(smap, str(tmp_path / "m.png"), "t") == "matplotlib"
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # without fastssim[plot]: Pillow draws it
    assert render.heatmap_image(smap, str(tmp_path / "p.png"), "t") == "pillow"
    assert not render.writable(str(tmp_path / "m.svg"))
    assert iio.imread(tmp_path / "p.png").shape[1] > 128 * 2


def test_group_by_a_column_or_nothing(scored):
    r = _report(scored, "--by-dataset", "--group-by", "shape", "--format", "json")
    rows = json.loads(r.stdout)["rows"]
    assert {x["dataset"] for x in rows} == {"48x48"} and {x["n"] for x in rows} == {16}  # c lost 3 of 19
    flat = json.loads(_report(scored, "--by-dataset", "--group-by", "none", "--format", "json").stdout)["rows"]
    per_dir = json.loads(_report(scored, "--by-dataset", "--format", "json").stdout)["rows"]
    assert [x["mean"] for x in flat] == [x["mean"] for x in per_dir if x["dataset"] == "all"]
    r = _report(scored, "--baseline", "a", "--group-by", "status", "--metrics", "ssim", "--resamples", "200")
    assert r.returncode == 2 and "differs between the rows of Set14/1.png" in r.stderr  # ok for a, error for c
    r = _report(scored, "--by-dataset", "--group-by", "nope")
    assert r.returncode == 2 and "cannot group by 'nope'" in r.stderr


def test_dataset_table_spread(scored):
    r = _report(scored, "--by-dataset", "--metrics", "ssim", "--stats", "median,std,ci", "--format", "json")
    assert r.returncode == 0, r.stderr
    got = {(x["method"], x["dataset"]): x for x in json.loads(r.stdout)["rows"]}
    df = pd.read_parquet(scored)
    wide = df.pivot(index="ref", columns="method", values="ssim").dropna().sort_index()
    part = wide[wide.index.str.startswith("Set14/")]
    for method in "abc":
        row = got[(method, "Set14")]
        assert row["median"] == pytest.approx(part[method].median(), rel=1e-12)
        assert row["std"] == pytest.approx(part[method].std(), rel=1e-12)
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(
            paired.bootstrap_ci(part[method].to_numpy(), 10_000, 0), rel=1e-12)
    md = _report(scored, "--by-dataset", "--stats", "mean,std", "--format", "markdown").stdout
    assert " ± " in md and "mean ± std PSNR / SSIM" in md
    r = _report(scored, "--by-dataset", "--stats", "mean,max")
    assert r.returncode == 2 and "mean or median, then std and/or ci" in r.stderr


def test_datasets_from_a_manifest_column(scored, tmp_path):
    """A manifest's 'dataset' column is stored with each row and is the report's default grouping
    (here it cuts across the directories); --group-by dir still groups by directory."""
    df = pd.read_parquet(scored)
    root = os.path.dirname(str(scored))
    manifest = tmp_path / "pairs.csv"
    rows = df[["method", "ref"]].copy()
    rows["dist"] = rows["method"] + "/" + rows["ref"]
    rows["ref"] = "ref/" + rows["ref"]
    rows["dataset"] = np.where(df["ref"].str.extract(r"(\d+)\.png$")[0].astype(int) % 2 == 0, "Even", "Odd")
    rows.to_csv(manifest, index=False)
    out = tmp_path / "out"
    r = subprocess.run(CLI + ["score", "--manifest", str(manifest), "--root", root, "-o", str(out), "--quiet",
                              "--metrics", "ssim,psnr"], capture_output=True, text=True, timeout=300)
    assert r.returncode in (0, 1), r.stderr  # 1: c's broken files are error rows
    stored = pd.read_parquet(out)
    assert dict(zip(stored["ref"], stored["dataset"])) == dict(zip(rows["ref"], rows["dataset"]))
    got = json.loads(_report(out, "--by-dataset", "--metrics", "ssim", "--format", "json").stdout)["rows"]
    assert {x["dataset"] for x in got} == {"Even", "Odd", "all"}
    wide = stored.pivot(index="ref", columns="method", values="ssim").dropna()
    odd = wide[[stored.set_index("ref")["dataset"].groupby(level=0).first()[r] == "Odd" for r in wide.index]]
    for x in got:
        if x["dataset"] == "Odd":
            assert x["n"] == len(odd) and x["mean"] == pytest.approx(odd[x["method"]].mean(), rel=1e-12)
    by_dir = json.loads(_report(out, "--by-dataset", "--group-by", "dir", "--format", "json").stdout)["rows"]
    assert {x["dataset"] for x in by_dir} == {"ref"}  # the manifest's paths all start with ref/
    # results without the column (the first fixture, scored from directories) group by directory
    plain = json.loads(_report(scored, "--by-dataset", "--format", "json").stdout)["rows"]
    assert {x["dataset"] for x in plain} == {"Set5", "Set14", "all"}
    pd.DataFrame({"ref": ["ref/Set5/0.png"], "dist": ["a/Set5/0.png"], "dataset": [3]}).to_parquet(tmp_path / "m.parquet")
    r = subprocess.run(CLI + ["score", "--manifest", str(tmp_path / "m.parquet"), "--root", root, "-o",
                              str(tmp_path / "o2"), "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "column 'dataset' holds int64, not text" in r.stderr
