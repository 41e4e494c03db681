"""fastssim.compat.skimage.structural_similarity is a drop-in for scikit-image's."""

import inspect
import warnings

import numpy as np
import pytest
from skimage.metrics import structural_similarity as sk

from fastssim.compat.skimage import structural_similarity as fs
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


def test_colour_and_float32(lena_rgb):
    y = DISTORTIONS["noise"](lena_rgb)
    assert fs(lena_rgb, y, channel_axis=2) == pytest.approx(sk(lena_rgb, y, channel_axis=2), abs=1e-7)
    ms, S = fs(lena_rgb, y, channel_axis=-1, full=True)
    ref_ms, ref_S = sk(lena_rgb, y, channel_axis=-1, full=True)
    assert ms == pytest.approx(ref_ms, abs=1e-7)
    np.testing.assert_allclose(S, ref_S, atol=1e-7)
    xf = lena_rgb.astype(np.float32) / 255
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
