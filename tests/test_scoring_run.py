"""A scoring run users can trust: per-metric results, mistakes refused before the run, finding
pairs, data ranges, feedback, through the real command (subprocess) and the API."""

import fcntl
import json
import os
import pty
import struct
import subprocess
import sys
import termios

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy import ndimage

import fastssim
from fastssim.batch.writer import LOCK_NAME, stored_warnings
from images import DISTORTIONS, camera, colour, need

METHODS = ("blur", "jpeg", "noise")


def cli(*args, timeout=300, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "fastssim.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=cwd)


def read_out(out):
    return pd.read_parquet(out).sort_values(["method", "ref"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def sr_benchmark(tmp_path_factory):
    """A super-resolution-style benchmark from real images: 3 methods x 12 crops of the camera
    and lena images, 4 of them smaller than MS-SSIM's 161 px; one unreadable output."""
    root = tmp_path_factory.mktemp("sr")
    cam, lena = camera(), colour()
    crops = {}
    for i in range(12):
        size = 128 if i % 3 == 0 else 192          # 128 < 161: no MS-SSIM
        src = lena if i % 2 else cam
        y0, x0 = 20 * i, 15 * i
        crops[f"img{i:02d}.png"] = np.ascontiguousarray(src[y0:y0 + size, x0:x0 + size])
    for name, img in crops.items():
        os.makedirs(root / "hr", exist_ok=True)
        iio.imwrite(root / "hr" / name, img)
        for m in METHODS:
            os.makedirs(root / m, exist_ok=True)
            ca = -1 if img.ndim == 3 else None
            iio.imwrite(root / m / name.replace(".png", "_x4_SR.png"), DISTORTIONS[m](img, ca))
    (root / "noise" / "img05_x4_SR.png").write_bytes(b"not a png at all")  # one unreadable output
    return root, crops


def _sr_args(root, out, *extra):
    return ["score", root / "hr", *[f"--dist={m}={root / m}" for m in METHODS], "--suffix", "_x4_SR",
            "-o", out, "--metrics", "ssim,psnr,ms_ssim", *extra]


def test_one_failing_metric_keeps_the_others(sr_benchmark, tmp_path):
    root, crops = sr_benchmark
    out = tmp_path / "out"
    r = cli(*_sr_args(root, out, "--quiet"))
    assert r.returncode == 1, r.stderr
    df = read_out(out)
    assert len(df) == 36
    for row in df.itertuples():
        name = row.ref
        if row.method == "noise" and name == "img05.png":
            assert row.status == "error" and "img05_x4_SR.png is not a PNG file" in row.error
            assert all(getattr(row, f"{m}_error") == row.error for m in ("ssim", "psnr", "ms_ssim"))
            assert pd.isna(row.mse_error) and pd.isna(row.dssim_error)  # not asked for
            continue
        x = crops[name]
        y = iio.imread(root / row.method / name.replace(".png", "_x4_SR.png"))
        ca = -1 if x.ndim == 3 else None
        assert row.ssim == fastssim.ssim(x, y, channel_axis=ca)
        assert row.psnr == fastssim.psnr(x, y)
        assert row.data_range == 255.0
        if x.shape[0] < 161:
            assert row.status == "partial" and np.isnan(row.ms_ssim)
            assert "MS-SSIM with 5 scales and win_size=11 needs every spatial axis to be at least 161" in row.ms_ssim_error
            assert row.error == "ms_ssim: " + row.ms_ssim_error and pd.isna(row.ssim_error)
        else:
            assert row.status == "ok" and pd.isna(row.error)
            assert row.ms_ssim == fastssim.ms_ssim(x, y, channel_axis=ca)


def test_report_compares_methods_on_common_pairs(sr_benchmark, tmp_path):
    root, crops = sr_benchmark
    out = tmp_path / "out"
    cli(*_sr_args(root, out, "--quiet"))
    df = read_out(out)
    r = cli("report", out, "--format", "json", "--stats", "n,mean,std")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    by = {row["method"]: row for row in rep["methods"]}
    small = {n for n, im in crops.items() if im.shape[0] < 161}
    # ssim/psnr: every method has them except noise's unreadable img05; ms_ssim: the large crops
    common = {"ssim": set(crops) - {"img05.png"}, "psnr": set(crops) - {"img05.png"},
              "ms_ssim": set(crops) - small - {"img05.png"}}
    assert rep["compared_on"] == {m: len(v) for m, v in common.items()} == {"ssim": 11, "psnr": 11, "ms_ssim": 7}
    for m in METHODS:
        g = df[df.method == m]
        assert (by[m]["pairs"], by[m]["ok"], by[m]["partial"], by[m]["error"]) == (
            12, (g.status == "ok").sum(), (g.status == "partial").sum(), (g.status == "error").sum())
        for metric, keys in common.items():
            v = g[g.ref.isin(keys)][metric]
            assert by[m][f"{metric}_n"] == len(keys)
            assert by[m][f"{metric}_mean"] == pytest.approx(v.mean(), rel=1e-12)
            assert by[m][f"{metric}_std"] == pytest.approx(v.std(), rel=1e-12)
    # what each method lost, and why
    noise_ms = rep["lost"]["noise"]["ms_ssim"]
    assert noise_ms["not_computed"] == 5 and noise_ms["left_out_for_others"] == 0
    assert noise_ms["reasons"][0][1] == 4 and "needs every spatial axis to be at least 161" in noise_ms["reasons"][0][0]
    assert noise_ms["reasons"][1] == [df.loc[(df.method == "noise") & (df.ref == "img05.png"), "error"].item(), 1]
    assert rep["lost"]["blur"]["ssim"] == {"not_computed": 0, "reasons": [], "left_out_for_others": 1}
    # each method over its own pairs on request
    own = {row["method"]: row for row in json.loads(cli("report", out, "--format", "json", "--all-pairs",
                                                        "--stats", "n,mean").stdout)["methods"]}
    for m in METHODS:
        g = df[df.method == m]
        assert own[m]["ssim_n"] == g.ssim.notna().sum()
        assert own[m]["ssim_mean"] == pytest.approx(g.ssim.mean(), rel=1e-12)
    # the terminal table says the same in words
    text = cli("report", out).stdout
    assert "methods compared on the pairs every method scored (per metric: ssim 11, ms_ssim 7, psnr 11)" in text
    assert "ssim: left out because another method lacks them: blur 1" in text
    ms = [line for line in text.splitlines() if line.startswith("ms_ssim: ") and "not computed" in line]
    assert len(ms) == 1 and "(blur 4, jpeg 4, noise 5)" in ms[0] and "MS-SSIM with 5 scales" in ms[0], text
    assert "(x12)" in ms[0]  # one reason for every method and size, counted once
    assert max(len(line) for line in text.splitlines()[:4]) <= 80


def _tree(tmp_path, shape=(48, 48), dtype=np.uint8, n=2, ext=".png", seed=0):
    rng = np.random.default_rng(seed)
    for side in ("ref", "dist"):
        (tmp_path / side).mkdir(exist_ok=True)
    for i in range(n):
        a = rng.integers(0, 200, shape).astype(dtype)
        for side, arr in (("ref", a), ("dist", a + 3)):
            if ext == ".npy":
                np.save(tmp_path / side / f"p{i}.npy", arr)
            else:
                iio.imwrite(tmp_path / side / f"p{i}{ext}", arr)
    return tmp_path / "ref", tmp_path / "dist"


@pytest.mark.parametrize("extra, kind, msg", [
    (("--preset", "basicsr", "--metrics", "ms_ssim"), "png", "preset 'basicsr' defines no MS-SSIM convention"),
    (("--slices", "0"), "png", "--slices 0 scores volumes slice by slice, but p0.png is a 2-D image"),
    (("--slices", "7"), "png", "slices must be an axis of a volume (0, 1 or 2), got 7"),
    (("--crop-border", "24"), "png", "--crop-border 24 removes all of p0.png (spatial shape (48, 48))"),
    (("--metrics", "ssim,lpips"), "png", "--metrics: unknown metric(s) lpips; choose from ssim, ms_ssim"),
    (("--preset", "matlab2"), "png", "unknown preset 'matlab2'; choose one of wang, matlab"),
    (("--workers", "0"), "png", "--workers must be a positive integer, got 0"),
    (("--y-channel",), "png", "--y-channel needs RGB images, but p0.png has shape (48, 48)"),
    ((), "float", "p0.npy holds floating-point data (float64), which has no natural range: pass --data-range"),
    (("--data-range", "-3"), "png", "--data-range: data range must be a positive finite number"),
])
def test_configuration_refused_before_the_run(tmp_path, extra, kind, msg):
    ref, dist = _tree(tmp_path, dtype=np.float64, ext=".npy") if kind == "float" else _tree(tmp_path)
    out = tmp_path / "out"
    r = cli("score", ref, dist, "-o", out, *extra)
    assert r.returncode == 2, r.stderr
    assert msg in r.stderr and "Traceback" not in r.stderr
    assert r.stderr.startswith("fastssim score: error: ") or r.stderr.startswith("error: ")
    assert not out.exists()  # nothing written, no lock left behind


def test_names_any_case_and_first_pair_checks_pass(tmp_path):
    ref, dist = _tree(tmp_path, shape=(48, 48, 3))
    r = cli("score", ref, dist, "-o", tmp_path / "out", "--metrics", "SSIM,PSNR,MS-SSIM", "--preset", "Matlab",
            "--quiet")
    assert r.returncode == 0, r.stderr  # MS-SSIM is per pair: 48 px images are 'partial' (exit 1 with --strict)
    df = read_out(tmp_path / "out")
    assert (df.status == "partial").all() and df.ssim.notna().all() and df.ms_ssim.isna().all()
    assert not os.path.exists(tmp_path / "out" / LOCK_NAME) or os.path.getsize(tmp_path / "out" / LOCK_NAME) == 0


@pytest.mark.parametrize("case, msg", [
    ("no-root", "--root: not a directory"),
    ("no-manifest", "--manifest: no such file"),
    ("columns", "lacks column(s) ['dist']; it needs 'ref' and 'dist'"),
    ("root-without-manifest", "--root goes with --manifest"),
])
def test_manifest_mistakes_refused(tmp_path, case, msg):
    ref, dist = _tree(tmp_path)
    pd.DataFrame({"ref": ["ref/p0.png"], "dist": ["dist/p0.png"]}).to_csv(tmp_path / "ok.csv", index=False)
    pd.DataFrame({"ref": ["ref/p0.png"]}).to_csv(tmp_path / "cols.csv", index=False)
    args = {"no-root": ("--manifest", tmp_path / "ok.csv", "--root", tmp_path / "nowhere"),
            "no-manifest": ("--manifest", tmp_path / "missing.csv"),
            "columns": ("--manifest", tmp_path / "cols.csv"),
            "root-without-manifest": (ref, dist, "--root", tmp_path)}[case]
    r = cli("score", *args, "-o", tmp_path / "out")
    assert r.returncode == 2 and msg in r.stderr and r.stderr.startswith("fastssim score: error: "), r.stderr
    assert not (tmp_path / "out").exists()


def test_absolute_manifest_paths_inside_the_root(tmp_path):
    _tree(tmp_path, n=3)
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    outside.mkdir()
    iio.imwrite(outside / "x.png", np.zeros((48, 48), np.uint8))
    rows = [{"ref": str(tmp_path / "ref" / "p0.png"), "dist": str(tmp_path / "dist" / "p0.png")},
            {"ref": "ref/p1.png", "dist": str(tmp_path / "dist" / "p1.png")},
            {"ref": str(outside / "x.png"), "dist": "dist/p2.png"},
            {"ref": str(tmp_path / "ref" / ".." / "ref" / "p2.png"), "dist": "dist/p2.png"}]
    pd.DataFrame(rows).to_csv(tmp_path / "pairs.csv", index=False)
    r = cli("score", "--manifest", tmp_path / "pairs.csv", "--root", tmp_path, "-o", tmp_path / "out", "--quiet")
    assert r.returncode == 1, r.stderr
    df = pd.read_parquet(tmp_path / "out").set_index("ref")
    assert df.loc[str(tmp_path / "ref" / "p0.png"), "status"] == "ok"
    assert df.loc["ref/p1.png", "status"] == "ok"
    assert "is outside the root" in df.loc[str(outside / "x.png"), "error"]
    assert "escapes the root with '..'" in df.loc[rows[3]["ref"], "error"]


@pytest.mark.parametrize("dist_name, hint", [
    ("{stem}_x4_SR.png", "pass --suffix _x4_SR"),
    ("{stem}.jpg", "pass --template '{stem}.jpg'"),
    ("SR_{stem}.png", "pass --template 'SR_{stem}{ext}'"),
])
def test_near_matches_are_named(tmp_path, dist_name, hint):
    rng = np.random.default_rng(0)
    for d in ("ref", "dist"):
        (tmp_path / d).mkdir()
    for stem in ("baboon", "lena", "zebra"):
        img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        iio.imwrite(tmp_path / "ref" / f"{stem}.png", img)
        iio.imwrite(tmp_path / "dist" / dist_name.format(stem=stem), img)
    (tmp_path / "dist" / "anim.gif").write_bytes(b"\0" * 10)
    (tmp_path / "dist" / "vol.vtk").write_bytes(b"\0" * 10)
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", tmp_path / "out")
    assert r.returncode == 2 and "error: no pairs to score" in r.stderr
    assert f"hint: 3 of the unmatched reference files have a distorted file whose name differs in a regular way; " \
           f"to pair them, {hint}" in r.stderr
    assert "note: 2 file(s) not read for their extension: .gif (1), .vtk (1)" in r.stderr
    assert not (tmp_path / "out").exists()
    # and the hinted option pairs them all
    option = hint.split("pass ")[1].replace("'", "").split(" ", 1)
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", tmp_path / "out", *option, "--quiet")
    assert r.returncode == 0, r.stderr
    assert len(pd.read_parquet(tmp_path / "out")) == 3


def test_two_files_print_their_metrics(tmp_path, cam):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    dist = DISTORTIONS["jpeg"](cam)
    iio.imwrite(a, cam)
    iio.imwrite(b, dist)
    r = cli("score", a, b, "--metrics", "ssim,psnr,ms_ssim", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["ssim", f"{fastssim.ssim(cam, dist):.6g}", "ms_ssim", f"{fastssim.ms_ssim(cam, dist):.6g}",
                                "psnr", f"{fastssim.psnr(cam, dist):.6g}"]
    r = cli("score", a, b, "--json", "--data-range", "ref", cwd=tmp_path)
    got = json.loads(r.stdout)
    L = float(np.ptp(cam))
    assert got["status"] == "ok" and got["data_range"] == L and got["shape"] == "512x512"
    assert got["ssim"] == fastssim.ssim(cam, dist, data_range=L) and got["mse"] == fastssim.mse(cam, dist)
    assert sorted(os.listdir(tmp_path)) == ["a.png", "b.png"]  # nothing written
    # a pair too small for one metric: the others are printed, the reason too, exit 0 (1 with --strict)
    iio.imwrite(a, cam[:64, :64])
    iio.imwrite(b, dist[:64, :64])
    r = cli("score", a, b, "--metrics", "ssim,ms_ssim", "--json")
    got = json.loads(r.stdout)
    assert r.returncode == 0 and got["status"] == "partial" and got["ms_ssim"] is None
    assert cli("score", a, b, "--metrics", "ssim,ms_ssim", "--json", "--strict").returncode == 1
    assert got["ssim"] == fastssim.ssim(cam[:64, :64], dist[:64, :64]) and "at least 161" in got["ms_ssim_error"]
    r = cli("score", a, b, "-o", tmp_path / "o", "--quiet")  # one pair into -o: its row
    assert r.returncode == 0 and len(read_out(tmp_path / "o")) == 1


def test_data_range_rules_and_the_low_range_warning(tmp_path):
    rng = np.random.default_rng(3)
    for d in ("ref", "dist"):
        (tmp_path / d).mkdir()
    vols = {}
    for i in range(3):  # smooth 12-bit CT-like data in uint16, spanning 595-3695
        base = ndimage.gaussian_filter(rng.random((20, 40, 40)), 3)
        ref = (595 + 3100 * (base - base.min()) / np.ptp(base)).astype(np.uint16)
        dist = np.clip(ref + rng.normal(0, 80, ref.shape), 0, 4095).astype(np.uint16)
        np.save(tmp_path / "ref" / f"v{i}.npy", ref)
        np.save(tmp_path / "dist" / f"v{i}.npy", dist)
        vols[f"v{i}.npy"] = (ref, dist)
    r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", tmp_path / "o1")
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("warning: v0.npy (uint16) spans") == 1
    assert "of the dtype's range 65535 that SSIM and PSNR use by default" in r.stderr
    assert "warning: 3 pairs use a small part of their dtype's range" in r.stderr
    assert any("spans" in w for w in stored_warnings(tmp_path / "o1"))
    for rule in ("ref", "pair", "4095"):
        out = tmp_path / f"o-{rule}"
        r = cli("score", tmp_path / "ref", tmp_path / "dist", "-o", out, "--data-range", rule, "--quiet")
        assert r.returncode == 0 and "warning" not in r.stderr, r.stderr
        df = pd.read_parquet(out).set_index("ref")
        for name, (x, y) in vols.items():
            L = {"ref": float(np.ptp(x)), "pair": float(max(np.ptp(x), np.ptp(y))), "4095": 4095.0}[rule]
            assert df.loc[name, "data_range"] == L
            assert df.loc[name, "ssim"] == fastssim.ssim(x, y, data_range=L)
            assert df.loc[name, "psnr"] == fastssim.psnr(x, y, data_range=L)
        params = json.loads(pa.parquet.read_schema(next(out.glob("part-*.parquet"))).metadata[b"fastssim.params"])
        assert params["data_range"] == (4095.0 if rule == "4095" else rule)
    # the dtype's range hides the error: 0.998 against 0.89 with the data's own range
    assert pd.read_parquet(tmp_path / "o1").ssim.min() > 0.99 > 0.95 > pd.read_parquet(tmp_path / "o-ref").ssim.max()


def test_compiling_is_said_once_and_not_when_cached(tmp_path):
    ref, dist = _tree(tmp_path, shape=(40, 40), n=3)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    r = cli("score", ref, dist, "-o", tmp_path / "o1", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("compiling SSIM kernels") == 1
    r = cli("score", ref, dist, "-o", tmp_path / "o2", env=env)
    assert r.returncode == 0 and "compiling SSIM kernels" not in r.stderr, r.stderr


def test_progress_leaves_compiling_out_of_the_rate():
    import io
    import time

    from fastssim.batch.progress import CLOCK, Progress

    stream = io.StringIO()
    p = Progress(4, stream=stream, every=0.0)
    CLOCK.on_start()
    time.sleep(0.5)
    CLOCK.on_end()
    for _ in range(4):
        p.update({"status": "ok"})
    p.close()
    rate = float(stream.getvalue().splitlines()[-1].split(", ")[1].split()[0])
    assert rate > 4 / 0.5  # the 0.5 s of compiling is not counted


def test_terminal_progress_bar(tmp_path):
    ref, dist = _tree(tmp_path, n=30)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 72, 0, 0))  # a 72-column terminal
    proc = subprocess.Popen([sys.executable, "-m", "fastssim.cli", "score", ref, dist, "-o", tmp_path / "o"],
                            stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    assert proc.wait(timeout=120) == 0
    text = b"".join(chunks).decode()
    final = text.replace("\r\n", "\n").split("\r")[-1].splitlines()[0]
    assert "30/30" in final and "100%" in final and "pair/s" in final
    assert len(final) <= 72


def test_usage_errors_name_the_sub_command(tmp_path):
    for args, command in ((("report", tmp_path / "none"), "report"),
                          (("report", tmp_path, "--stats", "mode"), "report"),
                          (("map", "a.png", "b.png", "-o", "x.xyz"), "map"),
                          (("demo", "--images", "0"), "demo"),
                          (("score", "--json", tmp_path, tmp_path), "score"),
                          (("score", tmp_path, tmp_path, "--nope"), "score")):
        r = cli(*args)
        # one line saying what is wrong, then where the help is (as git and cargo do): no usage dump
        lines = r.stderr.splitlines()
        assert r.returncode == 2 and len(lines) == 2, (args, r.stderr)
        assert lines[0].startswith(f"fastssim {command}: error: ") and lines[1] == f"see 'fastssim {command} --help'"


def test_demo_cleans_up_and_fits_a_terminal(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = cli("demo", "--images", 3, env=dict(os.environ, TMPDIR=str(tmp)))
    assert r.returncode == 0, r.stderr
    assert os.listdir(tmp) == []
    assert max(map(len, r.stdout.splitlines())) <= 80
    assert "pass --workdir DIR to keep them" in r.stderr


def test_reading_hint_without_pandas(monkeypatch):
    import importlib.util

    from fastssim.cli.demo import _reading_hint

    assert "pandas.read_parquet" in _reading_hint("o")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pandas" else real(name, *a))
    assert _reading_hint("o").startswith("read them with pyarrow.parquet.read_table('o')")


def test_map_uses_the_score_conventions(tmp_path, rgb_img):
    a, b = tmp_path / "hr.png", tmp_path / "sr.png"
    crop = rgb_img[:160, :200]
    dist = DISTORTIONS["blur"](crop, -1)
    iio.imwrite(a, crop)
    iio.imwrite(b, dist)
    expect = fastssim.ssim(crop, dist, channel_axis=-1, preset="basicsr", crop_border=4)
    out = tmp_path / "maps" / "m.jpg"  # a directory that does not exist yet, and JPEG
    r = cli("map", a, b, "-o", out, "--preset", "BasicSR", "--crop-border", 4)
    assert r.returncode == 0, r.stderr
    assert f"SSIM {expect:.4f} (preset basicsr, crop 4)" in r.stderr
    assert out.read_bytes()[:3] == b"\xff\xd8\xff"
    score = cli("score", a, b, "--preset", "basicsr", "--crop-border", 4, "--json")
    assert json.loads(score.stdout)["ssim"] == expect
    r = cli("map", a, b, "-o", tmp_path / "y.png", "--y-channel", "--crop-border", 4, "--data-range", 255)
    y = fastssim.ssim(crop, dist, channel_axis=-1, y_channel=True, crop_border=4, data_range=255)
    assert r.returncode == 0 and f"SSIM {y:.4f} (Gaussian 11, sigma 1.5, Y (BT.601), crop 4)" in r.stderr
    assert (tmp_path / "y.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_score_pairs_api_boundary(cam):
    dist = DISTORTIONS["noise"](cam)
    t = pa.Table.from_batches(list(fastssim.score_pairs([(cam, dist), (cam[:80, :80], dist[:80, :80])],
                                                        metrics="SSIM, ms_ssim"))).to_pandas()
    assert list(t.status) == ["ok", "partial"] and t.ssim[1] == fastssim.ssim(cam[:80, :80], dist[:80, :80])
    assert t.ms_ssim[0] == fastssim.ms_ssim(cam, dist) and "at least 161" in t.ms_ssim_error[1]
    with pytest.raises(fastssim.ConfigError, match="preset 'basicsr' defines no MS-SSIM"):
        fastssim.score_pairs([(cam, dist)], preset="basicsr", metrics=["ms_ssim"])
    with pytest.raises(fastssim.ConfigError, match="floating-point data"):  # at the call, before any row
        fastssim.score_pairs([(cam / 255.0, dist / 255.0)])
    t = pa.Table.from_batches(list(fastssim.score_pairs([(cam / 255.0, dist / 255.0)], data_range="pair")))
    assert t.column("data_range")[0].as_py() == pytest.approx(float(np.ptp(dist)) / 255.0)


def test_autograd_and_tensors_that_require_grad(cam):
    torch = need("torch")
    from fastssim.autograd import ssim

    x = torch.from_numpy(cam[None, None, :64, :64].copy())
    y = torch.from_numpy(DISTORTIONS["noise"](cam)[None, None, :64, :64].copy())
    v = ssim(x, y, data_range=255.0)
    assert v.dtype == torch.get_default_dtype()
    assert v.item() == pytest.approx(fastssim.ssim(cam[:64, :64], y.numpy()[0, 0]), rel=1e-6)
    xf = (x.double() / 255).requires_grad_()
    yf = (y.double() / 255).requires_grad_()
    assert fastssim.ssim(xf[0, 0], yf[0, 0], data_range=1.0) == fastssim.ssim(
        xf.detach().numpy()[0, 0], yf.detach().numpy()[0, 0], data_range=1.0)
    assert fastssim.psnr(xf, yf, data_range=1.0) == fastssim.psnr(xf.detach().numpy(), yf.detach().numpy(),
                                                                  data_range=1.0)
    assert fastssim.mse(xf, yf) == fastssim.mse(xf.detach().numpy(), yf.detach().numpy())
