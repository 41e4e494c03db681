"""Complex-wavelet SSIM (CW-SSIM; Sampat, Wang, Gupta, Bovik and Markey, 2009).

SSIM computed on the coefficients of a complex steerable pyramid: since a small translation,
rotation or scaling changes mostly the coefficients' phase, and CW-SSIM compares their
magnitudes and the consistency of the phase difference across a window, it tolerates the small
geometric distortions that make SSIM drop.

The pyramid is the frequency-domain complex steerable pyramid of Portilla and Simoncelli
(``buildSCFpyr`` of matlabPyrTools), built with NumPy's FFT in float64; the index follows the
reference ``cwssim_index.m`` as pyiqa ports it: the band level ``levels`` of every orientation,
7x7 unweighted windows, ``(2 |sum c1 c2*| + K) / (sum |c1|^2 + sum |c2|^2 + K)``, pooled with
a Gaussian of standard deviation a quarter of the band's height, averaged over orientations.
"""

import math

import numpy as np

from .._types import ArrayLike, Backend, DataRange  # noqa: F401

from ..conventions import checks as v
from ..conventions import data_range as dr
from ..conventions import transforms as conv

__all__ = ["cw_ssim"]

#: Side of the unweighted window over the band coefficients.
CW_WINDOW = 7


def _grid(h, w):
    """log2 radius and angle of the centred frequency grid (the DC radius copied from its
    neighbour, so that its log is finite)."""
    ys = np.linspace(-(h // 2) / (h / 2), (h // 2) / (h / 2) - (1 - h % 2) * 2 / h, num=h)
    xs = np.linspace(-(w // 2) / (w / 2), (w // 2) / (w / 2) - (1 - w % 2) * 2 / w, num=w)
    xv, yv = np.meshgrid(xs, ys)
    rad = np.sqrt(xv ** 2 + yv ** 2)
    rad[h // 2, w // 2] = rad[h // 2, w // 2 - 1]
    return np.log2(rad), np.arctan2(yv, xv)


def _raised_cosine(width, position):
    """matlabPyrTools' ``rcosFn``: a lookup table of a raised-cosine transition."""
    n = 256
    x = np.pi * np.arange(-n - 1, 2) / 2 / n
    y = np.cos(x) ** 2
    y[0], y[n + 2] = y[1], y[n + 1]
    return position + 2 * width / np.pi * (x + np.pi / 4), y


def _lookup(values, table_y, table_x):
    return np.interp(values.ravel(), table_x, table_y).reshape(values.shape)


def steerable_bands(img, levels, orientations):
    """The complex oriented bands of every level of ``img``'s steerable pyramid (scale factor 2):
    a list of ``levels`` lists of ``orientations`` complex arrays, finest first."""
    h, w = img.shape
    log_rad, angle = _grid(h, w)
    xr, yr = _raised_cosine(1, -0.5)
    yr = np.sqrt(yr)
    yir = np.sqrt(1 - yr ** 2)
    dft = np.fft.fftshift(np.fft.fft2(img))
    lodft = dft * _lookup(log_rad, yir, xr)
    order = orientations - 1
    const = 2 ** (2 * order) * math.factorial(order) ** 2 / (orientations * math.factorial(2 * order))
    lut = 1024
    xcos = np.pi * np.arange(-(2 * lut + 1), lut + 2) / lut
    alpha = (xcos + np.pi) % (2 * np.pi) - np.pi
    ycos = 2 * np.sqrt(const) * np.cos(xcos) ** order * (np.abs(alpha) < np.pi / 2)
    phase = (-1j) ** order
    out = []
    for _ in range(levels):
        xr = xr - 1.0
        himask = _lookup(log_rad, yr, xr)
        bands = []
        for b in range(orientations):
            anglemask = _lookup(angle, ycos, xcos + np.pi * b / orientations)
            bands.append(np.fft.ifft2(np.fft.ifftshift(phase * lodft * anglemask * himask)))
        out.append(bands)
        dims = np.array(lodft.shape)
        start = (np.ceil((dims + 0.5) / 2) - np.ceil((np.ceil((dims - 0.5) / 2) + 0.5) / 2)).astype(int)
        end = (start + np.ceil((dims - 0.5) / 2)).astype(int)
        crop = (slice(start[0], end[0]), slice(start[1], end[1]))
        log_rad, angle, lodft = log_rad[crop], angle[crop], lodft[crop]
        lodft = lodft * _lookup(log_rad, np.abs(np.sqrt(1 - yr ** 2)), xr)
    return out


def _box_valid(a, k):
    """Means of the k x k windows inside ``a`` (complex or real), by cumulative sums."""
    c = np.cumsum(np.cumsum(np.pad(a, ((1, 0), (1, 0))), axis=0), axis=1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def _gaussian_weights(shape, sigma):
    """MATLAB ``fspecial('gaussian', shape, sigma)``, normalised."""
    m, n = [(s - 1.0) / 2.0 for s in shape]
    yy, xx = np.ogrid[-m:m + 1, -n:n + 1]
    g = np.exp(-(xx * xx + yy * yy) / (2.0 * sigma * sigma))
    g[g < np.finfo(g.dtype).eps * g.max()] = 0
    return g / g.sum()


def _cw_ssim_plane(x, y, levels, orientations, K, guard):
    bx = steerable_bands(x, levels, orientations)[levels - 1]
    by = steerable_bands(y, levels, orientations)[levels - 1]
    s = bx[0].shape
    gb = int(guard / 2 ** (levels - 1))
    weights = _gaussian_weights((s[0] - CW_WINDOW + 1 - 2 * gb, s[1] - CW_WINDOW + 1 - 2 * gb), s[0] / 4)
    values = []
    for b1, b2 in zip(bx, by):
        b1 = b1[gb:s[0] - gb, gb:s[1] - gb]
        b2 = b2[gb:s[0] - gb, gb:s[1] - gb]
        corr = _box_valid(b1 * np.conj(b2), CW_WINDOW)
        var = _box_valid(np.abs(b1) ** 2 + np.abs(b2) ** 2, CW_WINDOW)
        with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 (zero bands, K=0): refused below
            values.append(float(np.sum((2 * np.abs(corr) + K) / (var + K) * weights)))
    return float(np.mean(values))


@v.accepts_tensors
def cw_ssim(x: ArrayLike, y: ArrayLike, *, channel_axis: int | None = None, levels: int = 4, orientations: int = 8,
            K: float = 0.0, guard: int = 0, preset: str | None = None, data_range: DataRange = None) -> float:
    """Complex-wavelet structural similarity of two images.

    Parameters
    ----------
    x, y : array_like
        2-D images of one shape (at least ``2 ** (levels + 2)`` pixels per side), or colour
        images with ``channel_axis``.
    channel_axis : int, optional
        Colour axis: CW-SSIM per channel, then their mean (with ``preset="pyiqa"``: the
        Y of YIQ instead).
    levels, orientations : int
        Pyramid levels and orientations per level; the index uses the coarsest level's bands
        (the reference code's defaults: 4 and 8).
    K : float
        Stabilising constant (0 in the reference code; CW-SSIM does not depend on the data's
        scale when it is 0).
    guard : int
        Pixels of the image's border left out (divided by ``2 ** (levels - 1)`` at the band's
        scale).
    preset : {None, 'pyiqa'}
        'pyiqa': pyiqa's ``cw_ssim`` (the Y of YIQ of RGB input, scaled to [0, 255] and
        rounded, as its other SSIMs; ``data_range`` is then the input's range).
    data_range : float, optional
        Only with ``preset="pyiqa"`` (from an integer dtype when not given).

    Returns
    -------
    float
        1.0 for identical images; close to 1 for small translations.

    Raises
    ------
    ValueError
        For images too small for ``levels``, other than 2-D planes, or bad options.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> x = np.random.default_rng(0).random((64, 64))
    >>> round(fastssim.cw_ssim(x, x), 6)
    1.0
    >>> fastssim.cw_ssim(x, np.roll(x, 1, axis=1)) > fastssim.ssim(x, np.roll(x, 1, axis=1), data_range=1.0)
    True
    """
    x, y = v.check_pair(x, y)
    for name, val, low in (("levels", levels, 1), ("orientations", orientations, 1), ("guard", guard, 0)):
        if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {val!r}")
    if not (isinstance(K, (int, float)) and math.isfinite(K) and K >= 0):
        raise ValueError(f"K must be a finite number >= 0, got {K!r}")
    if preset not in (None, "pyiqa"):
        raise ValueError(f"cw_ssim knows the presets None and 'pyiqa', got {preset!r}")
    ca = None if channel_axis is None else v.normalise_axis(channel_axis, x.ndim, "channel_axis")
    if x.ndim - (ca is not None) != 2:
        raise ValueError(f"cw_ssim takes 2-D images (plus a channel axis if set), got shape {x.shape}")
    if preset == "pyiqa":
        L = dr.resolve(x, y, dr.check(data_range))
        to_y = ca is not None and x.shape[ca] == 3
        x, y = conv.pyiqa_levels(x, ca, L, to_y), conv.pyiqa_levels(y, ca, L, to_y)
        ca = None if to_y else ca
    elif data_range is not None:
        raise ValueError("data_range is used only with preset='pyiqa' (CW-SSIM with K=0 does not depend on it)")
    planes_x = [x] if ca is None else list(np.moveaxis(x, ca, 0))
    planes_y = [y] if ca is None else list(np.moveaxis(y, ca, 0))
    side = min(planes_x[0].shape)
    if levels > int(np.floor(np.log2(side))) - 2:
        raise ValueError(f"{levels} pyramid levels need images of at least {2 ** (levels + 2)} pixels per side, "
                         f"got {planes_x[0].shape}; pass fewer levels")
    if 2 * int(guard / 2 ** (levels - 1)) >= side / 2 ** (levels - 1) - CW_WINDOW + 1:
        raise ValueError(f"guard={guard} leaves no window in the level-{levels} bands")
    xv = [v_.astype(np.float64) for v_ in planes_x]
    yv = [v_.astype(np.float64) for v_ in planes_y]
    bad = [i for i, p in enumerate(xv + yv) if not np.isfinite(p).all()]
    if bad:
        raise ValueError(f"{'x' if bad[0] < len(xv) else 'y'} holds NaN or Inf")
    value = float(np.mean([_cw_ssim_plane(a, b, levels, orientations, K, guard) for a, b in zip(xv, yv)]))
    if not math.isfinite(value):
        raise ValueError("CW-SSIM is undefined here (a band of both images is zero everywhere with K=0): pass K > 0")
    return value
