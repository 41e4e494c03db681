"""The peers fastssim is measured against, each computing the same Gaussian SSIM
(11 taps, sigma 1.5, K = (0.01, 0.03), population covariance, mean over the
'valid' region)."""

import cv2
import numpy as np
from skimage.metrics import structural_similarity


def skimage_ssim(x, y, data_range, channel_axis=None):
    return structural_similarity(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=data_range, channel_axis=channel_axis)


def _opencv_plane(x, y, c1, c2):
    x = x.astype(np.float32)
    y = y.astype(np.float32)

    def blur(a):
        return cv2.GaussianBlur(a, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    vxy = blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s[5:-5, 5:-5].mean(dtype=np.float64))


def opencv_ssim(x, y, data_range, channel_axis=None):
    """The common cv2.GaussianBlur recipe (2-D, one plane at a time)."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    if channel_axis is None:
        return _opencv_plane(x, y, c1, c2)
    x = np.moveaxis(x, channel_axis, 0)
    y = np.moveaxis(y, channel_axis, 0)
    return float(np.mean([_opencv_plane(a, b, c1, c2) for a, b in zip(x, y)]))
