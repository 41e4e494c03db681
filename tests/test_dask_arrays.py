"""Out-of-core SSIM of dask arrays (fastssim.dask) against the in-memory calls, on real images
and zarr volumes, over chunkings that are even, uneven, smaller than the window and mismatched."""

import numpy as np
import pytest

import fastssim
from images import DISTORTIONS, camera, colour

da = pytest.importorskip("dask.array", reason="needs the extra fastssim[dask]")
zarr = pytest.importorskip("zarr", reason="needs the extra fastssim[dask]")
fd = pytest.importorskip("fastssim.dask")

CHUNKINGS = [512, 100, (37, 91), 3]


@pytest.fixture(scope="module")
def pair():
    x = camera()
    return x, DISTORTIONS["jpeg"](x)


@pytest.mark.parametrize("chunks", CHUNKINGS)
def test_ssim_of_a_real_image_any_chunking(pair, chunks):
    x, y = pair
    if chunks == 3:  # chunks under the window: a crop, since Dask's own cost is per chunk
        x, y = x[100:260, 200:360], y[100:260, 200:360]
    got = fd.ssim(da.from_array(x, chunks=chunks), da.from_array(y, chunks=chunks))
    assert got == pytest.approx(fastssim.ssim(x, y), abs=1e-6)  # uint8: float32 work
    xf, yf = x / 255.0, y / 255.0
    got = fd.ssim(da.from_array(xf, chunks=chunks), da.from_array(yf, chunks=chunks), data_range=1.0)
    assert got == pytest.approx(fastssim.ssim(xf, yf, data_range=1.0), abs=1e-9)


def test_colour_ms_ssim_psnr_mse_and_mismatched_chunks():
    lena = colour()
    dist = DISTORTIONS["blur"](lena, -1)
    x, y = da.from_array(lena, chunks=(120, 200, 1)), da.from_array(dist, chunks=(64, 64, 3))  # chunks differ
    assert fd.ssim(x, y, channel_axis=-1) == pytest.approx(fastssim.ssim(lena, dist, channel_axis=-1), abs=1e-6)
    assert fd.ms_ssim(x, y, channel_axis=-1) == pytest.approx(fastssim.ms_ssim(lena, dist, channel_axis=-1),
                                                              abs=1e-6)
    lf, df = lena / 255.0, dist / 255.0
    got = fd.ms_ssim(da.from_array(lf, chunks=(77, 130, 3)), da.from_array(df, chunks=77), data_range=1.0,
                     channel_axis=-1)
    assert got == pytest.approx(fastssim.ms_ssim(lf, df, data_range=1.0, channel_axis=-1), abs=1e-9)
    assert fd.mse(x, y) == pytest.approx(fastssim.mse(lena, dist), rel=1e-12)
    assert fd.psnr(x, y) == pytest.approx(fastssim.psnr(lena, dist), rel=1e-12)


def _volume(shape, seed):
    """A smooth 3-D field with noise (a stand-in for a microscopy stack), uint16."""
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    v = 20000 + 15000 * np.sin(6 * zz + 4 * yy) * np.cos(5 * xx) + rng.normal(0, 800, shape)
    return np.clip(v, 0, 65535).astype(np.uint16)


@pytest.mark.parametrize("chunks", [(40, 48, 44), (7, 16, 30), (3, 6, 9)])
def test_zarr_volume_equals_in_memory(tmp_path, chunks):
    ref = _volume((40, 48, 44), 0)
    dist = np.clip(ref.astype(np.int64) + np.random.default_rng(1).normal(0, 1500, ref.shape), 0, 65535)
    dist = dist.astype(np.uint16)
    for name, a in (("ref", ref), ("dist", dist)):
        da.to_zarr(da.from_array(a, chunks=chunks), str(tmp_path / f"{name}.zarr"))
    x, y = da.from_zarr(str(tmp_path / "ref.zarr")), da.from_zarr(str(tmp_path / "dist.zarr"))
    assert x.chunks == da.from_array(ref, chunks=chunks).chunks  # really read chunk by chunk
    assert fd.ssim(x, y) == pytest.approx(fastssim.ssim(ref, dist), abs=1e-6)
    kw = dict(weights=(0.5, 0.5), win_size=7)
    assert fd.ms_ssim(x, y, **kw) == pytest.approx(fastssim.ms_ssim(ref, dist, **kw), abs=1e-6)
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    got = fd.ssim(xf, yf, data_range=65535.0, win_size=7, gaussian=False, sample_covariance=True)
    want = fastssim.ssim(ref.astype(float), dist.astype(float), data_range=65535.0, win_size=7, gaussian=False,
                         sample_covariance=True)
    assert got == pytest.approx(want, abs=1e-9)
    assert fd.mse(x, y) == pytest.approx(fastssim.mse(ref, dist), rel=1e-12)


@pytest.mark.parametrize("mode", ["same", "valid"])
def test_ssim_map_is_lazy_and_equal(pair, mode):
    x, y = pair
    xf, yf = x / 255.0, y / 255.0
    lazy = fd.ssim_map(da.from_array(xf, chunks=(60, 130)), da.from_array(yf, chunks=90), mode=mode, data_range=1.0)
    assert isinstance(lazy, da.Array)
    want = fastssim.ssim_map(xf, yf, mode=mode, data_range=1.0)
    assert lazy.shape == want.shape
    np.testing.assert_allclose(lazy.compute(), want, atol=1e-9)
    # float32 work: each block's values are about as close to the float64 map as the in-memory
    # call's are. A block's shift is the mean of its own first row, so its rounding differs from
    # the whole image's: the worst window measured 1.6x the in-memory worst with five filtered
    # moments, 2.1x with four (x^2 + y^2 filtered as one; map RMS error 3% higher); 3x bounds both
    got32 = fd.ssim_map(da.from_array(x, chunks=60), da.from_array(y, chunks=60), mode=mode).compute()
    mem32 = fastssim.ssim_map(x, y, mode=mode)
    assert np.abs(got32 - want).max() <= 3 * np.abs(mem32 - want).max() + 1e-6
    assert np.abs(got32 - want).max() < 5e-4  # and in float32's range for SSIM maps


def test_bad_input_gives_the_numpy_api_errors(pair):
    x, y = pair
    cases = [
        (x, y[:500]),                                   # shape mismatch
        (x.astype(np.float32), y.astype(np.float32)),   # float without a data range
        (x[:8, :8], y[:8, :8]),                         # smaller than the window
        (x.astype(bool), y.astype(bool)),               # no intensity scale
    ]
    for a, b in cases:
        with pytest.raises((ValueError, TypeError)) as want:
            fastssim.ssim(a, b)
        with pytest.raises(type(want.value)) as got:
            fd.ssim(da.from_array(a, chunks=64), da.from_array(b, chunks=64))
        assert str(got.value) == str(want.value)
    xf = x / 255.0
    bad = xf.copy()
    bad[300, 411] = np.nan
    with pytest.raises(ValueError, match=r"y contains NaN or Inf \(first at index \(300, 411\)\)"):
        fd.ssim(da.from_array(xf, chunks=100), da.from_array(bad, chunks=100), data_range=1.0)
    with pytest.raises(ValueError, match=r"y contains NaN or Inf \(first at index \(300, 411\)\)"):
        fd.mse(da.from_array(xf, chunks=100), da.from_array(bad, chunks=100))
    with pytest.raises(ValueError, match="mode must be 'same' or 'valid'"):
        fd.ssim_map(da.from_array(x, chunks=64), da.from_array(y, chunks=64), mode="full")


def test_on_a_distributed_cluster(pair):
    distributed = pytest.importorskip("distributed")
    x, y = pair
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as cluster, distributed.Client(cluster):
        got = fd.ssim(da.from_array(x, chunks=128), da.from_array(y, chunks=128))
    assert got == pytest.approx(fastssim.ssim(x, y), abs=1e-6)


def test_missing_extra_is_named(monkeypatch, pair):
    import sys

    from fastssim.batch.cluster import require_distributed

    x, y = pair
    monkeypatch.setitem(sys.modules, "dask", None)  # as if fastssim[dask] were not installed
    monkeypatch.setitem(sys.modules, "dask.array", None)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install 'fastssim\[dask\]'"):
        fd.ssim(x, y)
    with pytest.raises(ImportError, match=r"pip install 'fastssim\[dask\]'"):
        require_distributed()


def test_ms_ssim_halves_as_the_in_memory_call():
    """Dask's MS-SSIM halves each block with the engine's kernel (its sums in its order, odd
    sides repeating their last sample) and computes every scale in one graph: float32 images
    with odd sides and uneven chunks, grey, colour and a volume, score as the in-memory call to
    the tile sums' rounding (float64 means of float64 halvings were 4e-10 to 2e-9 away)."""
    rng = np.random.default_rng(1)
    img = colour()[:203, :190] / np.float32(255)
    vol = rng.random((40, 37, 35), dtype=np.float32)
    for x, chunks, kw in [(img[..., 1], (64, 100), {}), (img, (50, 64, 3), dict(channel_axis=-1)),
                          (vol, (16, 16, 20), dict(weights=(0.5, 0.5)))]:
        x = x.astype(np.float32)
        y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1).astype(np.float32)
        got = fd.ms_ssim(da.from_array(x, chunks=chunks), da.from_array(y, chunks=chunks), data_range=1.0, **kw)
        want = fastssim.ms_ssim(x, y, data_range=1.0, **kw)
        assert 0.5 < want < 0.999
        assert got == pytest.approx(want, rel=0, abs=1e-12)
