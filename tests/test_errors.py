"""Bad input: a clear exception naming the problem and the fix, never a silent NaN."""

import numpy as np
import pytest

import fastssim
from fastssim.integrations.skimage import structural_similarity

IMG = np.zeros((16, 16), dtype=np.uint8)
F = np.zeros((16, 16), dtype=np.float32)


@pytest.mark.parametrize("func", [fastssim.ssim, fastssim.ssim_map, fastssim.dssim])
def test_shape_mismatch(func):
    with pytest.raises(ValueError, match=r"same shape, got \(16, 16\) and \(16, 17\)"):
        func(IMG, np.zeros((16, 17), np.uint8))


def test_ndim():
    with pytest.raises(ValueError, match="expected a 2-D image .* got 1 axes.*set channel_axis"):
        fastssim.ssim(np.zeros(20, np.uint8), np.zeros(20, np.uint8))
    with pytest.raises(ValueError, match="got 4 axes.*ssim_batch"):
        fastssim.ssim(np.zeros((2, 12, 12, 12), np.uint8), np.zeros((2, 12, 12, 12), np.uint8))
    with pytest.raises(ValueError, match="spatial_ndim=2, each pair needs 2 axes"):
        fastssim.ssim_batch(np.zeros((12, 12), np.uint8), np.zeros((12, 12), np.uint8))
    with pytest.raises(ValueError, match="spatial_ndim must be 2 or 3"):
        fastssim.ssim_batch(IMG[None], IMG[None], spatial_ndim=4)
    with pytest.raises(ValueError, match="ssim_slices expects 3-D volumes"):
        fastssim.ssim_slices(IMG, IMG)


def test_window_larger_than_image():
    with pytest.raises(ValueError, match=r"win_size=11 exceeds the image extent \(10, 16\)"):
        fastssim.ssim(np.zeros((10, 16), np.uint8), np.zeros((10, 16), np.uint8))
    with pytest.raises(ValueError, match="set channel_axis"):
        fastssim.ssim(np.zeros((32, 32, 3), np.uint8), np.zeros((32, 32, 3), np.uint8))


@pytest.mark.parametrize("win", [0, -3, 4, 10])
def test_bad_window(win):
    with pytest.raises(ValueError, match=f"win_size must be odd and positive, got {win}"):
        fastssim.ssim(IMG, IMG, win_size=win)


def test_window_type():
    with pytest.raises(TypeError, match="win_size must be an odd integer"):
        fastssim.ssim(IMG, IMG, win_size=7.0)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("func", [fastssim.ssim, fastssim.ssim_map, fastssim.psnr])
def test_nonfinite_values(value, func, backend):
    y = F.copy()
    y[3, 5] = value
    with pytest.raises(ValueError, match=r"y contains NaN or Inf \(first at index \(3, 5\)\)"):
        func(F, y, data_range=1.0, backend=backend)


def test_nonfinite_in_batch_names_the_pair(backend):
    x = np.zeros((4, 16, 16), np.float64)
    y = x.copy()
    y[2, 0, 0] = np.nan
    with pytest.raises(ValueError, match=r"pair 2 \(1 in all\): y contains NaN"):
        fastssim.ssim_batch(x, y, data_range=1.0, backend=backend)


def test_float32_overflow_is_reported(backend):
    x = np.full((16, 16), 1e30, np.float32)
    y = x.copy()
    y[0, 0] = 0
    with pytest.raises(ValueError, match="overflowed.*float64"):
        fastssim.ssim(x, y, data_range=1e15, backend=backend)


def test_zero_constants_in_flat_regions(backend):
    with pytest.raises(ValueError, match="0/0 in flat regions when K1 or K2 is 0"):
        fastssim.ssim(IMG, IMG, K1=0, K2=0, backend=backend)


def test_empty():
    e = np.zeros((0, 16), np.uint8)
    with pytest.raises(ValueError, match=r"x is empty \(shape \(0, 16\)\)"):
        fastssim.ssim(e, e)


@pytest.mark.parametrize("dtype,match", [
    (bool, "dtype bool, which has no intensity scale"),
    (np.complex64, "complex dtype complex64"),
    (object, "dtype object; pass a real numeric array"),
])
def test_bad_dtypes(dtype, match):
    a = np.zeros((16, 16), dtype=dtype)
    with pytest.raises(TypeError, match=match):
        fastssim.ssim(a, a)
    with pytest.raises(TypeError, match=match):
        fastssim.mse(a, a)


def test_data_range():
    with pytest.raises(ValueError, match="data_range is required for floating-point input.*data_range=1.0"):
        fastssim.ssim(F, F)
    with pytest.raises(ValueError, match="data_range is required"):
        fastssim.psnr(F, F)
    with pytest.raises(ValueError, match="x is uint8 and y is uint16.*pass data_range"):
        fastssim.ssim(IMG, IMG.astype(np.uint16))
    for bad in (0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="data_range must be a positive finite number"):
            fastssim.ssim(F, F, data_range=bad)
    with pytest.raises(TypeError, match="data_range must be a real number"):
        fastssim.ssim(F, F, data_range="255")


def test_negative_constants_and_sigma():
    with pytest.raises(ValueError, match="K1 and K2 must be non-negative, got K1=-0.01"):
        fastssim.ssim(IMG, IMG, K1=-0.01)
    with pytest.raises(ValueError, match="sigma must be positive, got -1"):
        fastssim.ssim(IMG, IMG, sigma=-1)
    with pytest.raises(ValueError, match="sigma must be a finite real number"):
        fastssim.ssim(IMG, IMG, sigma=np.nan)
    # plain Python numbers, which a fast path takes when they pass: those that do not still fail
    for options, message in ((dict(sigma=float("inf")), "sigma must be a finite real number"),
                             (dict(K2=float("inf")), "K2 must be a finite real number"),
                             (dict(K1=float("nan")), "K1 must be a finite real number"),
                             (dict(sigma=-1.5), "sigma must be positive"),
                             (dict(K2=-0.03), "K1 and K2 must be non-negative"),
                             (dict(win_size=10), "win_size must be odd and positive"),
                             (dict(win_size=True), "win_size must be an odd integer"),
                             (dict(backend="gpu"), "backend must be one of")):
        with pytest.raises((ValueError, TypeError), match=message):
            fastssim.ssim(IMG, IMG, **options)


def test_axes_and_modes():
    with pytest.raises(ValueError, match="channel_axis=3 is out of range for an array with 3 axes"):
        fastssim.ssim(np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16, 3), np.uint8), channel_axis=3)
    with pytest.raises(ValueError, match="axis and channel_axis are the same axis"):
        v = np.zeros((3, 16, 16, 3), np.uint8)
        fastssim.ssim_slices(v, v, axis=-1, channel_axis=3)
    with pytest.raises(ValueError, match="mode must be 'same' or 'valid', got 'full'"):
        fastssim.ssim_map(IMG, IMG, mode="full")



def test_compat_errors():
    with pytest.raises(ValueError, match="win_size exceeds image extent"):
        structural_similarity(np.zeros((5, 5), np.uint8), np.zeros((5, 5), np.uint8))
    with pytest.raises(ValueError, match="Window size must be odd"):
        structural_similarity(IMG, IMG, win_size=8)
    with pytest.raises(ValueError, match="you must specify the data_range"):
        structural_similarity(F, F)
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['gaussian'\]"):
        structural_similarity(IMG, IMG, gaussian=True)


def test_backend_name():
    with pytest.raises(ValueError, match=r"backend must be one of \('auto', 'cpu', 'cuda'\), got 'gpu'"):
        fastssim.ssim(IMG, IMG, backend="gpu")
    with pytest.raises(ValueError, match="backend must be one of"):
        fastssim.mse(IMG, IMG, backend="gpu")
