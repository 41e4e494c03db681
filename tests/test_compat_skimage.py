"""fastssim.compat.skimage.structural_similarity is a drop-in for scikit-image's."""

import inspect
import warnings

import numpy as np
import pytest
from skimage.metrics import structural_similarity as sk

from fastssim.integrations.skimage import structural_similarity as fs
from images import DISTORTIONS


def test_signature_matches():
    ours = inspect.signature(fs)
    theirs = inspect.signature(sk)
    assert list(ours.parameters) == list(theirs.parameters)
    for name, p in theirs.parameters.items():
        assert ours.parameters[name].default == p.default
        assert ours.parameters[name].kind == p.kind


CASES = [
    {},
    {"gaussian_weights": True},
    {"gaussian_weights": True, "win_size": 7},  # 11-tap filter, 3-pixel crop
    {"gaussian_weights": True, "sigma": 1.0},
    {"win_size": 3},
    {"use_sample_covariance": False},
    {"K1": 0.02, "K2": 0.05},
]


@pytest.mark.parametrize("kw", CASES, ids=lambda kw: ",".join(f"{k}={v}" for k, v in kw.items()) or "defaults")
def test_same_numbers(cam, kw):
    y = DISTORTIONS["jpeg"](cam)
    assert fs(cam, y, **kw) == pytest.approx(sk(cam, y, **kw), abs=1e-7)
    ms, S = fs(cam, y, full=True, **kw)
    ref_ms, ref_S = sk(cam, y, full=True, **kw)
    assert ms == pytest.approx(ref_ms, abs=1e-7)
    assert S.dtype == ref_S.dtype and S.shape == ref_S.shape
    np.testing.assert_allclose(S, ref_S, atol=1e-7)


def test_colour_and_float32(rgb_img):
    y = DISTORTIONS["noise"](rgb_img)
    assert fs(rgb_img, y, channel_axis=2) == pytest.approx(sk(rgb_img, y, channel_axis=2), abs=1e-7)
    ms, S = fs(rgb_img, y, channel_axis=-1, full=True)
    ref_ms, ref_S = sk(rgb_img, y, channel_axis=-1, full=True)
    assert ms == pytest.approx(ref_ms, abs=1e-7)
    np.testing.assert_allclose(S, ref_S, atol=1e-7)
    xf = rgb_img.astype(np.float32) / 255
    yf = y.astype(np.float32) / 255
    assert fs(xf, yf, channel_axis=2, data_range=1.0) == pytest.approx(
        sk(xf, yf, channel_axis=2, data_range=1.0), abs=1e-5)


def test_volume():
    rng = np.random.default_rng(0)
    v = rng.integers(0, 256, (20, 24, 28), dtype=np.uint8)
    w = rng.integers(0, 256, (20, 24, 28), dtype=np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert fs(v, w) == pytest.approx(sk(v, w), abs=1e-7)


@pytest.mark.parametrize("shape,channel_axis", [((50,), None), ((7, 8, 9, 10), None), ((7, 8, 3, 9, 10), 2)])
def test_other_numbers_of_axes(shape, channel_axis):
    """1-D, 4-D and 4-D with channels: value, map and gradient as scikit-image's."""
    rng = np.random.default_rng(3)
    x = rng.random(shape)
    y = np.clip(x + rng.normal(0, 0.1, shape), 0, 1)
    kw = dict(win_size=5, data_range=1.0, channel_axis=channel_axis)
    ms, grad, S = fs(x, y, gradient=True, full=True, **kw)
    ref_ms, ref_grad, ref_S = sk(x, y, gradient=True, full=True, **kw)
    assert ms == pytest.approx(ref_ms, abs=1e-12)
    assert fs(x, y, **kw) == ms  # the same number with or without full/gradient
    np.testing.assert_allclose(S, ref_S, atol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, atol=1e-12)
    gms = fs(x, y, gaussian_weights=True, sigma=0.8, data_range=1.0, channel_axis=channel_axis)
    assert gms == pytest.approx(sk(x, y, gaussian_weights=True, sigma=0.8, data_range=1.0,
                                   channel_axis=channel_axis), abs=1e-12)


def test_float32_computed_in_float64(cam):
    """float16/float32 input gives the float64 number (scikit-image, in float32 arithmetic with
    float64 filter accumulators, is ~1e-7 from it; float32 kernels would be ~1e-6), maps in
    float32."""
    y = DISTORTIONS["jpeg"](cam)
    x32, y32 = cam.astype(np.float32), y.astype(np.float32)
    exact = sk(cam.astype(np.float64), y.astype(np.float64), data_range=255)
    ours = fs(x32, y32, data_range=255)
    assert type(ours) is np.float64
    assert ours == pytest.approx(exact, abs=1e-12)
    assert ours == pytest.approx(sk(x32, y32, data_range=255), abs=2e-7)
    _, S = fs(x32.astype(np.float16), y32.astype(np.float16), data_range=255, full=True)
    assert S.dtype == np.float32


def test_range_warnings_as_scikit_image(cam):
    y = DISTORTIONS["noise"](cam)
    with pytest.warns(UserWarning, match="data_range = 65535"):
        fs(cam.astype(np.uint16), y.astype(np.uint16))
    with pytest.warns(UserWarning, match="mismatched dtypes"):
        fs(cam, y.astype(np.int32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fs(cam, y)
        fs(cam.astype(np.uint16), y.astype(np.uint16), data_range=255)
