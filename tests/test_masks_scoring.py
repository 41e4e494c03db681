"""Regions in a scored run: --mask DIR (and a manifest's 'mask' column), the masked columns read
back with pandas, equal to the API's masked scores, a missing mask kept as a reason, the report."""

import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

import fastssim
from images import DISTORTIONS, camera


def _tree(tmp_path):
    cam = camera()
    for sub in ("ref", "dist", "masks"):
        (tmp_path / sub).mkdir()
    data = {}
    for i in range(3):
        x = cam[120 * i:120 * i + 160, 100 * i:100 * i + 180]
        y = DISTORTIONS["jpeg"](x)
        m = np.zeros(x.shape, np.uint8)
        m[30 + 10 * i:110, 40:150 - 10 * i] = 255  # an inpainted hole, stored as a grey PNG
        iio.imwrite(tmp_path / "ref" / f"{i}.png", x)
        iio.imwrite(tmp_path / "dist" / f"{i}.png", y)
        if i < 2:  # the third has no mask file
            iio.imwrite(tmp_path / "masks" / f"{i}.png", m)
        data[f"{i}.png"] = (x, y, m > 0)
    return data


def test_mask_dir(tmp_path):
    data = _tree(tmp_path)
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "fastssim.cli"]
    r = subprocess.run(cli + ["score", str(tmp_path / "ref"), str(tmp_path / "dist"), "-o", str(out), "--mask",
                              str(tmp_path / "masks"), "--metrics", "ssim,psnr,mse", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr  # one pair's region could not be scored: a 'partial' row, exit 0
    df = pd.read_parquet(out).set_index("ref")
    for name, (x, y, m) in data.items():
        row = df.loc[name]
        assert row.ssim == pytest.approx(fastssim.ssim(x, y), abs=1e-6)  # the whole image as before
        if name == "2.png":
            assert row.status == "partial" and "mask: file not found" in row.ssim_masked_error
            assert "ssim_masked: mask: file not found" in row.error
            assert np.isnan(row.ssim_masked)
            continue
        assert row.status == "ok"
        assert row.ssim_masked == pytest.approx(fastssim.ssim(x, y, mask=m), abs=1e-12)
        assert row.mse_masked == pytest.approx(((x.astype(float) - y) ** 2)[m].mean(), rel=1e-12)
        assert row.psnr_masked == pytest.approx(fastssim.psnr(x, y, mask=m), rel=1e-12)
    got = json.loads(subprocess.run(cli + ["report", str(out), "--format", "json"], capture_output=True, text=True,
                                    timeout=300).stdout)
    method = got["methods"][0]
    assert method["ssim_masked_mean"] == pytest.approx(df.ssim_masked.mean(), abs=1e-12)
    r = subprocess.run(cli + ["score", str(tmp_path / "ref"), str(tmp_path / "dist"), "-o", str(tmp_path / "o2"),
                              "--mask", str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "--mask" in r.stderr and "is not a directory" in r.stderr


def test_manifest_mask_column(tmp_path):
    data = _tree(tmp_path)
    pd.DataFrame({"ref": ["ref/0.png", "ref/1.png"], "dist": ["dist/0.png", "dist/1.png"],
                  "mask": ["masks/0.png", "masks/1.png"]}).to_csv(tmp_path / "pairs.csv", index=False)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "fastssim.cli", "score", "--manifest", str(tmp_path / "pairs.csv"),
                        "-o", str(out), "--metrics", "ssim", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(out).set_index("ref")
    for i in range(2):
        x, y, m = data[f"{i}.png"]
        assert df.loc[f"ref/{i}.png", "ssim_masked"] == pytest.approx(fastssim.ssim(x, y, mask=m), abs=1e-12)
