"""What only the CUDA backend has: GPU arrays read in place, their errors, the backend's choice,
calls from threads; and the CUDA-specific shapes (volume chunks, MS-SSIM pyramids) against the CPU.
The comparisons with scikit-image, the presets and the maps run on both backends from their own
test files (tests/test_against_skimage.py, test_api.py: one body, parametrized by `backend`).

Inputs are small crops of real images: under the simulator (no GPU) every
thread is a Python thread. The small blocks set in conftest make every call run
several blocks, with halos and, for volumes, several depth chunks.
"""

import numpy as np
import pytest

import fastssim
from fastssim.kernels import engine as _engine
from images import DISTORTIONS, camera
from naive import wang

cuda = pytest.importorskip("numba.cuda")


def to_gpu(a):
    """A GPU array (``__cuda_array_interface__``); under the simulator, host memory behind
    the same interface, so the device-array code path is the one exercised."""
    from numba import config

    if config.ENABLE_CUDASIM:
        from fastssim.kernels.cuda.ssim import SimDeviceArray

        return SimDeviceArray(np.ascontiguousarray(a))
    return cuda.to_device(a)


def strided_gpu(a):
    """A GPU view of every other column of ``a``: not contiguous."""
    from numba import config

    if config.ENABLE_CUDASIM:
        from fastssim.kernels.cuda.ssim import SimDeviceArray

        return SimDeviceArray(a[..., ::2])
    return cuda.to_device(a)[..., ::2]


BOTH = pytest.mark.parametrize("backend", ["cpu", "cuda"])


def crop(img, h=30, w=37, at=(200, 180)):
    return np.ascontiguousarray(img[at[0]:at[0] + h, at[1]:at[1] + w])


@pytest.fixture(scope="module")
def pair():
    x = crop(camera())
    return x, crop(DISTORTIONS["noise"](camera()))


@BOTH
def test_volume_and_its_map(backend):
    rng = np.random.default_rng(0)
    z, yy, xx = np.mgrid[:11, :12, :13]
    vol = (128 + 50 * np.sin(xx / 3.0) * np.cos(yy / 4.0 + z / 5.0)).astype(np.float32)
    dist = (vol + rng.normal(0, 8, vol.shape)).astype(np.float32)
    # skimage's sigma=1.0 Gaussian has 9 taps (radius int(3.5 * 1.0 + 0.5))
    ref = wang(vol.astype(np.float64), dist.astype(np.float64), sigma=1.0)
    got = fastssim.ssim(vol, dist, data_range=255, win_size=9, sigma=1.0, backend=backend)
    assert got == pytest.approx(ref, abs=1e-5)
    m = fastssim.ssim_map(vol, dist, data_range=255, win_size=5, mode="valid", backend=backend)
    cpu = fastssim.ssim_map(vol, dist, data_range=255, win_size=5, mode="valid", backend="cpu")
    assert m.shape == (7, 8, 9)
    np.testing.assert_allclose(m, cpu, atol=1e-5)


@BOTH
def test_batch_slices_and_errors_metrics(backend):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (2, 11, 13, 3), dtype=np.uint8)
    y = np.clip(x + rng.normal(0, 30, x.shape), 0, 255).astype(np.uint8)
    got = fastssim.ssim_batch(x, y, channel_axis=-1, win_size=7, backend=backend)
    cpu = [fastssim.ssim(a, b, channel_axis=-1, win_size=7, backend="cpu") for a, b in zip(x, y)]
    np.testing.assert_allclose(got, cpu, atol=1e-5)
    sl = fastssim.ssim_slices(x, y, axis=0, channel_axis=-1, win_size=7, backend=backend)
    np.testing.assert_allclose(sl, cpu, atol=1e-5)
    assert fastssim.mse(x, y, backend=backend) == pytest.approx(fastssim.mse(x, y, backend="cpu"), rel=1e-12)
    assert fastssim.psnr(x, y, backend=backend) == pytest.approx(fastssim.psnr(x, y, backend="cpu"), rel=1e-12)


@BOTH
def test_identity_and_nan(backend):
    x = np.random.default_rng(2).random((12, 14)).astype(np.float32)
    assert fastssim.ssim(x, x, data_range=1.0, win_size=7, backend=backend) == 1.0
    y = x.copy()
    y[5, 6] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN or Inf \(first at index \(5, 6\)\)"):
        fastssim.ssim(x, y, data_range=1.0, win_size=7, backend=backend)


def test_device_arrays_read_in_place(pair):
    x, y = pair
    dx, dy = to_gpu(x), to_gpu(y)
    assert fastssim.ssim(dx, dy, backend="cuda") == pytest.approx(fastssim.ssim(x, y), abs=1e-5)
    assert fastssim.ssim(dx, dy) == pytest.approx(fastssim.ssim(x, y), abs=1e-5)  # 'auto' follows the data
    assert fastssim.mse(dx, dy) == pytest.approx(fastssim.mse(x, y), rel=1e-12)
    vol = np.random.default_rng(3).integers(0, 256, (9, 10, 5), dtype=np.uint8)
    vol2 = np.clip(vol + 20, 0, 255).astype(np.uint8)
    got = fastssim.ssim_slices(to_gpu(vol), to_gpu(vol2), axis=2, win_size=7)
    np.testing.assert_allclose(got, fastssim.ssim_slices(vol, vol2, axis=2, win_size=7), atol=1e-5)


def test_gpu_batches_of_device_arrays_and_many_threads(pair):
    x, y = pair
    X = np.stack([x, np.ascontiguousarray(x[::-1]), x])
    Y = np.stack([y, np.ascontiguousarray(y[::-1]), x])
    got = fastssim.mse_batch(to_gpu(X), to_gpu(Y), backend="cuda")
    assert got.tolist() == [fastssim.mse(a, b, backend="cuda") for a, b in zip(X, Y)]
    np.testing.assert_allclose(got, fastssim.mse_batch(X, Y), rtol=1e-12)
    assert got[2] == 0
    with pytest.raises(ValueError, match="needs them C-contiguous"):
        fastssim.mse_batch(strided_gpu(X), strided_gpu(Y), backend="cuda")
    # calls from several threads at once (the scoring run's workers) give each its own value
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(np.ascontiguousarray(x[4 * i:]), np.ascontiguousarray(y[4 * i:])) for i in range(3)]
    with ThreadPoolExecutor(3) as ex:
        values = list(ex.map(lambda p: fastssim.ssim(*p, backend="cuda"), jobs))
    cpu = [fastssim.ssim(a, b, backend="cpu") for a, b in jobs]
    assert min(abs(a - b) for i, a in enumerate(cpu) for b in cpu[i + 1:]) > 1e-3  # distinct: no mix-up hides
    np.testing.assert_allclose(values, cpu, rtol=0, atol=1e-6)


def test_device_errors(pair):
    x, y = pair
    dx = to_gpu(x)
    with pytest.raises(TypeError, match="both be GPU arrays or both host arrays"):
        fastssim.ssim(dx, y, backend="cuda")
    with pytest.raises(TypeError, match="is a GPU array; pass backend='cuda'"):
        fastssim.ssim(dx, to_gpu(y), backend="cpu")
    with pytest.raises(TypeError, match="GPU arrays of dtype int16 and int16"):
        fastssim.ssim(to_gpu(x.astype(np.int16)), to_gpu(y.astype(np.int16)), data_range=255)
    with pytest.raises(TypeError, match="ssim_map takes host"):
        fastssim.ssim_map(dx, to_gpu(y))


def test_backend_selection(monkeypatch, pair):
    big = 1 << 23
    assert _engine.resolve_backend("cpu", None, None, big) == "cpu"
    assert _engine.resolve_backend("auto", None, None, 10) == "cpu"
    monkeypatch.setattr(_engine, "_cuda_usable", lambda: False)
    assert _engine.resolve_backend("auto", None, None, big) == "cpu"
    with pytest.raises(RuntimeError, match="backend='cuda' needs an NVIDIA GPU.*use backend='cpu'"):
        fastssim.ssim(*pair, backend="cuda")
    monkeypatch.setattr(_engine, "_cuda_usable", lambda: True)
    from numba import config
    expected = "cpu" if config.ENABLE_CUDASIM else "cuda"  # 'auto' never picks the simulator
    assert _engine.resolve_backend("auto", None, None, big) == expected


@BOTH
def test_ms_ssim(backend):
    import naive
    rng = np.random.default_rng(4)
    x = crop(camera(), 21, 26).astype(np.float32)
    y = (x + rng.normal(0, 12, x.shape)).astype(np.float32)
    w3 = (0.3, 0.3, 0.4)
    ref = naive.ms_ssim(x, y, 255, weights=w3, win_size=3)
    assert fastssim.ms_ssim(x, y, data_range=255, weights=w3, win_size=3, backend=backend) == pytest.approx(ref, abs=1e-5)
    v = rng.random((10, 9, 12)).astype(np.float32)
    w = (v + 0.1 * rng.random(v.shape)).astype(np.float32)
    ref = naive.ms_ssim(v, w, 1.0, weights=(0.5, 0.5), win_size=3)
    assert fastssim.ms_ssim(v, w, data_range=1.0, weights=(0.5, 0.5), win_size=3, backend=backend) == pytest.approx(ref, abs=1e-5)


def test_tiles_fit_shared_memory():
    """On hardware a block's static shared memory is capped at 48 KiB: float64 and large
    windows get shorter tiles, never a launch failure."""
    from fastssim import config as cfg
    from fastssim.kernels.cuda.ssim import SHARED_LIMIT, shared_bytes, tile_for
    default = (16, 32)
    assert shared_bytes(11, *default, 4) <= SHARED_LIMIT  # the default float32 tile fits as it is
    for k in (3, 7, 11, 15, 21, 31):
        for itemsize in (4, 8):
            th, tw = tile_for(k, itemsize)
            assert shared_bytes(k, th, tw, itemsize) <= SHARED_LIMIT
            assert th <= cfg.CUDA_TILE[0] and tw == cfg.CUDA_TILE[1]
