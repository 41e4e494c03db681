"""Masked scores (a region: an inpainted hole, an organ) against NumPy computed from the full
SSIM map, on real images, both backends, and every mistake with its message."""

import numpy as np
import pytest

import fastssim
from images import DISTORTIONS, camera, colour, fit, noise
from naive import masked_ssim as _reference


def _hole(shape, seed=0):
    """An irregular region: a disc and a rectangle."""
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    m = (yy - shape[0] * 0.4) ** 2 + (xx - shape[1] * 0.55) ** 2 < (min(shape) * 0.2) ** 2
    m[shape[0] // 8:shape[0] // 4, shape[1] // 10:shape[1] // 2] = True
    return m


def test_ssim_of_a_region(backend):
    cam = camera()
    y = DISTORTIONS["jpeg"](cam)
    mask = _hole(cam.shape)
    cam, y, mask = fit(backend, cam, y, mask, at=(120, 170), size=(40, 48))  # the simulator: a crop
    want = _reference(cam, y, mask)
    assert fastssim.ssim(cam.astype(np.float64), y.astype(np.float64), data_range=255, mask=mask,
                         backend=backend) == pytest.approx(want, abs=1e-12 if backend == "cpu" else 1e-9)
    assert fastssim.ssim(cam, y, mask=mask, backend=backend) == pytest.approx(want, abs=1e-6)
    # 0/1 numbers as a mask, and everything selected: the plain SSIM
    assert fastssim.ssim(cam, y, mask=mask.astype(np.uint8)) == fastssim.ssim(cam, y, mask=mask)
    assert fastssim.ssim(cam, y, mask=np.ones(cam.shape, bool)) == pytest.approx(fastssim.ssim(cam, y), abs=1e-9)
    # the region scores differently from the whole image
    assert abs(fastssim.ssim(cam, y, mask=mask) - fastssim.ssim(cam, y)) > 1e-3


def test_colour_volumes_and_batches():
    rgb = colour()
    y = noise(rgb, 20.0)
    mask = _hole(rgb.shape[:2])
    assert fastssim.ssim(rgb, y, channel_axis=-1, mask=mask) == pytest.approx(
        _reference(rgb, y, mask, channel_axis=-1), abs=1e-6)
    vol = np.stack([camera()[8 * i:8 * i + 60, 5 * i:5 * i + 70] for i in range(16)]).astype(np.float64)
    dvol = np.clip(vol + np.random.default_rng(1).normal(0, 15, vol.shape), 0, 255)
    vmask = np.zeros(vol.shape, bool)
    vmask[4:12, 10:50, 20:60] = True
    assert fastssim.ssim(vol, dvol, data_range=255, mask=vmask) == pytest.approx(_reference(vol, dvol, vmask),
                                                                                  abs=1e-12)
    # batches: one mask for all pairs, or one per pair
    xs = np.stack([camera()[:200, :220], camera()[200:400, 200:420]])
    ys = np.stack([DISTORTIONS["blur"](a) for a in xs])
    m1 = _hole((200, 220))
    m2 = np.stack([m1, m1[::-1]])
    np.testing.assert_allclose(fastssim.ssim_batch(xs, ys, mask=m1),
                               [fastssim.ssim(a, b, mask=m1) for a, b in zip(xs, ys)], rtol=0, atol=1e-12)
    np.testing.assert_allclose(fastssim.ssim_batch(xs, ys, mask=m2),
                               [fastssim.ssim(a, b, mask=m) for a, b, m in zip(xs, ys, m2)], rtol=0, atol=1e-12)


def test_masked_errors():
    rgb = colour()
    y = noise(rgb, 20.0)
    mask = _hole(rgb.shape[:2])
    e = ((rgb.astype(np.float64) - y) ** 2)[mask].mean()
    assert fastssim.mse(rgb, y, mask=mask, channel_axis=-1) == pytest.approx(e, rel=1e-14)
    assert fastssim.psnr(rgb, y, mask=mask, channel_axis=-1) == pytest.approx(10 * np.log10(255 ** 2 / e), rel=1e-14)
    g, gy = rgb[..., 1], y[..., 1]
    assert fastssim.mse(g, gy, mask=mask) == pytest.approx(((g.astype(float) - gy) ** 2)[mask].mean(), rel=1e-14)


def test_mistakes():
    cam = camera()
    y = DISTORTIONS["jpeg"](cam)
    with pytest.raises(ValueError, match=r"mask has shape \(10, 10\); it must have the images' spatial shape"):
        fastssim.ssim(cam, y, mask=np.ones((10, 10), bool))
    with pytest.raises(ValueError, match="mask must hold only 0 and 1"):
        fastssim.ssim(cam, y, mask=np.full(cam.shape, 2))
    border = np.zeros(cam.shape, bool)
    border[:3] = True  # only pixels no window is centred on
    with pytest.raises(ValueError, match="the mask selects no window inside the image"):
        fastssim.ssim(cam, y, mask=border)
    with pytest.raises(ValueError, match="mask= works with the valid-region conventions"):
        fastssim.ssim(cam, y, mask=np.ones(cam.shape, bool), preset="torchmetrics")
    with pytest.raises(ValueError, match="the mask selects no element"):
        fastssim.mse(cam, y, mask=np.zeros(cam.shape, bool))
    with pytest.raises(ValueError, match=r"with channel_axis=-1 it must be \(512, 512\)"):
        fastssim.mse(colour(), colour(), mask=np.ones((10, 10), bool), channel_axis=-1)
    with pytest.raises(ValueError, match="data_range='per-pair' and mask= are not combined"):
        fastssim.ssim_batch(cam[None] / 255, y[None] / 255, data_range="per-pair", mask=np.ones(cam.shape, bool))


def test_slices_of_a_region():
    """ssim_slices_masked: each slice over its part of the region; slices the region misses are
    masked out (an organ present in some slices only), never NaN. (ssim_slices(mask=), its old
    spelling, gives the same with a DeprecationWarning.)"""
    cam = camera()
    vol = np.stack([cam[8 * i:8 * i + 96, 5 * i:5 * i + 120] for i in range(16)])
    dist = noise(vol, 15)
    mask = np.zeros(vol.shape, bool)
    mask[5:11, 30:70, 40:100] = True  # slices 5-10 only
    got = fastssim.ssim_slices_masked(vol, dist, mask, axis=0)
    with pytest.warns(DeprecationWarning, match=r"call ssim_slices_masked\(x, y, mask, ...\) instead"):
        old = fastssim.ssim_slices(vol, dist, axis=0, mask=mask)
    assert isinstance(old, np.ma.MaskedArray) and (old == got).all() and (old.mask == got.mask).all()
    assert type(fastssim.ssim_slices(vol, dist)) is np.ndarray
    assert isinstance(got, np.ma.MaskedArray) and list(got.mask) == [i not in range(5, 11) for i in range(16)]
    for i in range(5, 11):
        assert got[i] == pytest.approx(fastssim.ssim(vol[i], dist[i], mask=mask[i]), abs=1e-12)
    assert got.mean() == pytest.approx(np.mean([got[i] for i in range(5, 11)]), abs=1e-12)
    # along another axis, and with channels
    side = fastssim.ssim_slices_masked(vol, dist, mask, axis=2)
    for i in (45, 80):
        assert side[i] == pytest.approx(fastssim.ssim(vol[:, :, i], dist[:, :, i], mask=mask[:, :, i]), abs=1e-12)
    assert side.mask[0] and not side.mask[60]
    rgb, rgb_d = np.stack([vol] * 3, axis=-1), np.stack([dist, vol, dist], axis=-1)
    col = fastssim.ssim_slices_masked(rgb, rgb_d, mask, axis=0, channel_axis=-1)
    assert col[7] == pytest.approx(fastssim.ssim(rgb[7], rgb_d[7], channel_axis=-1, mask=mask[7]), abs=1e-12)
    with pytest.raises(ValueError, match="the mask selects no window inside any slice"):
        fastssim.ssim_slices_masked(vol, dist, np.zeros(vol.shape, bool))
    with pytest.raises(ValueError, match=r"mask shape \(16, 96\) does not match the volumes' spatial shape"):
        fastssim.ssim_slices_masked(vol, dist, mask[:, :, 0])
