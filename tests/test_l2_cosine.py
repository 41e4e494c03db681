"""L2 distance and cosine similarity: the API on real images against NumPy's float64
computations of the same numbers, on both backends (CUDA under the simulator where no GPU is
present), per channel, their errors, and the scorer's and report's columns."""

import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

import fastssim
from images import camera, jpeg, noise, need

BOTH = pytest.mark.parametrize("backend", ["cpu", "cuda"])


def fit(a, backend):
    """Real images whole on the CPU and a GPU; a crop under the simulator (a Python thread
    per GPU thread)."""
    from numba import config

    return a[:12, :16] if backend == "cuda" and config.ENABLE_CUDASIM else a


def numpy_l2_cosine(x, y):
    a, b = np.asarray(x, np.float64).ravel(), np.asarray(y, np.float64).ravel()
    with np.errstate(invalid="ignore"):  # a zero image: cosine NaN here, an error in fastssim
        return float(np.sqrt(np.sum((a - b) ** 2))), float(a @ b / np.sqrt(a @ a) / np.sqrt(b @ b))


@BOTH
def test_real_images_in_every_dtype_against_numpy(backend, rgb_img):
    cam = camera()[100:, 50:]
    pairs = [(cam, jpeg(cam, 10)), (rgb_img, noise(rgb_img, 12)),
             (cam.astype(np.uint16) * 257, noise(cam, 5).astype(np.uint16) * 257),
             (cam.astype(np.float32) / 255, jpeg(cam, 30).astype(np.float32) / 255),
             (cam.astype(np.int16) - 128, jpeg(cam).astype(np.int16) - 128),  # negative values: cosine < 1
             (cam.astype(np.float64)[:64, :64], np.flipud(cam.astype(np.float64)[:64, :64]))]
    cam = fit(cam, backend)
    for x, y in pairs:
        x, y = fit(x, backend), fit(y, backend)
        want_l2, want_cos = numpy_l2_cosine(x, y)
        assert fastssim.l2(x, y, backend=backend) == pytest.approx(want_l2, rel=1e-12)
        assert fastssim.cosine(x, y, backend=backend) == pytest.approx(want_cos, rel=1e-12, abs=1e-15)
    assert fastssim.l2(cam, cam, backend=backend) == 0.0
    assert fastssim.cosine(cam, cam, backend=backend) == 1.0
    assert fastssim.cosine(cam, 3 * cam.astype(np.float64), backend=backend) == pytest.approx(1.0, abs=1e-15)
    x = cam.astype(np.float64) - 128
    assert fastssim.cosine(x, -x, backend=backend) == -1.0


@BOTH
def test_per_channel_and_volumes(backend, rgb_img):
    rgb_img = fit(rgb_img, backend)
    y = noise(rgb_img, 20, seed=3)
    per = [numpy_l2_cosine(rgb_img[..., c], y[..., c]) for c in range(3)]
    l2 = fastssim.l2_channels(rgb_img, y, channel_axis=-1, backend=backend)
    cos = fastssim.cosine_channels(rgb_img, y, channel_axis=2, backend=backend)
    assert l2.shape == cos.shape == (3,)
    assert l2 == pytest.approx([p[0] for p in per], rel=1e-12)
    assert cos == pytest.approx([p[1] for p in per], rel=1e-12)
    channels_first = np.moveaxis(rgb_img, -1, 0)
    assert fastssim.l2_channels(channels_first, np.moveaxis(y, -1, 0), channel_axis=0, backend=backend) == \
        pytest.approx(l2, rel=1e-12)
    vol = np.stack([fit(camera()[i:i + 100, :120], backend) for i in range(0, 50, 10)])  # 5 x 100 x 120
    dist = noise(vol, 9)
    assert fastssim.l2(vol, dist, backend=backend) == pytest.approx(numpy_l2_cosine(vol, dist)[0], rel=1e-12)
    assert fastssim.cosine(vol, dist, backend=backend) == pytest.approx(numpy_l2_cosine(vol, dist)[1], rel=1e-12)


def test_gpu_arrays_are_read_in_place():
    from test_cuda_backend import to_gpu

    x, y = camera()[:30, :40], jpeg(camera())[:30, :40]
    want = numpy_l2_cosine(x, y)
    assert fastssim.l2(to_gpu(x), to_gpu(y), backend="cuda") == pytest.approx(want[0], rel=1e-12)
    assert fastssim.cosine(to_gpu(x), to_gpu(y)) == pytest.approx(want[1], rel=1e-12)
    with pytest.raises(ValueError, match="per channel"):
        fastssim.l2_channels(to_gpu(np.dstack([x] * 3)), to_gpu(np.dstack([y] * 3)), channel_axis=-1)


def test_mistakes_are_named():
    cam = camera()
    with pytest.raises(ValueError, match="cosine similarity is undefined: x is all zeros"):
        fastssim.cosine(np.zeros((8, 8)), np.ones((8, 8)))
    rgb = np.dstack([cam, cam, np.zeros_like(cam)])
    with pytest.raises(ValueError, match="y is all zeros in channel 2"):
        fastssim.cosine_channels(np.dstack([cam] * 3), rgb, channel_axis=-1)
    assert fastssim.l2(np.zeros((8, 8)), np.ones((8, 8))) == 8.0  # defined where cosine is not
    with pytest.raises(ValueError, match="channel_axis must be an axis of the images"):
        fastssim.l2_channels(cam, cam, channel_axis=2)
    with pytest.raises(ValueError, match="shape"):
        fastssim.cosine(cam, cam[:-1])
    bad = cam.astype(np.float64)
    bad[5, 7] = np.nan
    with pytest.raises(ValueError, match=r"x contains NaN or Inf \(first at index \(5, 7\)\)"):
        fastssim.l2(bad, cam.astype(np.float64))
    with pytest.raises(ValueError, match="exceed the float64 range"):
        fastssim.cosine(cam * 1e200, cam * 1e200)
    torch = need("torch")
    assert fastssim.l2(torch.from_numpy(cam), torch.from_numpy(jpeg(cam))) == \
        pytest.approx(numpy_l2_cosine(cam, jpeg(cam))[0], rel=1e-12)


def test_scored_reported_and_errors_kept_per_metric(tmp_path):
    cam = camera()
    for sub in ("ref", "a", "b"):
        (tmp_path / sub).mkdir()
    for i in range(4):
        x = cam[40 * i:40 * i + 64, 30 * i:30 * i + 64]
        iio.imwrite(tmp_path / "ref" / f"{i}.png", x)
        iio.imwrite(tmp_path / "a" / f"{i}.png", jpeg(x, 15))
        iio.imwrite(tmp_path / "b" / f"{i}.png", noise(x, 10, seed=i))
    iio.imwrite(tmp_path / "ref" / "black.png", np.zeros((64, 64), np.uint8))
    for m in "ab":
        iio.imwrite(tmp_path / m / "black.png", np.full((64, 64), 9, np.uint8))
    out = tmp_path / "out"
    cli = [sys.executable, "-m", "fastssim.cli"]
    r = subprocess.run(cli + ["score", str(tmp_path / "ref"), "--dist", f"a={tmp_path / 'a'}", "--dist",
                              f"b={tmp_path / 'b'}", "-o", str(out), "--metrics", "psnr,l2,cosine", "--quiet"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr  # partial rows (cosine of the black image undefined): exit 0
    df = pd.read_parquet(out)
    for row in df.itertuples():
        x = iio.imread(tmp_path / "ref" / row.ref)
        y = iio.imread(tmp_path / row.method / row.dist)
        want_l2, _ = numpy_l2_cosine(x, y)
        assert row.l2 == pytest.approx(want_l2, rel=1e-12)
        if row.ref == "black.png":
            assert row.status == "partial" and np.isnan(row.cosine) and "x is all zeros" in row.cosine_error
        else:
            assert row.status == "ok" and row.cosine == pytest.approx(numpy_l2_cosine(x, y)[1], rel=1e-12)
    got = json.loads(subprocess.run(cli + ["report", str(out), "--by-dataset", "--metrics", "l2,cosine", "--format",
                                           "json"], capture_output=True, text=True, timeout=300).stdout)["rows"]
    # each metric over the pairs every method has it for: L2 over all five, cosine without the black one
    means = {"l2": df.groupby("method").l2.mean(), "cosine": df[df.ref != "black.png"].groupby("method").cosine.mean()}
    for rec in got:
        assert rec["mean"] == pytest.approx(means[rec["metric"]][rec["method"]], rel=1e-12)
    best = {rec["metric"]: rec["method"] for rec in got if rec["best"]}
    assert best == {"l2": means["l2"].idxmin(), "cosine": means["cosine"].idxmax()}  # lower L2, higher cosine


def test_rows_regrouped_only_when_both_arrays_allow_it(rgb_img):
    """The error kernels read contiguous channel-last images in long rows; a pair where one
    array is a strided view keeps its own rows on both sides (a mismatch read out of bounds)."""
    y = noise(rgb_img, 9)
    strided = rgb_img[:, ::-1][:, ::-1]  # equal values, not contiguous
    want = numpy_l2_cosine(rgb_img, y)
    for a, b in ((rgb_img, y), (strided, y), (rgb_img, np.asfortranarray(y))):
        assert fastssim.l2(a, b) == pytest.approx(want[0], rel=1e-12)
        assert fastssim.mse(a, b) == pytest.approx(want[0] ** 2 / y.size, rel=1e-12)
    stack_x, stack_y = np.stack([rgb_img[:64, :96]] * 3), np.stack([y[:64, :96], y[64:128, :96], y[:64, 96:192]])
    values = fastssim.mse_batch(stack_x, stack_y)
    assert [values[i] == fastssim.mse(stack_x[i], stack_y[i]) for i in range(3)] == [True] * 3  # bit for bit
