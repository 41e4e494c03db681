"""CW-SSIM (complex-wavelet SSIM) against pyiqa's own implementation on real images, its
properties, its mistakes, and as a metric of the batch scorer and the report."""

import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

import fastssim
from images import camera, colour, jpeg, noise, need


def _pyiqa_cw_ssim():
    from test_presets_peers import _pyiqa_ssim_arch
    return _pyiqa_ssim_arch().CW_SSIM


@pytest.mark.parametrize("kind", ["shift", "noise", "jpeg", "flip"])
def test_equals_pyiqa_on_real_images(kind):
    torch = need("torch")
    CW = _pyiqa_cw_ssim()
    cam = camera()
    y = {"shift": np.roll(cam, 1, axis=1), "noise": noise(cam, 20.0), "jpeg": jpeg(cam, 10),
         "flip": cam[:, ::-1].copy()}[kind]
    X, Y = (torch.from_numpy(a.astype(np.float64)[None, None] / 255) for a in (cam, y))
    # pyiqa puts 1e-12 inside its magnitudes and builds its masks in float32: 1e-8 apart
    assert fastssim.cw_ssim(cam, y, preset="pyiqa") == pytest.approx(float(CW()(X, Y)), abs=1e-8)


def test_colour_through_pyiqa_y():
    torch = need("torch")
    CW = _pyiqa_cw_ssim()
    rgb = colour()
    moved = np.roll(rgb, 2, axis=0)
    X, Y = (torch.from_numpy(np.moveaxis(a, -1, 0)[None].astype(np.float32) / 255) for a in (rgb, moved))
    assert fastssim.cw_ssim(rgb, moved, channel_axis=-1, preset="pyiqa") == pytest.approx(float(CW()(X, Y)), abs=1e-8)
    # without the preset: every channel, then their mean
    per = [fastssim.cw_ssim(rgb[..., k], moved[..., k]) for k in range(3)]
    assert fastssim.cw_ssim(rgb, moved, channel_axis=-1) == pytest.approx(np.mean(per), abs=1e-14)


def test_properties():
    cam = camera().astype(np.float64)
    assert fastssim.cw_ssim(cam, cam) == pytest.approx(1.0, abs=1e-14)
    shifted = np.roll(cam, 2, axis=1)
    # what CW-SSIM is for: a small translation barely lowers it, where SSIM falls
    assert fastssim.cw_ssim(cam, shifted) > 0.99 > fastssim.ssim(cam, shifted, data_range=255)
    # with K = 0 it does not depend on the data's scale; with K > 0 it does
    assert fastssim.cw_ssim(cam / 255, shifted / 255) == pytest.approx(fastssim.cw_ssim(cam, shifted), abs=1e-12)
    assert fastssim.cw_ssim(cam / 255, shifted / 255, K=1e-3) != pytest.approx(
        fastssim.cw_ssim(cam, shifted, K=1e-3), abs=1e-6)
    # fewer levels look at finer bands, where a shift of 2 pixels matters more
    assert fastssim.cw_ssim(cam, shifted, levels=2) < fastssim.cw_ssim(cam, shifted, levels=4)
    torch = need("torch")
    assert fastssim.cw_ssim(torch.from_numpy(cam), torch.from_numpy(shifted)) == fastssim.cw_ssim(cam, shifted)


def test_mistakes():
    cam = camera()
    with pytest.raises(ValueError, match="4 pyramid levels need images of at least 64 pixels per side"):
        fastssim.cw_ssim(cam[:60, :80], cam[:60, :80])
    with pytest.raises(ValueError, match="cw_ssim takes 2-D images"):
        fastssim.cw_ssim(np.zeros((8, 64, 64)), np.zeros((8, 64, 64)))
    with pytest.raises(ValueError, match="levels must be an integer >= 1"):
        fastssim.cw_ssim(cam, cam, levels=0)
    with pytest.raises(ValueError, match="data_range is used only with preset='pyiqa'"):
        fastssim.cw_ssim(cam, cam, data_range=255)
    with pytest.raises(ValueError, match="guard=240 leaves no window"):
        fastssim.cw_ssim(cam, cam, guard=240)
    assert fastssim.cw_ssim(cam, jpeg(cam, 10), guard=200) != fastssim.cw_ssim(cam, jpeg(cam, 10))
    bad = cam.astype(np.float64)
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="x holds NaN or Inf"):
        fastssim.cw_ssim(bad, cam)
    flat = np.zeros((64, 64))
    with pytest.raises(ValueError, match="pass K > 0"):
        fastssim.cw_ssim(flat, flat)
    assert fastssim.cw_ssim(flat, flat, K=1e-6) == 1.0


def test_scored_and_reported(tmp_path):
    cam = camera()
    for sub in ("ref", "shift", "noisy"):
        (tmp_path / sub).mkdir()
    for i in range(3):
        x = cam[100 * i:100 * i + 96, 80 * i:80 * i + 112]
        iio.imwrite(tmp_path / "ref" / f"{i}.png", x)
        iio.imwrite(tmp_path / "shift" / f"{i}.png", np.roll(x, 1, axis=1))
        iio.imwrite(tmp_path / "noisy" / f"{i}.png", noise(x, 25, seed=i))
    small = cam[:40, :40]  # too small for 4 levels: an error entry for CW-SSIM only
    iio.imwrite(tmp_path / "ref" / "small.png", small)
    iio.imwrite(tmp_path / "shift" / "small.png", small)
    iio.imwrite(tmp_path / "noisy" / "small.png", small)
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "fastssim.cli"]
    r = subprocess.run(cli + ["score", str(tmp_path / "ref"), "--dist", f"shift={tmp_path / 'shift'}", "--dist",
                              f"noisy={tmp_path / 'noisy'}", "-o", str(out), "--metrics", "ssim,cw_ssim", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr  # the small pair's CW-SSIM is missing: a 'partial' row, exit 0
    df = pd.read_parquet(out)
    assert len(df) == 8
    for row in df.itertuples():
        x = iio.imread(tmp_path / "ref" / row.ref)
        y = iio.imread(tmp_path / row.method / row.dist)
        if row.ref == "small.png":
            assert row.status == "partial" and np.isnan(row.cw_ssim) and "64 pixels per side" in row.cw_ssim_error
            assert row.ssim == pytest.approx(fastssim.ssim(x, y), abs=1e-6)
        else:
            assert row.status == "ok" and row.cw_ssim == pytest.approx(fastssim.cw_ssim(x, y), abs=1e-12)
    got = json.loads(subprocess.run(cli + ["report", str(out), "--metrics", "cw_ssim", "--format", "json"],
                                    capture_output=True, text=True, timeout=300).stdout)
    means = {rec["method"]: rec["cw_ssim_mean"] for rec in got["methods"]}
    want = df[df.ref != "small.png"].groupby("method").cw_ssim.mean()
    assert means == pytest.approx(want.to_dict(), abs=1e-12)
    assert means["shift"] > means["noisy"]  # translation-tolerant
