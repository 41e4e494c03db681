"""Shapes, layouts and the companion metrics (PSNR, MSE, DSSIM)."""

import numpy as np
import pytest
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio

import fastssim
from images import DISTORTIONS, fit


def test_ssim_returns_python_float(cam, backend):
    cam, y = fit(backend, cam, DISTORTIONS["noise"](cam))
    s = fastssim.ssim(cam, y, backend=backend)
    assert type(s) is float and 0 < s < 1


def test_batch_of_rgb_pairs_with_channel_axis(rgb_img, backend):
    ys = [fit(backend, DISTORTIONS[k](rgb_img, 2)) for k in sorted(DISTORTIONS)]
    rgb_img = fit(backend, rgb_img)
    x = np.stack([rgb_img] * len(ys))
    y = np.stack(ys)
    got = fastssim.ssim_batch(x, y, channel_axis=-1, backend=backend)
    loop = [fastssim.ssim(rgb_img, d, channel_axis=-1, backend=backend) for d in ys]
    np.testing.assert_array_equal(got, loop)
    # channel axis given as a positive index into one pair's axes
    np.testing.assert_array_equal(fastssim.ssim_batch(x, y, channel_axis=2, backend=backend), got)


def test_batch_of_volumes(backend):
    rng = np.random.default_rng(0)
    x = rng.random((3, 12, 14, 16)).astype(np.float32)
    y = (x + 0.2 * rng.random(x.shape)).astype(np.float32)
    got = fastssim.ssim_batch(x, y, spatial_ndim=3, data_range=1.0, backend=backend)
    np.testing.assert_array_equal(got, [fastssim.ssim(a, b, data_range=1.0, backend=backend) for a, b in zip(x, y)])


def test_slices_with_channels(backend):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, 20, 24, 3), dtype=np.uint8)
    y = rng.integers(0, 256, (4, 20, 24, 3), dtype=np.uint8)
    got = fastssim.ssim_slices(x, y, axis=0, channel_axis=-1, backend=backend)
    np.testing.assert_array_equal(got, [fastssim.ssim(a, b, channel_axis=-1, backend=backend) for a, b in zip(x, y)])
    got = fastssim.ssim_slices(x, y, axis=1, channel_axis=3, win_size=3, backend=backend)
    loop = [fastssim.ssim(x[:, i], y[:, i], channel_axis=-1, win_size=3, backend=backend) for i in range(20)]
    np.testing.assert_array_equal(got, loop)


def test_large_image_many_tasks_equals_naive(backend):
    """Several row and column bands, and an image whose sides are not multiples of them."""
    import naive
    rng = np.random.default_rng(2)
    x = rng.random((300, 613))
    y = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1)
    x, y = fit(backend, x, y)  # under the simulator, a crop: the bands are the CPU's
    assert fastssim.ssim(x, y, data_range=1.0, backend=backend) == pytest.approx(naive.ssim(x, y, 1.0), abs=1e-10)


def test_no_copy_of_views(cam):
    """Strided views of a large array are read in place (no error, same value as a copy)."""
    big = np.tile(cam, (2, 2))
    view_x, view_y = big[::2, ::2], big[1::2, 1::2]
    assert not view_x.flags.c_contiguous
    assert fastssim.ssim(view_x, view_y) == pytest.approx(
        fastssim.ssim(view_x.copy(), view_y.copy()), abs=1e-6)


def test_mse_psnr_match_skimage(cam):
    y = DISTORTIONS["jpeg"](cam)
    assert fastssim.mse(cam, y) == pytest.approx(mean_squared_error(cam, y), rel=1e-12)
    assert fastssim.psnr(cam, y) == pytest.approx(peak_signal_noise_ratio(cam, y), rel=1e-12)
    xf, yf = cam / 255.0, y / 255.0
    assert fastssim.psnr(xf, yf, data_range=1.0) == pytest.approx(
        peak_signal_noise_ratio(xf, yf, data_range=1.0), rel=1e-12)
    assert fastssim.psnr(cam, cam) == float("inf")
    # any shape, any layout
    assert fastssim.mse(cam.T, y.T) == fastssim.mse(cam, y)
    six = np.arange(2 * 3 * 2 * 2 * 2 * 5, dtype=np.int16).reshape(2, 3, 2, 2, 2, 5)
    assert fastssim.mse(six, six + 2) == 4.0


def test_dssim(cam):
    y = DISTORTIONS["blur"](cam)
    assert fastssim.dssim(cam, y) == pytest.approx((1 - fastssim.ssim(cam, y)) / 2, abs=1e-15)
    assert fastssim.dssim(cam, cam) == 0.0
