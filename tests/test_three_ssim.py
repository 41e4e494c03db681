"""3-SSIM (Li and Bovik 2010) against a transcription of the paper's definition (no
implementation installs here), on real photographs and real distortions."""

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage
from skimage.metrics import structural_similarity

import fastssim
from fastssim.batch import score_dataset
from images import DISTORTIONS, camera, colour


def _paper(x, y, data_range=255.0, weights=(0.5, 0.25, 0.25)):
    """Edge: either Sobel magnitude above 0.12 of the reference's maximum; smooth: the
    reference's below 0.06 and the distorted one's not above 0.12; texture: the rest. Wang's
    SSIM map (11-tap Gaussian 1.5, windows inside the image), each window classed by its centre,
    pooled per region and weighted 0.5 / 0.25 / 0.25 over the regions present."""
    x, y = x.astype(np.float64), y.astype(np.float64)

    def grad(a):
        return np.hypot(ndimage.sobel(a, axis=1, mode="nearest"), ndimage.sobel(a, axis=0, mode="nearest"))
    gx, gy = grad(x), grad(y)
    t1, t2 = 0.12 * gx.max(), 0.06 * gx.max()
    edge = (gx > t1) | (gy > t1)
    smooth = ~edge & (gx < t2) & (gy <= t1)
    texture = ~edge & ~smooth
    _, smap = structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=data_range, full=True)
    inner = (slice(5, -5), slice(5, -5))
    parts = [(w, smap[inner][m[inner]].mean()) for w, m in zip(weights, (edge, texture, smooth))
             if m[inner].any() and w > 0]
    return sum(w * v for w, v in parts) / sum(w for w, _ in parts)


@pytest.mark.parametrize("distortion", sorted(DISTORTIONS))
def test_equals_the_papers_definition(distortion):
    for img in (camera(), colour()[..., 1]):
        y = DISTORTIONS[distortion](img)
        want = _paper(img, y)
        assert fastssim.three_ssim(img.astype(np.float64), y.astype(np.float64), data_range=255) == pytest.approx(
            want, abs=1e-10)
        assert fastssim.three_ssim(img, y) == pytest.approx(want, abs=1e-5)  # uint8: float32 map
        # edges weigh most: 3-SSIM is not SSIM
        assert abs(fastssim.three_ssim(img, y) - fastssim.ssim(img, y)) > 1e-3


def test_colour_weights_and_mistakes():
    rgb = colour()
    y = DISTORTIONS["jpeg"](rgb, -1)
    per = [_paper(rgb[..., k], y[..., k]) for k in range(3)]
    assert fastssim.three_ssim(rgb, y, channel_axis=-1) == pytest.approx(np.mean(per), abs=1e-5)
    cam = camera()
    jp = DISTORTIONS["jpeg"](cam)
    # other weights: one region alone is that region's mean
    for w in ((1, 0, 0), (0, 1, 0), (0, 0, 1)):
        assert fastssim.three_ssim(cam, jp, weights=w) == pytest.approx(_paper(cam, jp, weights=w), abs=1e-5)
    assert fastssim.three_ssim(cam, cam) == 1.0
    flat = np.full((64, 64), 7, np.uint8)  # no gradient: every window smooth
    with pytest.raises(ValueError, match="no window falls in a region with weight"):
        fastssim.three_ssim(flat, flat, weights=(1, 0, 0))
    with pytest.raises(ValueError, match="weights must be three non-negative numbers"):
        fastssim.three_ssim(cam, jp, weights=(1, -1, 0))
    with pytest.raises(ValueError, match="three_ssim takes 2-D images"):
        fastssim.three_ssim(np.zeros((12, 32, 32)), np.zeros((12, 32, 32)), data_range=1.0)
    with pytest.raises(ValueError, match="data_range is required for floating-point input"):
        fastssim.three_ssim(cam / 255.0, jp / 255.0)


def test_scored(tmp_path):
    import imageio.v3 as iio
    cam = camera()
    (tmp_path / "ref").mkdir()
    (tmp_path / "dist").mkdir()
    pairs = []
    for i in range(3):
        x = cam[120 * i:120 * i + 128, 100 * i:100 * i + 140]
        iio.imwrite(tmp_path / "ref" / f"{i}.png", x)
        iio.imwrite(tmp_path / "dist" / f"{i}.png", DISTORTIONS["blur"](x))
        pairs.append((str(tmp_path / "ref" / f"{i}.png"), str(tmp_path / "dist" / f"{i}.png")))
    out = tmp_path / "out"
    score_dataset(pairs, out=str(out), metrics=("three_ssim", "cw_ssim"))
    df = pd.read_parquet(out)
    for row in df.itertuples():
        x = iio.imread(tmp_path / "ref" / row.ref)
        y = iio.imread(tmp_path / "dist" / row.dist)
        assert row.status == "ok"
        assert row.three_ssim == pytest.approx(fastssim.three_ssim(x, y), abs=1e-12)
        assert row.cw_ssim == pytest.approx(fastssim.cw_ssim(x, y), abs=1e-12)
