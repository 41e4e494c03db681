"""A naive, obviously-correct SSIM: SciPy filters on full-size float64 maps.

Every backend is checked against this, and this against scikit-image.
"""

import numpy as np
from scipy import ndimage


def window(win_size, sigma=1.5, gaussian=True):
    if not gaussian:
        return np.full(win_size, 1.0 / win_size)
    t = np.arange(win_size) - win_size // 2
    w = np.exp(-0.5 * (t / sigma) ** 2)
    return w / w.sum()


def _filter(a, w):
    for axis in range(a.ndim):
        a = ndimage.correlate1d(a, w, axis=axis, mode="reflect")
    return a


def ssim_map(x, y, data_range, win_size=11, sigma=1.5, gaussian=True, K1=0.01, K2=0.03,
             sample_covariance=False, mode="same"):
    """The SSIM map, with Wang et al.'s formula, in float64."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = window(win_size, sigma, gaussian)
    n = win_size ** x.ndim
    cov_norm = n / (n - 1) if sample_covariance else 1.0
    ux, uy = _filter(x, w), _filter(y, w)
    vx = cov_norm * (_filter(x * x, w) - ux * ux)
    vy = cov_norm * (_filter(y * y, w) - uy * uy)
    vxy = cov_norm * (_filter(x * y, w) - ux * uy)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    if mode == "valid":
        r = win_size // 2
        s = s[tuple(slice(r, n - r) for n in s.shape)]
    return s


def ssim(x, y, data_range, **kw):
    """Mean SSIM over the 'valid' region."""
    return float(ssim_map(x, y, data_range, mode="valid", **kw).mean())


def ssim_cs_means(x, y, data_range, win_size=11, sigma=1.5, K1=0.01, K2=0.03):
    """Mean SSIM and mean contrast-structure term over the 'valid' region."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = window(win_size, sigma)
    ux, uy = _filter(x, w), _filter(y, w)
    vx = _filter(x * x, w) - ux * ux
    vy = _filter(y * y, w) - uy * uy
    vxy = _filter(x * y, w) - ux * uy
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    cs = (2 * vxy + c2) / (vx + vy + c2)
    s = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1) * cs
    r = win_size // 2
    inner = tuple(slice(r, n - r) for n in s.shape)
    return s[inner].mean(), cs[inner].mean()


def halve(a):
    """msssim.m's downsampling: imfilter(a, ones(2)/4, 'symmetric') then a(1:2:end, ...)."""
    a = np.pad(a, [(0, n % 2) for n in a.shape], mode="edge")
    for axis in range(a.ndim):
        a = 0.5 * (np.take(a, np.arange(0, a.shape[axis], 2), axis) + np.take(a, np.arange(1, a.shape[axis], 2), axis))
    return a


def ms_ssim(x, y, data_range, weights=(0.0448, 0.2856, 0.3001, 0.2363, 0.1333), win_size=11, sigma=1.5):
    """Wang's msssim.m, with negative terms clamped at 0."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    value = 1.0
    for level, w in enumerate(weights):
        s, cs = ssim_cs_means(x, y, data_range, win_size, sigma)
        term = s if level == len(weights) - 1 else cs
        value *= max(term, 0.0) ** w
        x, y = halve(x), halve(y)
    return value


def wang(x, y, **kw):
    """The oracle: scikit-image configured as Wang et al. (fastssim's defaults: an 11-tap Gaussian of
    sigma 1.5, population covariance, data range 255 unless given)."""
    from skimage.metrics import structural_similarity

    kw.setdefault("data_range", 255)
    kw.setdefault("sigma", 1.5)
    return structural_similarity(x, y, gaussian_weights=True, use_sample_covariance=False, **kw)


def masked_ssim(x, y, mask, L=255.0, channel_axis=None):
    """Mean of the oracle's map (Gaussian 1.5, population covariance) over the windows inside the
    image centred on masked pixels (11-tap window: 5 pixels from every border); the mean over
    channels."""
    _, S = wang(x.astype(np.float64), y.astype(np.float64), data_range=L, full=True, channel_axis=channel_axis)
    inner = tuple(slice(5, -5) for _ in range(mask.ndim))
    if channel_axis is None:
        return S[inner][mask[inner]].mean()
    S = np.moveaxis(S, channel_axis, 0)
    return np.mean([s[inner][mask[inner]].mean() for s in S])
