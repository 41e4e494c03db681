"""MS-SSIM against Wang's msssim.m (a NumPy transcription) and pytorch_msssim, on real images."""

import numpy as np
import pytest

import fastssim
import naive
from images import DISTORTIONS, camera, colour, heavy_noise

W3 = (0.3, 0.3, 0.4)


@pytest.mark.parametrize("distortion", sorted(DISTORTIONS))
def test_matches_msssim_m_on_real_images(distortion):
    x = camera()
    y = DISTORTIONS[distortion](x)
    ref = naive.ms_ssim(x, y, 255)
    assert fastssim.ms_ssim(x, y) == pytest.approx(ref, abs=1e-5)
    assert fastssim.ms_ssim(x.astype(np.float64), y.astype(np.float64), data_range=255) == pytest.approx(ref, abs=1e-9)


def test_odd_sizes_follow_msssim_m():
    """181 x 203: odd at several scales; the last sample is averaged with itself."""
    x = camera()[:181, :203].astype(np.float64)
    y = DISTORTIONS["jpeg"](camera())[:181, :203].astype(np.float64)
    assert fastssim.ms_ssim(x, y, data_range=255) == pytest.approx(naive.ms_ssim(x, y, 255), abs=1e-9)


def test_colour_and_volume():
    c = colour()[:200, :240]
    d = heavy_noise(colour())[:200, :240]
    per_channel = [naive.ms_ssim(c[..., k], d[..., k], 255) for k in range(3)]
    assert fastssim.ms_ssim(c, d, channel_axis=-1) == pytest.approx(np.mean(per_channel), abs=1e-5)
    rng = np.random.default_rng(0)
    v = rng.random((24, 30, 28))
    w = np.clip(v + 0.1 * rng.standard_normal(v.shape), 0, 1)
    ref = naive.ms_ssim(v, w, 1.0, weights=W3, win_size=5)
    assert fastssim.ms_ssim(v, w, data_range=1.0, weights=W3, win_size=5) == pytest.approx(ref, abs=1e-9)


def test_against_pytorch_msssim():
    torch = pytest.importorskip("torch")
    pm = pytest.importorskip("pytorch_msssim")
    x = camera().astype(np.float64)
    y = DISTORTIONS["noise"](camera()).astype(np.float64)
    X, Y = torch.from_numpy(x[None, None]), torch.from_numpy(y[None, None])
    # pytorch_msssim builds its window in float32; with the same window in float64 the
    # two agree to rounding, and with its own window to its float32 precision
    win = torch.from_numpy(naive.window(11)).reshape(1, 1, 1, 11)
    ours = fastssim.ms_ssim(x, y, data_range=255)
    assert ours == pytest.approx(float(pm.ms_ssim(X, Y, data_range=255, win=win)), abs=1e-12)
    assert ours == pytest.approx(float(pm.ms_ssim(X, Y, data_range=255)), abs=2e-5)
    # a volume whose sides stay even over the five scales
    rng = np.random.default_rng(1)
    v = rng.random((176, 192, 208))
    w = np.clip(v + 0.1 * rng.standard_normal(v.shape), 0, 1)
    win3 = torch.from_numpy(naive.window(11)).reshape(1, 1, 1, 1, 11)
    ref = float(pm.ms_ssim(torch.from_numpy(v[None, None]), torch.from_numpy(w[None, None]), data_range=1.0, win=win3))
    assert fastssim.ms_ssim(v, w, data_range=1.0) == pytest.approx(ref, abs=1e-12)


def test_properties():
    x = camera()
    assert fastssim.ms_ssim(x, x) == 1.0
    # anti-correlated images: negative contrast-structure terms are clamped, never NaN
    assert fastssim.ms_ssim(x, 255 - x) == 0.0
    y = DISTORTIONS["blur"](x)
    assert fastssim.ms_ssim(x, y) == pytest.approx(fastssim.ms_ssim(y, x), abs=1e-7)  # float32 path
    # one scale is plain SSIM
    assert fastssim.ms_ssim(x, y, weights=(1.0,)) == pytest.approx(fastssim.ssim(x, y), abs=1e-12)


def test_batch_and_slices_equal_loops():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (3, 40, 44), dtype=np.uint8)
    y = np.clip(x + rng.normal(0, 25, x.shape), 0, 255).astype(np.uint8)
    kw = dict(weights=W3, win_size=7)
    got = fastssim.ms_ssim_batch(x, y, **kw)
    np.testing.assert_array_equal(got, [fastssim.ms_ssim(a, b, **kw) for a, b in zip(x, y)])
    v = rng.integers(0, 256, (20, 30, 33), dtype=np.uint8)
    w = np.clip(v + rng.normal(0, 25, v.shape), 0, 255).astype(np.uint8)
    sl = fastssim.ms_ssim_slices(v, w, axis=0, **kw)
    np.testing.assert_array_equal(sl, [fastssim.ms_ssim(a, b, **kw) for a, b in zip(v, w)])
    with pytest.raises(ValueError, match=r"needs every spatial axis to be at least 25 long.*\(20, 33\)"):
        fastssim.ms_ssim_slices(v, w, axis=1, **kw)


def test_errors():
    x = np.zeros((160, 200), np.uint8)
    with pytest.raises(ValueError, match=r"needs every spatial axis to be at least 161 long.*got \(160, 200\)"):
        fastssim.ms_ssim(x, x)
    with pytest.raises(ValueError, match="weights must be one or more finite non-negative numbers"):
        fastssim.ms_ssim(x, x, weights=(0.5, -0.5))
    with pytest.raises(TypeError, match="weights must be a sequence of numbers"):
        fastssim.ms_ssim(x, x, weights="abc")
