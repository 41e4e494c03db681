"""Three-component SSIM (3-SSIM; Li and Bovik, 2010): the SSIM map pooled separately over edge,
texture and smooth regions and weighted 0.5 / 0.25 / 0.25, since errors at edges matter most to
viewers.

Regions follow the paper's rule on Sobel gradient magnitudes ``g`` of the reference and the
distorted image, against thresholds relative to the reference's largest magnitude
``gmax``: a pixel is *edge* when either ``g`` exceeds ``0.12 gmax``, *smooth* when the
reference's is below ``0.06 gmax`` and the distorted image's does not exceed ``0.12 gmax``,
*texture* otherwise. Each window of the SSIM map (fastssim's fused kernel, 'valid' region)
takes the class of its centre pixel; a region with no window drops out and the others'
weights are renormalised.
"""

import numpy as np

from .._types import ArrayLike, Backend, DataRange  # noqa: F401

from ..conventions import checks as v
from .structural import ssim_map

__all__ = ["three_ssim", "THREE_SSIM_WEIGHTS", "three_ssim_regions"]

#: Weights of the edge, texture and smooth regions (Li and Bovik, 2010).
THREE_SSIM_WEIGHTS = (0.5, 0.25, 0.25)
#: Thresholds on the gradient magnitude, relative to the reference's maximum.
EDGE_THRESHOLD, SMOOTH_THRESHOLD = 0.12, 0.06


def _sobel_magnitude(a):
    """Sobel gradient magnitude of a 2-D float64 array, borders by repeating the edge."""
    p = np.pad(a, 1, mode="edge")
    gx = (p[:-2, 2:] + 2 * p[1:-1, 2:] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[1:-1, :-2] + p[2:, :-2])
    gy = (p[2:, :-2] + 2 * p[2:, 1:-1] + p[2:, 2:]) - (p[:-2, :-2] + 2 * p[:-2, 1:-1] + p[:-2, 2:])
    return np.hypot(gx, gy)


def three_ssim_regions(x, y):
    """Per-pixel class of a 2-D pair for 3-SSIM's pooling: 0 edge, 1 texture, 2 smooth.

    Parameters
    ----------
    x, y : array_like
        The reference and the distorted image, 2-D, of one shape.

    Returns
    -------
    ndarray of uint8
        The images' shape: edge where either Sobel magnitude exceeds ``0.12 gmax`` (``gmax``
        the reference's largest), smooth where the reference's is below ``0.06 gmax`` and the
        distorted image's does not exceed ``0.12 gmax``, texture elsewhere.
    """
    gx = _sobel_magnitude(np.asarray(x, np.float64))
    gy = _sobel_magnitude(np.asarray(y, np.float64))
    gmax = gx.max()
    edge = (gx > EDGE_THRESHOLD * gmax) | (gy > EDGE_THRESHOLD * gmax)
    smooth = ~edge & (gx < SMOOTH_THRESHOLD * gmax) & (gy <= EDGE_THRESHOLD * gmax)
    regions = np.ones(gx.shape, np.uint8)
    regions[edge] = 0
    regions[smooth] = 2
    return regions


@v.accepts_tensors
def three_ssim(x: ArrayLike, y: ArrayLike, *, data_range: DataRange = None, channel_axis: int | None = None,
               win_size: int = 11, weights=THREE_SSIM_WEIGHTS, backend: Backend = "auto") -> float:
    """Three-component SSIM of two 2-D images (per channel, then the mean).

    Parameters
    ----------
    x, y : array_like
        2-D images of one shape, or colour images with ``channel_axis``.
    data_range : float, optional
        As for `fastssim.ssim` (from an integer dtype when not given).
    channel_axis : int, optional
        Colour axis: 3-SSIM per channel, regions from each channel's gradients, then the mean.
    win_size : int
        Taps of SSIM's Gaussian window (sigma 1.5).
    weights : tuple of three floats
        Edge, texture and smooth weights (the paper's 0.5, 0.25, 0.25).
    backend : {'auto', 'cpu', 'cuda'}
        Where the SSIM map is computed.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        For other than 2-D planes, bad weights, or what `fastssim.ssim_map` refuses.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> x = (np.arange(64 * 64) % 251).astype(np.uint8).reshape(64, 64)
    >>> fastssim.three_ssim(x, x)
    1.0
    """
    if v.is_device_array(x) or v.is_device_array(y):
        raise TypeError("three_ssim classifies pixels on the host: pass host (NumPy) arrays; backend='cuda' "
                        "computes their SSIM map on the GPU")
    x, y = v.check_pair(x, y, range_given=data_range is not None)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (3,) or not np.isfinite(w).all() or (w < 0).any() or w.sum() == 0:
        raise ValueError(f"weights must be three non-negative numbers (edge, texture, smooth), got {weights!r}")
    ca = None if channel_axis is None else v.normalise_axis(channel_axis, x.ndim, "channel_axis")
    if x.ndim - (ca is not None) != 2:
        raise ValueError(f"three_ssim takes 2-D images (plus a channel axis if set), got shape {x.shape}")
    smap = ssim_map(x, y, mode="valid", data_range=data_range, channel_axis=ca, win_size=win_size,
                    backend=backend)
    xs = [x] if ca is None else list(np.moveaxis(x, ca, 0))
    ys = [y] if ca is None else list(np.moveaxis(y, ca, 0))
    maps = [smap] if ca is None else list(np.moveaxis(smap, ca, 0))
    r = win_size // 2
    values = []
    for a, b, m in zip(xs, ys, maps):
        regions = three_ssim_regions(a, b)[r:a.shape[0] - r, r:a.shape[1] - r]
        present = [(w[k], m[regions == k].mean(dtype=np.float64)) for k in range(3)
                   if w[k] > 0 and (regions == k).any()]
        total = sum(wk for wk, _ in present)
        if total == 0:
            raise ValueError(f"no window falls in a region with weight (weights {tuple(weights)}, regions "
                             "edge/texture/smooth): give the regions present a weight")
        values.append(sum(wk * mk for wk, mk in present) / total)
    return float(np.mean(values))
