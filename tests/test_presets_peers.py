"""The presets of libraries that install here, run against those libraries on real photographs
(scikit-image's astronaut and coffee): kornia, sewar, torchmetrics' MS-SSIM."""

import warnings

import numpy as np
import pytest

import fastssim
from images import colour, heavy_noise, noise


def _pair(dtype=np.float64, crop=None):
    x = colour()
    y = noise(x, 25.0, seed=3)
    if crop is not None:
        x, y = x[:crop[0], :crop[1]], y[:crop[0], :crop[1]]
    if dtype == np.uint8:
        return x, y
    return x.astype(dtype) / 255, y.astype(dtype) / 255


def _nchw(torch, a):
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0)[None] if a.ndim == 3 else a[None, None]))


@pytest.mark.parametrize("win_size", [7, 11])
def test_kornia(win_size):
    torch = pytest.importorskip("torch")
    kornia = pytest.importorskip("kornia")
    for crop in (None, (301, 437)):  # odd sizes too
        x, y = _pair(crop=crop)
        X, Y = _nchw(torch, x), _nchw(torch, y)
        got = fastssim.ssim(x, y, channel_axis=-1, preset="kornia", data_range=1.0, win_size=win_size)
        # kornia adds eps (1e-12) to the denominator; with eps=0 the numbers are the same
        assert got == pytest.approx(float(kornia.metrics.ssim(X, Y, win_size, max_val=1.0, eps=0.0).mean()), abs=1e-12)
        assert got == pytest.approx(float(kornia.metrics.ssim(X, Y, win_size, max_val=1.0).mean()), abs=1e-7)
        loss = float(kornia.losses.ssim_loss(X, Y, win_size, max_val=1.0, eps=0.0))
        assert fastssim.dssim(x, y, channel_axis=-1, preset="kornia", data_range=1.0,
                              win_size=win_size) == pytest.approx(loss, abs=1e-12)
    # uint8 data with kornia's max_val=255 (kornia does not rescale)
    x8, y8 = _pair(np.uint8)
    ref = float(kornia.metrics.ssim(_nchw(torch, x8).double(), _nchw(torch, y8).double(), win_size, max_val=255.0,
                                    eps=0.0).mean())
    assert fastssim.ssim(x8, y8, channel_axis=-1, preset="kornia", win_size=win_size) == pytest.approx(ref, abs=1e-6)


def test_kornia_volumes():
    torch = pytest.importorskip("torch")
    kornia = pytest.importorskip("kornia")
    v = colour()[100:140, 200:250].astype(np.float64) / 255
    vol = np.stack([v[..., 0], v[..., 1], v[..., 2], v.mean(axis=2)] * 3)  # a (12, 40, 50) volume
    dist = np.clip(vol + np.random.default_rng(4).normal(0, 0.05, vol.shape), 0, 1)
    ref = float(kornia.metrics.ssim3d(torch.from_numpy(vol[None, None]), torch.from_numpy(dist[None, None]), 5,
                                      max_val=1.0, eps=0.0).mean())
    assert fastssim.ssim(vol, dist, preset="kornia", win_size=5, data_range=1.0) == pytest.approx(ref, abs=1e-12)


def test_sewar():
    sewar = pytest.importorskip("sewar.full_ref")
    for dtype, tol in ((np.float64, 1e-12), (np.uint8, 1e-6)):
        x, y = _pair(dtype)
        # sewar reads (H, W, C) and grey (H, W); floats in [0, 1], integers by their dtype's max
        assert fastssim.ssim(x, y, channel_axis=-1, preset="sewar") == pytest.approx(sewar.ssim(x, y)[0], abs=tol)
        assert fastssim.ssim(x[..., 1], y[..., 1], preset="sewar") == pytest.approx(
            sewar.ssim(x[..., 1], y[..., 1])[0], abs=tol)
        for crop in (None, (301, 437)):
            xs, ys = (x, y) if crop is None else (x[:crop[0], :crop[1]], y[:crop[0], :crop[1]])
            # msssim: a Gaussian window, halving by scipy's uniform_filter(., 2)[::2, ::2] over
            # all three axes (so the channels mix), channels pooled, complex powers
            assert fastssim.ms_ssim(xs, ys, channel_axis=-1, preset="sewar") == pytest.approx(
                sewar.msssim(xs, ys), abs=tol)
            assert fastssim.ms_ssim(xs[..., 0], ys[..., 0], preset="sewar") == pytest.approx(
                sewar.msssim(xs[..., 0], ys[..., 0]), abs=tol)


def test_sewar_small_images_and_negative_terms():
    sewar = pytest.importorskip("sewar.full_ref")
    x, y = _pair(crop=(100, 120))
    with pytest.warns(UserWarning, match="Reducing to 4 scales"):
        got = fastssim.ms_ssim(x, y, channel_axis=-1, preset="sewar")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert got == pytest.approx(sewar.msssim(x, y), abs=1e-12)
    # an inverted image: negative contrast-structure terms; sewar keeps the real part of the
    # complex product, where Wang's convention clamps at 0
    g = colour()[..., 0].astype(np.float64) / 255
    got = fastssim.ms_ssim(g, 1 - g, preset="sewar")
    assert got < 0 and got == pytest.approx(sewar.msssim(g, 1 - g), abs=1e-12)
    assert fastssim.ms_ssim(g, 1 - g, data_range=1.0) >= 0
    with pytest.raises(ValueError, match="win_size=11 exceeds the image extent"):
        fastssim.ms_ssim(g[:10, :40], g[:10, :40], preset="sewar")


def test_torchmetrics_ms_ssim():
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.functional.image")
    for crop in (None, (301, 437)):  # odd sizes: avg_pool2d drops the last row/column
        x, y = _pair(crop=crop)
        X, Y = _nchw(torch, x), _nchw(torch, y)
        ref = float(tm.multiscale_structural_similarity_index_measure(X, Y))
        # the data range recomputed from every scale's images, channels pooled per scale,
        # the last scale's SSIM over the reflect-padded full map
        assert fastssim.ms_ssim(x, y, channel_axis=-1, preset="torchmetrics") == pytest.approx(ref, abs=1e-12)
        ref = float(tm.multiscale_structural_similarity_index_measure(X, Y, data_range=1.0))
        assert fastssim.ms_ssim(x, y, channel_axis=-1, preset="torchmetrics", data_range=1.0) == pytest.approx(
            ref, abs=1e-12)
        assert abs(fastssim.ms_ssim(x, y, channel_axis=-1, data_range=1.0) - ref) > 1e-4
    with pytest.raises(ValueError, match="at least 176 long"):
        fastssim.ms_ssim(x[:170], y[:170], channel_axis=-1, preset="torchmetrics")


def test_torchmetrics_sigma_and_batch_ranges():
    torch = pytest.importorskip("torch")
    tm = pytest.importorskip("torchmetrics.functional.image")
    x, y = _pair(crop=(200, 220))
    X, Y = _nchw(torch, x), _nchw(torch, y)
    for sigma in (0.8, 2.0):  # the window's taps follow sigma, 2 * int(3.5 sigma + 0.5) + 1
        ref = float(tm.structural_similarity_index_measure(X, Y, sigma=sigma))
        assert fastssim.ssim(x, y, channel_axis=-1, preset="torchmetrics", sigma=sigma) == pytest.approx(ref, abs=1e-12)
    # a batch whose pairs have different spans: torchmetrics takes the range over the batch
    xs = np.stack([x[..., 0], 0.5 * x[..., 1], x[..., 2]])
    ys = np.stack([y[..., 0], 0.5 * y[..., 1], heavy_noise(colour())[:200, :220, 2] / 255])
    XS, YS = torch.from_numpy(xs[:, None]), torch.from_numpy(ys[:, None])
    batch = fastssim.ssim_batch(xs, ys, preset="torchmetrics")
    np.testing.assert_allclose(batch, tm.structural_similarity_index_measure(XS, YS, reduction="none").numpy(),
                               rtol=0, atol=1e-12)
    per_pair = fastssim.ssim_batch(xs, ys, preset="torchmetrics", data_range="per-pair")
    np.testing.assert_allclose(per_pair, [float(tm.structural_similarity_index_measure(XS[i:i + 1], YS[i:i + 1]))
                                          for i in range(3)], rtol=0, atol=1e-12)
    assert abs(per_pair[1] - batch[1]) > 1e-4  # the half-range pair is where the rules differ
    ms = fastssim.ms_ssim_batch(np.pad(xs, ((0, 0), (0, 0), (0, 0))), ys, preset="torchmetrics")
    np.testing.assert_allclose(ms, tm.multiscale_structural_similarity_index_measure(
        XS, YS, reduction="none", betas=(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)).numpy(), rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="data_range must be a number, None or 'per-pair'"):
        fastssim.ssim_batch(xs, ys, preset="torchmetrics", data_range="pair")
