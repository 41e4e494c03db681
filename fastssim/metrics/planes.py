"""SSIM and MS-SSIM of each plane (or volume) of two stacks, with a window given by its taps:
the entry the drop-ins for other libraries (`fastssim.integrations`) compute through.

Another library's window is its own numbers (pytorch_msssim's Gaussian taps are float32
values, a user may pass a window tensor), and its channels are reduced by its own rule after
each plane's value is known (a ReLU per channel, then a mean). So these take the taps, return one
value per plane of a (P, H, W) or (P, D, H, W) stack and, on request, the gradient of each
plane's value with respect to ``y``; the caller reduces them. The stacks are float32 or float64
(the work dtype is theirs); the arguments are checked here, the numbers come from the kernels.
"""

from collections.abc import Sequence

import numpy as np

from ..conventions import checks as v
from ..kernels.engine import kernel_constants, raise_if_nonfinite, ssim_means
from ..kernels.math import axis_windows, valid_shape
from ..kernels.engine_gradient import ms_ssim_gradient, ssim_gradient_2d, ssim_gradient_3d, ssim_map_vjp
from ..kernels.engine_ms import CONVENTIONS, halve_by, ms_ssim_convention, ms_ssim_terms

__all__ = ["ssim_planes", "ms_ssim_planes", "ms_ssim_terms_planes", "ssim_map_planes", "ssim_map_planes_vjp",
           "halve_planes"]


def _checked(x, y, spatial_ndim, taps, data_range, K1, K2, eps=0.0, pad=0):
    """The stacks as C-contiguous float arrays, the taps (float64) and the kernel constants."""
    x, y = np.asarray(x), np.asarray(y)
    if x.shape != y.shape or x.ndim != spatial_ndim + 1:
        raise ValueError(f"expected two stacks of {spatial_ndim}-D planes of one shape, got {x.shape} and {y.shape}")
    wdt = np.dtype(np.float64) if np.float64 in (x.dtype, y.dtype) else np.dtype(np.float32)
    x = np.ascontiguousarray(x, dtype=wdt)
    y = np.ascontiguousarray(y, dtype=wdt)
    w = _windows(taps, spatial_ndim)
    wins = axis_windows(w, spatial_ndim)
    for a in wins:
        if a.size % 2 == 0 or not np.isfinite(a).all():
            raise ValueError(f"the window needs an odd number of finite taps, got {a.size}")
    if pad and min(x.shape[1:]) <= pad:
        raise ValueError(f"a reflection of {pad} samples needs every side longer than {pad}, got {x.shape[1:]}")
    sides = tuple(n + 2 * pad for n in x.shape[1:])
    if len({a.size for a in wins}) == 1:
        v.check_extent((x.shape[0], 1) + (1,) * (3 - spatial_ndim) + sides, wins[0].size, spatial_ndim, channel_axis=0)
    elif any(n < a.size for n, a in zip(sides, wins)):
        raise ValueError(f"win_size={'x'.join(str(a.size) for a in wins)} exceeds the image extent {sides}: every "
                         "spatial axis must be at least as long as its window; pass a smaller odd win_size")
    v.check_options(max(a.size for a in wins), 1.5, K1, K2, "cpu")
    if not (eps >= 0.0 and eps < float(np.finfo(wdt).max)):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    consts = kernel_constants(float(data_range), K1, K2, 1.0, wdt, eps=float(eps))
    return x, y, w, consts


def _windows(taps, spatial_ndim):
    """``taps`` as the kernels take it: one 1-D float64 window for every axis, or a list of one
    per axis (an anisotropic window; equal windows become one)."""
    if isinstance(taps, (list, tuple)) and len(taps) and all(np.ndim(t) == 1 for t in taps):
        wins = [np.asarray(t, dtype=np.float64).reshape(-1) for t in taps]
        if len(wins) != spatial_ndim:
            raise ValueError(f"an anisotropic window needs one window per spatial axis ({spatial_ndim}), got "
                             f"{len(wins)}")
        if all(a.shape == wins[0].shape and np.array_equal(a, wins[0]) for a in wins):
            return wins[0]
        return wins
    return np.asarray(taps, dtype=np.float64).reshape(-1)


def _five(a, spatial_ndim):
    return a[:, None, None] if spatial_ndim == 2 else a[:, None]


def ssim_planes(x, y, *, spatial_ndim: int, taps: Sequence[float], data_range: float, K1: float = 0.01,
                K2: float = 0.03, gradient: bool = False, cs_only: bool = False, pad: int = 0, eps: float = 0.0):
    """Mean SSIM over the 'valid' region of each plane, and its gradient with respect to ``y``.

    Parameters
    ----------
    x, y : ndarray
        Stacks (P, H, W) (``spatial_ndim=2``) or (P, D, H, W) (3), float32 or float64 (the
        work dtype: float64 if either is).
    spatial_ndim : {2, 3}
    taps : sequence of float
        The 1-D window, applied along every spatial axis (odd length; used as given).
    data_range, K1, K2 : float
        As for `fastssim.ssim`.
    gradient : bool
        Also return ``d values[p] / d y[p]``.
    cs_only : bool
        The mean contrast-structure term ``(2 vxy + C2) / (vx + vy + C2)`` instead (MS-SSIM's
        per-scale term).
    pad : int
        Score the planes extended by ``pad`` samples of PyTorch's reflection (the edge sample
        not repeated) on each side of every spatial axis (torchmetrics' and kornia's 'same'
        windows), read in place (the gradient is of the planes themselves: each reflected
        sample's share added to the sample it copies).
    eps : float
        Added to each window's denominator ``B1 B2`` (kornia's; 0: Wang et al.'s SSIM; the
        contrast-structure term takes none).

    Returns
    -------
    values : ndarray, float64, (P,)
    grad : ndarray of ``y``'s shape in the work dtype, or None

    Raises
    ------
    ValueError
        For stacks of different shapes, a side shorter than the window, an even window, and
        a value that is not finite (the diagnosed cause, naming the plane).
    """
    x, y, w, consts = _checked(x, y, spatial_ndim, taps, data_range, K1, K2, eps, pad)
    grad = None
    if not gradient:
        means, _ = ssim_means(_five(x, spatial_ndim), _five(y, spatial_ndim), spatial_ndim, w, consts,
                              want_cs=cs_only and "only", pad=pad, pad_mode="reflect")
        values = means[:, 0, 1 if cs_only else 0]
    else:
        fused = ssim_gradient_2d if spatial_ndim == 2 else ssim_gradient_3d
        values, grad = fused(x, y, w, consts.astype(np.float64), consts.dtype, cs_only=cs_only, pad=pad)
    raise_if_nonfinite(values, x, y, K1, K2, what="plane")
    return values, grad


def ms_ssim_planes(x, y, *, spatial_ndim: int, taps: Sequence[float], data_range: float,
                   level_weights: Sequence[float], convention: str = "wang", K1: float = 0.01, K2: float = 0.03,
                   gradient: bool = False):
    """MS-SSIM of each plane (one per plane, negative terms clamped to 0) and its gradient.

    Parameters
    ----------
    x, y, spatial_ndim, taps, data_range, K1, K2, gradient
        As for `ssim_planes`.
    level_weights : sequence of float
        One exponent per scale.
    convention : {'wang', 'pytorch_msssim'}
        The halving between scales (`fastssim.kernels.engine_ms.CONVENTIONS`): 2x2 block
        means with an odd edge averaged with itself, or with a zero before an odd side's first
        sample (pytorch_msssim's padded average pooling).

    Returns
    -------
    values : ndarray, float64, (P,)
    grad : ndarray of ``y``'s shape in the work dtype, or None

    Raises
    ------
    ValueError
        As `ssim_planes`, and for planes too small for the coarsest scale.
    """
    x, y, w, consts = _checked(x, y, spatial_ndim, taps, data_range, K1, K2)
    levels = v.check_level_weights(level_weights)
    if convention not in ("wang", "pytorch_msssim"):
        raise ValueError(f"convention must be 'wang' or 'pytorch_msssim', got {convention!r}")
    conv = CONVENTIONS[convention]
    x5, y5 = _five(x, spatial_ndim), _five(y, spatial_ndim)
    v.check_ms_extent(x5.shape, max(a.size for a in axis_windows(w, spatial_ndim)), spatial_ndim, len(levels))
    grad = None
    if gradient:
        values, grad = ms_ssim_gradient(x, y, w, consts.astype(np.float64), levels, consts.dtype, conv=conv)
    else:
        values = ms_ssim_convention(x5, y5, spatial_ndim, w, consts, levels, conv)[:, 0]
    raise_if_nonfinite(values, x, y, K1, K2, what="plane")
    return values, grad


def ms_ssim_terms_planes(x, y, *, spatial_ndim: int, taps: Sequence[float], data_range, levels: int,
                         K1: float = 0.01, K2: float = 0.03, convention: str = "torchmetrics"):
    """torchmetrics' (MONAI's) MS-SSIM terms of each plane, unclamped, shape (levels, P), float64:
    the mean contrast-structure term over the 'valid' windows at the finer scales and SSIM at the
    last, over the 'same' windows of the image extended by PyTorch's reflection (the 'valid'
    ones), the planes halved by ``avg_pool2d(2)`` between scales (both in one call). The caller
    pools channels and combines the scales by its own rule (without a gradient).

    Parameters
    ----------
    x, y, spatial_ndim, taps, K1, K2
        As for `ssim_planes`.
    data_range : float or None
        None: each scale's own, the larger ``max - min`` of the two stacks at that scale
        (torchmetrics' rule without ``data_range``).
    levels : int
        The number of scales (at least 1).
    convention : {'torchmetrics', 'monai'}

    Raises
    ------
    ValueError
        As `ssim_planes`, and for planes too small for the coarsest scale.
    """
    def span(a, b):
        return max(float(a.max() - a.min()), float(b.max() - b.min()))

    L = span(np.asarray(x), np.asarray(y)) if data_range is None else data_range
    x, y, w, consts = _checked(x, y, spatial_ndim, taps, L, K1, K2)
    x5, y5 = _five(x, spatial_ndim), _five(y, spatial_ndim)
    v.check_ms_extent(x5.shape, max(a.size for a in axis_windows(w, spatial_ndim)), spatial_ndim, levels, floor=True)

    def consts_at(xs, ys):
        return kernel_constants(span(xs, ys), K1, K2, 1.0, consts.dtype)

    if convention not in ("torchmetrics", "monai"):
        raise ValueError(f"convention must be 'torchmetrics' or 'monai', got {convention!r}")
    terms = ms_ssim_terms(x5, y5, spatial_ndim, w, consts, levels, CONVENTIONS[convention],
                          consts_at=None if data_range is not None else consts_at)[:, :, 0]
    raise_if_nonfinite(terms.sum(axis=0), x, y, K1, K2, what="plane")
    return terms


def ssim_map_planes(x, y, *, spatial_ndim: int, taps: Sequence[float], data_range: float, K1: float = 0.01,
                    K2: float = 0.03, eps: float = 0.0, pad: int = 0):
    """The 'valid' SSIM map of each plane (of the planes extended by ``pad``), shape (P, Ho, Wo)
    or (P, Do, Ho, Wo), in the work dtype; arguments and errors as for `ssim_planes` (no
    gradient), and ``eps`` added to each window's denominator (kornia's; 0: Wang et al.'s SSIM)."""
    x, y, w, consts = _checked(x, y, spatial_ndim, taps, data_range, K1, K2, eps, pad)
    _, smap = ssim_means(_five(x, spatial_ndim), _five(y, spatial_ndim), spatial_ndim, w, consts, want_map=True,
                         want_cs=False, pad=pad, pad_mode="reflect")
    smap = smap[:, 0, 0] if spatial_ndim == 2 else smap[:, 0]
    if not np.isfinite(smap).all():
        raise_if_nonfinite(smap.reshape(smap.shape[0], -1).sum(axis=1), x, y, K1, K2, what="plane")
    return smap


def ssim_map_planes_vjp(x, y, upstream, *, spatial_ndim: int, taps: Sequence[float], data_range: float,
                        K1: float = 0.01, K2: float = 0.03, eps: float = 0.0, pad: int = 0):
    """The gradient with respect to ``y`` of ``sum(upstream * ssim_map_planes(x, y, ...))``: the
    vector-Jacobian product of the map (the map is symmetric in ``x`` and ``y``: swap them for
    ``x``'s).

    Parameters
    ----------
    x, y, spatial_ndim, taps, data_range, K1, K2, eps, pad
        As for `ssim_map_planes`.
    upstream : ndarray
        The map's shape: the weight of each window's SSIM.

    Returns
    -------
    ndarray of ``y``'s shape, in the work dtype

    Raises
    ------
    ValueError
        As `ssim_map_planes`, and for an ``upstream`` of another shape than the map.
    """
    x, y, w, consts = _checked(x, y, spatial_ndim, taps, data_range, K1, K2, eps, pad)
    valid = x.shape[:1] + valid_shape(x.shape[1:], (a.size for a in axis_windows(w, spatial_ndim)), pad)
    up = np.asarray(upstream)
    if up.shape != valid:
        raise ValueError(f"upstream must have the map's shape {valid}, got {up.shape}")
    return ssim_map_vjp(x, y, w, consts.astype(np.float64), consts.dtype, up, pad=pad)


def halve_planes(a, *, spatial_ndim: int):
    """The 2x2 (2x2x2) means of each plane (volume) of a stack, an odd side's last sample dropped:
    PyTorch's ``avg_pool2d(a, 2)`` (``avg_pool3d``) by fastssim's halving kernel. Its 2-D means
    are PyTorch's bitwise; 3-D ones add their eight samples in another order (within 1 ulp).

    Parameters
    ----------
    a : ndarray, float32 or float64
        (P, H, W) or (P, D, H, W).
    spatial_ndim : {2, 3}

    Returns
    -------
    ndarray, ``a``'s dtype, (P, H // 2, W // 2) or (P, D // 2, H // 2, W // 2)

    Raises
    ------
    ValueError
        For another shape or dtype, or a side shorter than 2.
    """
    a = np.asarray(a)
    if a.ndim != spatial_ndim + 1 or a.dtype not in (np.float32, np.float64) or min(a.shape[1:]) < 2:
        raise ValueError(f"expected a float32 or float64 stack of {spatial_ndim}-D planes with sides of at least 2, "
                         f"got {a.dtype} {a.shape}")
    out = halve_by(_five(a, spatial_ndim), CONVENTIONS["torchmetrics"], spatial_ndim, a.dtype)
    return out[:, 0, 0] if spatial_ndim == 2 else out[:, 0]
