"""The batch scorer through the real `fastssim` command: files in, Parquet out."""

import json
import os
import signal
import subprocess
import sys
import time

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import fastssim
from fastssim.batch.writer import ResultWriter


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "fastssim.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def make_pairs(root, n=6, size=48, seed=0, suffix=""):
    rng = np.random.default_rng(seed)
    for sub in ("ref", "dist"):
        os.makedirs(root / sub / "a", exist_ok=True)
    names = []
    for i in range(n):
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8) if i % 2 else \
            rng.integers(0, 256, (size, size), dtype=np.uint8)
        rel = os.path.join("a", f"im{i:04d}.png") if i % 3 == 0 else f"im{i:04d}.png"
        iio.imwrite(root / "ref" / rel, img)
        d, name = os.path.split(rel)
        stem, ext = os.path.splitext(name)
        dist = np.clip(img + rng.normal(0, 10 + i, img.shape), 0, 255).astype(np.uint8)
        iio.imwrite(root / "dist" / d / f"{stem}{suffix}{ext}", dist)
        names.append(rel)
    return names


def read_out(out):
    return pd.read_parquet(out).sort_values(["ref", "dist"]).reset_index(drop=True)


def test_score_two_trees(tmp_path):
    names = make_pairs(tmp_path)
    out = tmp_path / "out"
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    df = read_out(out)
    assert sorted(df.ref) == sorted(names) and (df.status == "ok").all() and df.error.isna().all()
    for row in df.itertuples():
        x = iio.imread(tmp_path / "ref" / row.ref)
        y = iio.imread(tmp_path / "dist" / row.dist)
        ca = -1 if x.ndim == 3 else None
        assert row.ssim == fastssim.ssim(x, y, channel_axis=ca)
        assert row.psnr == pytest.approx(fastssim.psnr(x, y), rel=1e-12)
        assert row.mse == pytest.approx(fastssim.mse(x, y), rel=1e-12)
        assert row.shape == "x".join(map(str, x.shape))
    # the same data through pyarrow's dataset reader; no hidden file is read
    assert ds.dataset(str(out), format="parquet").to_table().num_rows == len(names)
    # the run's parameters and the version are in the file metadata
    part = next(p for p in os.listdir(out) if p.endswith(".parquet"))
    meta = pq.read_schema(out / part).metadata
    assert meta[b"fastssim.version"].decode() == fastssim.__version__
    params = json.loads(meta[b"fastssim.params"])
    assert params["data_range"] == "dtype" and params["alpha"] == "drop"


def test_methods_suffix_unmatched_and_report(tmp_path):
    make_pairs(tmp_path / "a", suffix="_x4_SR")
    make_pairs(tmp_path / "b", suffix="_x4_SR", seed=1)
    os.rename(tmp_path / "a" / "ref", tmp_path / "ref")
    os.remove(tmp_path / "a" / "dist" / "im0001_x4_SR.png")           # a reference without its output
    iio.imwrite(tmp_path / "b" / "dist" / "extra_x4_SR.png", np.zeros((48, 48), np.uint8))  # an orphan
    out = tmp_path / "out"
    r = cli("score", tmp_path / "ref", "--dist", f"a={tmp_path / 'a' / 'dist'}",
            "--dist", f"b={tmp_path / 'b' / 'dist'}", "--suffix", "_x4_SR", "-o", out, "--quiet")
    assert r.returncode == 0, r.stderr
    assert "warning (a): 1 reference file(s) have no distorted counterpart, e.g. im0001.png" in r.stderr
    assert "warning (b): 1 distorted file(s) have no reference, e.g. extra_x4_SR.png" in r.stderr
    df = read_out(out)
    assert df.groupby("method").size().to_dict() == {"a": 5, "b": 6}
    assert set(df.dist.str.slice(-10)) == {"_x4_SR.png"}

    # by default both methods are compared on the 5 references both scored; b's extra pairs are named
    common = set(df[df.method == "a"].ref) & set(df[df.method == "b"].ref)
    assert len(common) == 5
    for flags, subset in (((), df[df.ref.isin(common)]), (("--all-pairs",), df)):
        csv = cli("report", out, "--format", "csv", "--stats", "n,mean,median,max", *flags)
        assert csv.returncode == 0, csv.stderr
        rep = pd.read_csv(pd.io.common.StringIO(csv.stdout)).set_index("method")
        for m, g in subset.groupby("method"):
            assert rep.loc[m, "pairs"] == (df.method == m).sum() and rep.loc[m, "error"] == 0
            assert rep.loc[m, "ssim_n"] == len(g)
            assert rep.loc[m, "ssim_mean"] == pytest.approx(g.ssim.mean(), rel=1e-12)
            assert rep.loc[m, "psnr_median"] == pytest.approx(g.psnr.median(), rel=1e-12)
            assert rep.loc[m, "mse_max"] == pytest.approx(g.mse.max(), rel=1e-12)
        if flags:
            assert "left out" not in csv.stderr
        else:
            assert "ssim: left out because another method lacks them: b 1" in csv.stderr
    md = cli("report", out, "--format", "markdown").stdout.splitlines()
    assert _cells(md[0])[:6] == ["method", "pairs", "ok", "partial", "error", "ssim_mean"]
    assert set(md[1]) <= set("|:-") and _cells(md[2])[:5] == ["a", "5", "5", "0", "0"]
    table = cli("report", out).stdout.splitlines()
    assert table[0].split() == ["method", "pairs", "ok", "partial", "error", "ssim_mean", "psnr_mean", "mse_mean"]
    assert set(table[1]) <= set("- ") and table[4] == ""  # header, rule, a, b, then the notes
    assert "methods compared on the pairs every method scored (per metric: ssim 5, psnr 5" in table[5]


def test_template_mapping(tmp_path):
    make_pairs(tmp_path, n=3, suffix="_SR")
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "--template", "{stem}_SR{ext}", "-o", tmp_path / "o", "--quiet")
    assert r.returncode == 0, r.stderr
    assert len(read_out(tmp_path / "o")) == 3


def test_bad_inputs_become_error_rows(tmp_path):
    ref, dist = tmp_path / "ref", tmp_path / "dist"
    make_pairs(tmp_path, n=2)
    img = np.random.default_rng(0).integers(0, 256, (40, 40), dtype=np.uint8)
    iio.imwrite(ref / "trunc.png", img)
    data = iio.imwrite("<bytes>", img, extension=".png")
    (dist / "trunc.png").write_bytes(data[: len(data) // 2])                 # truncated
    iio.imwrite(ref / "junk.png", img)
    (dist / "junk.png").write_bytes(b"this is not an image")                  # not an image
    iio.imwrite(ref / "shape.png", img)
    iio.imwrite(dist / "shape.png", img[:30])                                 # shape mismatch
    iio.imwrite(ref / "tiny.png", img[:5, :5])
    iio.imwrite(dist / "tiny.png", img[:5, :5])                               # smaller than the window
    iio.imwrite(ref / "big.png", np.zeros((300, 300), np.uint8))
    iio.imwrite(dist / "big.png", np.zeros((300, 300), np.uint8))             # over the pixel cap
    f = np.random.default_rng(1).random((40, 40))
    np.save(ref / "znan.npy", f)
    g = f.copy()
    g[3, 4] = np.nan
    np.save(dist / "znan.npy", g)                                             # NaN
    np.save(ref / "zfloat.npy", f)
    np.save(dist / "zfloat.npy", f)                                           # float without a range
    out = tmp_path / "out"
    r = cli("score", ref, dist, "-o", out, "--max-pixels", 50000, "--quiet")
    assert r.returncode == 1, r.stderr
    df = read_out(out).set_index("ref")
    assert len(df) == 9 and (df.loc[[os.path.join("a", "im0000.png"), "im0001.png"], "status"] == "ok").all()
    err = df[df.status == "error"].error.to_dict()
    assert sorted(err) == ["big.png", "junk.png", "shape.png", "trunc.png", "znan.npy"]
    assert "truncated PNG trunc.png: chunk b'IDAT' at byte 33 runs past the end" in err["trunc.png"]
    assert "junk.png is not a PNG file (no PNG signature)" in err["junk.png"]
    assert "shape mismatch: ref (40, 40), dist (30, 40)" in err["shape.png"]
    assert "big.png has 90000 pixels (300x300), over the cap of 50000" in err["big.png"]
    assert df.loc[df.status == "error", ["ssim", "psnr", "mse"]].isna().all().all()
    # every asked metric of an unreadable pair carries the reason
    assert (df.loc["junk.png", ["ssim_error", "psnr_error", "mse_error"]] == err["junk.png"]).all()
    assert df.loc["junk.png", ["ms_ssim_error", "dssim_error"]].isna().all()  # not asked
    # a metric that cannot be computed leaves the others: partial rows
    part = df[df.status == "partial"]
    assert sorted(part.index) == ["tiny.png", "zfloat.npy"]
    assert "win_size=11 exceeds the image extent (5, 5)" in part.loc["tiny.png", "ssim_error"]
    assert part.loc["tiny.png", "mse"] == fastssim.mse(img[:5, :5], img[:5, :5]) == 0.0
    assert part.loc["tiny.png", "psnr"] == np.inf and part.loc["tiny.png", "error"].startswith("ssim: win_size=11")
    assert "data_range is required for floating-point input" in part.loc["zfloat.npy", "ssim_error"]
    assert "data_range is required" in part.loc["zfloat.npy", "psnr_error"]
    assert part.loc["zfloat.npy", "mse"] == 0.0 and np.isnan(part.loc["zfloat.npy", "ssim"])
    assert "data_range is required" in df.loc["znan.npy", "ssim_error"]
    assert "contains NaN or Inf" in df.loc["znan.npy", "mse_error"]
    # with a data range, the NaN is named
    r = cli("score", ref, dist, "-o", tmp_path / "o2", "--data-range", 1, "--quiet")
    df2 = read_out(tmp_path / "o2").set_index("ref")
    assert "y contains NaN or Inf (first at index (3, 4))" in df2.loc["znan.npy", "ssim_error"]
    assert df2.loc["zfloat.npy", "status"] == "ok" and df2.loc["zfloat.npy", "ssim"] == 1.0
    assert df2.loc["zfloat.npy", "data_range"] == 1.0 and df2.loc["im0001.png", "data_range"] == 1.0


def test_manifest_and_traversal(tmp_path):
    names = make_pairs(tmp_path, n=3)
    outside = tmp_path.parent / f"{tmp_path.name}-outside.png"
    iio.imwrite(outside, np.zeros((32, 32), np.uint8))
    os.symlink(outside, tmp_path / "link.png")
    rows = [{"ref": f"ref/{n}", "dist": f"dist/{n}", "method": "m"} for n in names]
    rows += [{"ref": "ref/../../x.png", "dist": "dist/im0001.png", "method": "m"},
             {"ref": str(outside), "dist": "dist/im0001.png", "method": "m"},
             {"ref": "link.png", "dist": "dist/im0001.png", "method": "m"}]
    pd.DataFrame(rows).to_csv(tmp_path / "pairs.csv", index=False)
    out = tmp_path / "out"
    r = cli("score", "--manifest", tmp_path / "pairs.csv", "--root", tmp_path, "-o", out, "--quiet")
    assert r.returncode == 1, r.stderr
    df = read_out(out)
    assert len(df) == 6 and (df.status == "ok").sum() == 3
    errs = sorted(df[df.status == "error"].error)
    assert any("escapes the root with '..'" in e for e in errs)
    assert any("absolute path" in e for e in errs)
    assert any("resolves outside the root (symlink)" in e for e in errs)
    # a Parquet manifest works the same
    pd.DataFrame(rows[:3]).to_parquet(tmp_path / "pairs.parquet")
    r = cli("score", "--manifest", tmp_path / "pairs.parquet", "--root", tmp_path, "-o", tmp_path / "o2", "--quiet")
    assert r.returncode == 0 and len(read_out(tmp_path / "o2")) == 3


def test_kill_9_then_resume_is_exactly_once(tmp_path):
    names = make_pairs(tmp_path, n=400, size=32)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "fastssim.cli", "score", str(tmp_path / "ref"), str(tmp_path / "dist"),
           "-o", str(out), "--part-rows", "7", "--quiet", "--workers", "2"]
    for _ in range(2):  # kill twice, at different points
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            parts = [p for p in os.listdir(out)] if out.exists() else []
            if len([p for p in parts if p.startswith("part-")]) >= (3 if _ == 0 else 30):
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        committed = read_out(out)  # every visible part is complete and readable
        assert 0 < len(committed) < 400
        assert not committed.duplicated(["ref", "dist"]).any()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    df = read_out(out)
    assert len(df) == 400 and sorted(df.ref) == sorted(names)
    assert not df.duplicated(["ref", "dist"]).any()
    assert not [p for p in os.listdir(out) if p.endswith(".tmp")]
    # a further run has nothing to do
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out)
    assert r.returncode == 0 and "0 pairs scored, 400 already done" in r.stderr
    assert len(read_out(out)) == 400


def test_concurrent_run_refused_and_params_mismatch(tmp_path):
    make_pairs(tmp_path, n=2)
    out = tmp_path / "out"
    with ResultWriter(str(out), {"x": 1}):
        r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out, "--quiet")
    assert r.returncode == 2 and "is in use by another fastssim run" in r.stderr
    assert cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out, "--quiet").returncode == 0
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out, "--data-range", 100, "--quiet")
    assert r.returncode == 2 and "holds results made with other parameters (data_range)" in r.stderr
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out, "--data-range", 100, "--overwrite", "--quiet")
    assert r.returncode == 0 and len(read_out(out)) == 2


def test_volumes_npy_tiff_and_slices(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "ref").mkdir()
    (tmp_path / "dist").mkdir()
    vol = rng.integers(0, 256, (14, 24, 20), dtype=np.uint8)
    noisy = np.clip(vol + rng.normal(0, 20, vol.shape), 0, 255).astype(np.uint8)
    np.save(tmp_path / "ref" / "v.npy", vol)
    np.save(tmp_path / "dist" / "v.npy", noisy)
    np.savez(tmp_path / "ref" / "z.npz", vol=vol)
    np.savez(tmp_path / "dist" / "z.npz", vol=noisy)
    iio.imwrite(tmp_path / "ref" / "t.tif", vol)
    iio.imwrite(tmp_path / "dist" / "t.tif", noisy)
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", tmp_path / "o3", "--quiet")
    assert r.returncode == 0, r.stderr
    df = read_out(tmp_path / "o3")
    assert (df["shape"] == "14x24x20").all() and len(df) == 3 and (df.ssim == fastssim.ssim(vol, noisy)).all()
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", tmp_path / "o2", "--slices", 0, "--quiet")
    assert r.returncode == 0, r.stderr
    df = read_out(tmp_path / "o2")
    expected = fastssim.ssim_slices(vol, noisy, axis=0)
    for row in df.itertuples():
        np.testing.assert_array_equal(row.ssim_slices, expected)
        assert row.ssim == pytest.approx(expected.mean(), abs=1e-15)


def test_alpha_policies_and_palette(tmp_path):
    from PIL import Image
    rng = np.random.default_rng(0)
    for sub in ("ref", "dist"):
        (tmp_path / sub).mkdir()
    rgba = rng.integers(0, 256, (32, 32, 4), dtype=np.uint8)
    rgba2 = rgba.copy()
    rgba2[..., 3] = 0
    iio.imwrite(tmp_path / "ref" / "a.png", rgba)
    iio.imwrite(tmp_path / "dist" / "a.png", rgba2)
    pal = Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).convert("P")
    pal.save(tmp_path / "ref" / "p.png")
    pal.save(tmp_path / "dist" / "p.png")
    for policy, status, value in (("drop", "ok", 1.0), ("error", "error", None)):
        out = tmp_path / policy
        cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out, "--alpha", policy, "--quiet")
        df = read_out(out).set_index("ref")
        assert df.loc["a.png", "status"] == status
        if value is not None:
            assert df.loc["a.png", "ssim"] == value
        assert df.loc["p.png", "status"] == "ok" and df.loc["p.png", "shape"] == "32x32x3"
    df = read_out(tmp_path / "error").set_index("ref")
    assert "has an alpha channel; choose --alpha drop or keep" in df.loc["a.png", "error"]
    cli("score", tmp_path / "ref", tmp_path / "dist", "-o", tmp_path / "keep", "--alpha", "keep", "--quiet")
    keep = read_out(tmp_path / "keep").set_index("ref")
    assert keep.loc["a.png", "ssim"] == pytest.approx(fastssim.ssim(rgba, rgba2, channel_axis=-1), abs=1e-15)
    assert keep.loc["a.png", "shape"] == "32x32x4"


def test_usage_errors(tmp_path):
    assert cli("score", "-o", tmp_path / "o").returncode == 2
    r = cli("score", tmp_path / "missing", tmp_path / "also", "-o", tmp_path / "o")
    assert r.returncode == 2 and f"no such file or directory: {tmp_path / 'missing'}" in r.stderr
    (tmp_path / "a.png").write_bytes(b"")  # a path that exists is not "missing", whatever else is wrong
    r = cli("score", tmp_path / "a.png", tmp_path / "missing.png", "--json")
    assert r.returncode == 2 and f"no such file or directory: {tmp_path / 'missing.png'}" in r.stderr
    r = cli("score", tmp_path, "--dist", "nodir", "-o", tmp_path / "o")
    assert r.returncode == 2 and "--dist takes NAME=DIR" in r.stderr
    r = cli("score", tmp_path, tmp_path, "--suffix", "_a", "--template", "{stem}.png", "-o", tmp_path / "o")
    assert r.returncode == 2
    for cmd in ("score", "report", "demo"):
        h = cli(cmd, "--help")
        assert h.returncode == 0 and "examples:" in h.stdout


def _cells(line):
    """The cells of a Markdown table row."""
    assert line.startswith("|") and line.endswith("|"), line
    return [c.strip() for c in line[1:-1].split("|")]


def test_demo_runs_end_to_end(tmp_path):
    r = cli("demo", "--workdir", tmp_path, "--images", 4, "--format", "markdown")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert _cells(lines[0])[:6] == ["method", "pairs", "ok", "partial", "error", "ssim_mean"]
    assert [row.split("|")[1].strip() for row in lines[2:]] == ["blur", "jpeg", "noise"]
    assert all(row.split("|")[2].strip() == "7" and row.split("|")[3].strip() == "7" for row in lines[2:])
    df = pd.read_parquet(tmp_path / "scores")
    assert len(df) == 21 and (df.status == "ok").all() and df.ssim.between(0, 1).all()


def test_console_script_installed(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "fastssim")
    if not os.path.exists(exe):
        pytest.skip("fastssim is not installed in this environment (run `pip install -e .`)")
    r = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == f"fastssim {fastssim.__version__}"


def test_score_pairs_library(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (40, 40), dtype=np.uint8)
    b = np.clip(a + rng.normal(0, 9, a.shape), 0, 255).astype(np.uint8)
    batches = list(fastssim.score_pairs([(a, b), (a, a), (a, b[:30])], batch_size=2))
    table = __import__("pyarrow").Table.from_batches(batches).to_pandas().set_index("ref")
    assert len(batches) == 2 and len(table) == 3
    assert table.loc["0", "ssim"] == fastssim.ssim(a, b) and table.loc["1", "ssim"] == 1.0
    assert table.loc["2", "status"] == "error" and "shape mismatch" in table.loc["2", "error"]
    iio.imwrite(tmp_path / "a.png", a)
    iio.imwrite(tmp_path / "b.png", b)
    summary = fastssim.score_dataset([(tmp_path / "a.png", tmp_path / "b.png")], tmp_path / "o")
    assert {k: summary[k] for k in ("scored", "skipped", "errors", "rows", "duplicates", "interrupted")} == \
        {"scored": 1, "skipped": 0, "errors": 0, "rows": 1, "duplicates": 0, "interrupted": False}
    assert pd.read_parquet(tmp_path / "o").ssim.iloc[0] == fastssim.ssim(a, b)
    # the old spelling, score_pairs(out=), still writes (and resumes) the same output, with a warning
    with pytest.warns(DeprecationWarning, match=r"call score_dataset\(pairs, out, ...\) instead"):
        again = fastssim.score_pairs([(tmp_path / "a.png", tmp_path / "b.png")], out=str(tmp_path / "o"))
    assert again["skipped"] == 1 and again["scored"] == 0
    with pytest.raises(fastssim.ConfigError, match="score_dataset needs pairs of file paths"):
        fastssim.score_dataset([(a, b)], tmp_path / "o2")


def test_metrics_preset_and_presets_command(tmp_path):
    rng = np.random.default_rng(5)
    for sub in ("ref", "dist"):
        (tmp_path / sub).mkdir()
    img = np.tile(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8), (8, 8, 1))  # 192 x 192 RGB
    noisy = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
    iio.imwrite(tmp_path / "ref" / "a.png", img)
    iio.imwrite(tmp_path / "dist" / "a.png", noisy)
    out = tmp_path / "out"
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out, "--quiet", "--preset", "BasicSR",
            "--crop-border", "4", "--metrics", "SSIM,ms_ssim,dssim,psnr")
    assert r.returncode == 2, r.stderr  # basicsr defines no MS-SSIM convention: refused before the run
    assert "preset 'basicsr' defines no MS-SSIM convention: drop ms_ssim" in r.stderr
    assert r.stderr.startswith("fastssim score: error: ") and not out.exists()
    out2 = tmp_path / "out2"
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out2, "--quiet", "--preset", "matlab",
            "--metrics", "ssim,ms_ssim,dssim,psnr")
    assert r.returncode == 0, r.stderr
    row = read_out(out2).iloc[0]
    assert row.ssim == fastssim.ssim(img, noisy, channel_axis=-1, preset="matlab")
    assert row.ms_ssim == fastssim.ms_ssim(img, noisy, channel_axis=-1, preset="matlab")
    assert row.dssim == pytest.approx((1 - row.ssim) / 2, abs=1e-15)
    assert np.isnan(row.mse)  # not asked for
    part = next(p for p in os.listdir(out2) if p.endswith(".parquet"))
    params = json.loads(pq.read_schema(out2 / part).metadata[b"fastssim.params"])
    assert params["preset"] == "matlab" and params["metrics"] == ["ssim", "ms_ssim", "psnr", "dssim"]
    rep = cli("report", out2, "--format", "csv", "--stats", "mean,max").stdout.splitlines()[0].split(",")
    assert "ms_ssim_mean" in rep and "dssim_max" in rep and "mse_mean" not in rep
    r = cli("presets")
    assert r.returncode == 0 and r.stdout.split()[0] == "wang" and "basicsr" in r.stdout
    assert cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out2, "--metrics", "ssim,lpips").returncode == 2


def test_map_png_and_npy(tmp_path):
    from images import grey, heavy_noise
    ref = grey()
    dist = heavy_noise(grey())
    iio.imwrite(tmp_path / "r.png", ref)
    iio.imwrite(tmp_path / "d.png", dist)
    r = cli("map", tmp_path / "r.png", tmp_path / "d.png", "-o", tmp_path / "m.png", "--npy", tmp_path / "m.npy")
    assert r.returncode == 0, r.stderr
    raw = np.load(tmp_path / "m.npy")
    np.testing.assert_array_equal(raw, fastssim.ssim_map(ref, dist))
    png = iio.imread(tmp_path / "m.png")[..., :3]
    assert png.ndim == 3 and png.shape[0] > 512 and png.shape[1] > 512
    assert len(np.unique(png.reshape(-1, 3), axis=0)) > 50  # a real heatmap, not a flat image
    # BMP is drawn by Pillow (matplotlib does not write it): the map is pasted pixel for pixel
    r = cli("map", tmp_path / "r.png", tmp_path / "d.png", "-o", tmp_path / "m.bmp")
    assert r.returncode == 0 and "(pillow)" in r.stderr
    body = iio.imread(tmp_path / "m.bmp")[28:28 + 512, :512]
    from fastssim.report.heatmap import colourise
    want = colourise(raw, min(0.0, raw.min()), 1.0).astype(int)
    assert np.abs(body.astype(int) - want).max() <= 1 and (body != want).mean() < 1e-4  # to rounding
    # a volume: the chosen slice of the 3-D map
    vol = np.stack([ref[:64, :64]] * 20)
    np.save(tmp_path / "v.npy", vol)
    np.save(tmp_path / "w.npy", np.stack([dist[:64, :64]] * 20))
    r = cli("map", tmp_path / "v.npy", tmp_path / "w.npy", "-o", tmp_path / "v.png", "--slice", 0, 7,
            "--npy", tmp_path / "v3.npy")
    assert r.returncode == 0, r.stderr
    assert np.load(tmp_path / "v3.npy").shape == (20, 64, 64)
    assert iio.imread(tmp_path / "v.png").shape[0] >= 256  # enlarged to be visible
    bad = cli("map", tmp_path / "r.png", tmp_path / "missing.png", "-o", tmp_path / "x.png")
    assert bad.returncode == 1 and "file not found" in bad.stderr


def test_a_cold_demo_compiles_its_two_kinds_of_kernels_in_helpers(tmp_path):
    """On an empty cache the demo compiles its colour-image and volume kernels in two helper
    processes while it writes the data (each scoring a small pair of its kind with ``fastssim
    score``), so its own scoring finds every kernel cached and compiles nothing (the scorer's
    compile notice stays silent), and the table is the same as when the scorer compiles them
    itself (``FASTSSIM_COMPILE_AHEAD=0``, where the notice appears: the check is not blind); the
    helpers' samples are removed."""
    tables = {}
    for ahead in ("1", "0"):
        tmp = tmp_path / f"tmp{ahead}"
        tmp.mkdir()
        env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / f"cache{ahead}"), FASTSSIM_COMPILE_AHEAD=ahead,
                   TMPDIR=str(tmp))
        r = subprocess.run([sys.executable, "-m", "fastssim.cli", "demo", "--images", "1"], capture_output=True,
                           text=True, timeout=300, env=env)
        assert r.returncode == 0, r.stderr
        tables[ahead] = r.stdout
        assert os.listdir(tmp) == []
        background = "compiling the kernels in the background" in r.stderr
        scorer = "compiling SSIM kernels for this kind of input" in r.stderr
        assert (background, scorer) == ((True, False) if ahead == "1" else (False, True)), r.stderr
    assert tables["1"] == tables["0"] and "noise" in tables["1"]


def test_an_interrupt_while_the_demo_writes_its_data_stops_its_helpers_at_once(tmp_path):
    """SIGINT to the demo alone (not its process group) while it writes 200 images and its helper
    processes compile: it exits with 130 at once (the helpers are stopped, not awaited), says that
    nothing was scored, and leaves no helper running and nothing in its temporary directory."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), TMPDIR=str(tmp))
    proc = subprocess.Popen([sys.executable, "-m", "fastssim.cli", "demo", "--images", "200"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any("fastssim-demo-samples-" in d for d in os.listdir(tmp)):
        time.sleep(0.05)  # the helpers have their samples: they are running
    assert any("fastssim-demo-samples-" in d for d in os.listdir(tmp)), "the helpers never started"
    time.sleep(0.5)
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.monotonic() - t < 3, err
    assert "stopped by SIGINT before anything was scored" in err
    assert _running_with(str(tmp)) == [] and os.listdir(tmp) == []


def _running_with(text):
    """The processes whose command line holds ``text`` (Linux's /proc)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text in f.read().decode(errors="replace"):
                    found.append(pid)
        except OSError:  # gone meanwhile
            continue
    return found
