"""fastssim against scikit-image and the naive reference, on real images with real distortions, on
every backend (the CUDA one under Numba's simulator on crops, `images.fit`)."""

import numpy as np
import pytest
from skimage import data
from skimage.metrics import structural_similarity as sk_ssim

import fastssim
import naive
from images import DISTORTIONS, brighter, camera, colour, fit, grey, heavy_noise
from naive import wang


GREY = {
    "camera": camera,
    "astronaut": grey,
    "moon": data.moon,
}


@pytest.mark.parametrize("distortion", sorted(DISTORTIONS))
@pytest.mark.parametrize("image", sorted(GREY))
def test_grey_uint8_matches_skimage(image, distortion, backend):
    x = GREY[image]()
    x, y = fit(backend, x, DISTORTIONS[distortion](x))
    ref = wang(x, y)
    got = fastssim.ssim(x, y, backend=backend)
    assert got == pytest.approx(ref, abs=1e-5)
    # float64 input takes the float64 path: within 1e-7
    got64 = fastssim.ssim(x.astype(np.float64), y.astype(np.float64), data_range=255, backend=backend)
    assert got64 == pytest.approx(ref, abs=1e-7)


@pytest.mark.parametrize("distortion", sorted(DISTORTIONS))
def test_colour_channel_axis(rgb_img, distortion, backend):
    rgb_img, y = fit(backend, rgb_img, DISTORTIONS[distortion](rgb_img, 2))
    ref = wang(rgb_img, y, channel_axis=2)
    assert fastssim.ssim(rgb_img, y, channel_axis=-1, backend=backend) == pytest.approx(ref, abs=1e-5)
    # channels first gives the same number
    xc, yc = np.moveaxis(rgb_img, 2, 0), np.moveaxis(y, 2, 0)
    assert fastssim.ssim(xc, yc, channel_axis=0, backend=backend) == pytest.approx(ref, abs=1e-5)


def test_large_distortions(backend):
    """Heavy noise and a large shift of the mean (clipped at 255), grey and colour."""
    for distort in (heavy_noise, brighter):
        g, gd = fit(backend, grey(), distort(grey()))
        assert fastssim.ssim(g, gd, backend=backend) == pytest.approx(wang(g, gd), abs=1e-5)
        c, cd = fit(backend, colour(), distort(colour()))
        assert fastssim.ssim(c, cd, channel_axis=-1, backend=backend) == pytest.approx(
            wang(c, cd, channel_axis=-1), abs=1e-5)


def test_uniform_window_and_sample_covariance(cam, backend):
    cam, y = fit(backend, cam, DISTORTIONS["jpeg"](cam))
    for win in (3, 7, 11):
        ref = sk_ssim(cam, y, win_size=win, gaussian_weights=False, use_sample_covariance=True, data_range=255)
        got = fastssim.ssim(cam, y, win_size=win, gaussian=False, sample_covariance=True, backend=backend)
        assert got == pytest.approx(ref, abs=1e-5)
    ref = sk_ssim(cam, y, gaussian_weights=False, use_sample_covariance=False, data_range=255)
    assert fastssim.ssim(cam, y, win_size=7, gaussian=False, backend=backend) == pytest.approx(ref, abs=1e-5)


def test_other_sigma_and_constants(cam, backend):
    cam, y = fit(backend, cam, DISTORTIONS["blur"](cam))
    # skimage's Gaussian has radius int(3.5 sigma + 0.5): 9 taps for sigma 1.0
    ref = sk_ssim(cam, y, gaussian_weights=True, sigma=1.0, use_sample_covariance=False, data_range=255,
                  K1=0.02, K2=0.05)
    got = fastssim.ssim(cam, y, win_size=9, sigma=1.0, K1=0.02, K2=0.05, backend=backend)
    assert got == pytest.approx(ref, abs=1e-5)


@pytest.mark.parametrize("dtype", ["uint8", "uint16", "int16", "int32", "float16", "float32", "float64"])
def test_dtypes(cam, dtype, backend):
    cam, y = fit(backend, cam, DISTORTIONS["noise"](cam))
    ref = wang(cam.astype(np.float64), y.astype(np.float64))
    got = fastssim.ssim(cam.astype(dtype), y.astype(dtype), data_range=255, backend=backend)
    assert got == pytest.approx(ref, abs=1e-7 if dtype == "float64" else 1e-5)


def test_uint16_large_mean_float32_path(backend):
    """Microscopy-like data: a large offset and small contrast, where E[x^2] - E[x]^2 cancels."""
    rng = np.random.default_rng(3)
    base = (40000 + 300 * naive.window(64, 10.0)[:, None] * naive.window(64, 10.0)[None, :] * 4096).astype(np.uint16)
    x = (base + rng.integers(0, 200, base.shape)).astype(np.uint16)
    y = (x + rng.normal(0, 30, x.shape)).clip(0, 65535).astype(np.uint16)
    x, y = fit(backend, x, y, at=(20, 20))
    ref = naive.ssim(x, y, 65535)
    assert wang(x.astype(float), y.astype(float), data_range=65535) == pytest.approx(ref, abs=1e-12)
    assert fastssim.ssim(x, y, backend=backend) == pytest.approx(ref, abs=1e-5)
    # and with the data range set to the data's own span (much smaller C1, C2)
    span = float(x.max()) - float(x.min())
    ref = naive.ssim(x, y, span)
    assert fastssim.ssim(x, y, data_range=span, backend=backend) == pytest.approx(ref, abs=1e-5)


def test_volume_3d(backend):
    rng = np.random.default_rng(0)
    z, yy, xx = np.mgrid[:40, :48, :56]
    vol = (128 + 60 * np.sin(xx / 5.0) * np.cos(yy / 7.0) + 30 * np.sin(z / 4.0)).astype(np.float64)
    dist = vol + rng.normal(0, 10, vol.shape)
    vol, dist = fit(backend, vol, dist, size=(12, 13))
    ref = wang(vol, dist, data_range=255)
    assert ref == pytest.approx(naive.ssim(vol, dist, 255), abs=1e-12)
    assert fastssim.ssim(vol, dist, data_range=255, backend=backend) == pytest.approx(ref, abs=1e-7)
    v32, d32 = vol.astype(np.float32), dist.astype(np.float32)
    assert fastssim.ssim(v32, d32, data_range=255, backend=backend) == pytest.approx(ref, abs=1e-5)
    u8, du8 = vol.clip(0, 255).astype(np.uint8), dist.clip(0, 255).astype(np.uint8)
    assert fastssim.ssim(u8, du8, backend=backend) == pytest.approx(wang(u8, du8), abs=1e-5)


@pytest.mark.parametrize("dtype,tol", [("float64", 1e-7), ("uint8", 3e-4)])
def test_map_same_equals_skimage_full(cam, dtype, tol, backend):
    cam, y = fit(backend, cam, DISTORTIONS["noise"](cam))
    _, ref = wang(cam.astype(dtype), y.astype(dtype), full=True)
    got = fastssim.ssim_map(cam.astype(dtype), y.astype(dtype), data_range=255, backend=backend)
    assert got.shape == cam.shape
    assert got.dtype == (np.float64 if dtype == "float64" else np.float32)
    np.testing.assert_allclose(got, ref, rtol=0, atol=tol)
    # float32 maps are accurate on average far beyond the worst pixel
    assert np.abs(got - ref).mean() < 1e-5


def test_map_valid_and_colour(rgb_img, backend):
    rgb_img, y = fit(backend, rgb_img, DISTORTIONS["jpeg"](rgb_img, 2))
    x64, y64 = rgb_img.astype(np.float64), y.astype(np.float64)
    valid = fastssim.ssim_map(x64, y64, mode="valid", data_range=255, channel_axis=2, backend=backend)
    assert valid.shape == (rgb_img.shape[0] - 10, rgb_img.shape[1] - 10, 3)  # (502, 502, 3) for the whole image
    for c in range(3):
        ref = naive.ssim_map(x64[..., c], y64[..., c], 255, mode="valid")
        np.testing.assert_allclose(valid[..., c], ref, atol=1e-7)
    assert valid.mean(axis=(0, 1)).mean() == pytest.approx(
        fastssim.ssim(x64, y64, data_range=255, channel_axis=2), abs=1e-12)
    _, ref_full = wang(x64, y64, channel_axis=2, full=True)
    full = fastssim.ssim_map(x64, y64, data_range=255, channel_axis=2, backend=backend)
    np.testing.assert_allclose(full, ref_full, atol=1e-7)


def test_map_3d_same(backend):
    rng = np.random.default_rng(1)
    vol = rng.random((16, 20, 24))
    dist = np.clip(vol + rng.normal(0, 0.1, vol.shape), 0, 1)
    vol, dist = fit(backend, vol, dist, size=(12, 13))
    _, ref = wang(vol, dist, data_range=1.0, full=True)
    got = fastssim.ssim_map(vol, dist, data_range=1.0, backend=backend)
    np.testing.assert_allclose(got, ref, atol=1e-7)
    valid = fastssim.ssim_map(vol, dist, data_range=1.0, mode="valid", backend=backend)
    np.testing.assert_allclose(valid, naive.ssim_map(vol, dist, 1.0, mode="valid"), atol=1e-7)
