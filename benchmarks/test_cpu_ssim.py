"""CPU SSIM throughput, fastssim side by side with scikit-image and the OpenCV recipe.

Run on request (not part of the test suite):

    python -m pytest benchmarks -q

Every implementation is run warm (fastssim is compiled by a first call before timing).
"""

import numpy as np
import pytest

import fastssim
from peers import opencv_ssim, skimage_ssim


def _pairs():
    rng = np.random.default_rng(0)
    yield "1024x1024 float32", dict(
        x=rng.random((1024, 1024), dtype=np.float32), noise=0.1, data_range=1.0, batch=False)
    yield "4096x4096 uint8", dict(
        x=rng.integers(0, 256, (4096, 4096), dtype=np.uint8), noise=20, data_range=255, batch=False)
    yield "64 x RGB 512x512 uint8 (batch)", dict(
        x=rng.integers(0, 256, (64, 512, 512, 3), dtype=np.uint8), noise=20, data_range=255, batch=True)
    yield "1024 x RGB 64x64 uint8 (batch)", dict(
        x=rng.integers(0, 256, (1024, 64, 64, 3), dtype=np.uint8), noise=20, data_range=255, batch=True)
    yield "128^3 float32 volume", dict(
        x=rng.random((128, 128, 128), dtype=np.float32), noise=0.1, data_range=1.0, batch=False)
    yield "256^3 float32 volume", dict(
        x=rng.random((256, 256, 256), dtype=np.float32), noise=0.1, data_range=1.0, batch=False)


def _workloads():
    for name, w in _pairs():
        x = w["x"]
        rng = np.random.default_rng(1)
        if x.dtype == np.uint8:
            y = np.clip(x + rng.normal(0, w["noise"], x.shape), 0, 255).astype(np.uint8)
        else:
            y = (x + w["noise"] * rng.random(x.shape, dtype=np.float32)).astype(np.float32)
        yield name, x, y, w


WORKLOADS = {name: (x, y, w) for name, x, y, w in _workloads()}


def _run(impl, x, y, w):
    L = w["data_range"]
    if w["batch"]:
        if impl == "fastssim":
            return fastssim.ssim_batch(x, y, channel_axis=-1, data_range=L)
        f = skimage_ssim if impl == "skimage" else opencv_ssim
        return np.array([f(a, b, L, channel_axis=-1) for a, b in zip(x, y)])
    if impl == "fastssim":
        return fastssim.ssim(x, y, data_range=L)
    if impl == "skimage":
        return skimage_ssim(x, y, L)
    return opencv_ssim(x, y, L)


@pytest.mark.parametrize("impl", ["fastssim", "opencv", "skimage"])
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_ssim_throughput(benchmark, record, workload, impl):
    x, y, w = WORKLOADS[workload]
    if impl == "opencv" and x.ndim == 3 and not w["batch"]:
        pytest.skip("the OpenCV recipe is 2-D only")
    benchmark.group = workload
    expected = _run("skimage" if impl != "skimage" else "fastssim", x[:2], y[:2], w) if w["batch"] else None
    result = _run(impl, x, y, w)  # warm-up (compiles fastssim)
    rounds = 3 if impl == "skimage" else 10
    result = benchmark.pedantic(_run, args=(impl, x, y, w), rounds=rounds, iterations=1)
    # every implementation computes the same numbers
    if expected is not None:
        np.testing.assert_allclose(np.asarray(result)[:2], expected, atol=2e-5)
    pixels = x.size if x.dtype != np.uint8 or not w["batch"] else x.size // 3
    record(workload, impl, pixels)
