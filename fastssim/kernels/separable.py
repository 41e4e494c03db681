"""The host path of SSIM's moments for what the fused kernels do not take: inputs with other than 2
or 3 spatial axes, and windows whose taps do not sum to 1 (`ssim_map_separable`); and the float64
separable filter the gradient's reference and its host passes use (`separable_filter`)."""

import numpy as np

from .cpu import windows as _cpu_windows


def separable_filter(a, weights, spatial_ndim):
    """'valid' filtering of the last ``spatial_ndim`` axes of ``a`` (any number), in float64:
    one 1-D pass per axis. ``weights``: one 1-D array for every axis, or a list of one per
    axis (in the axes' order: an anisotropic window)."""
    per_axis = isinstance(weights, (list, tuple))
    for i, ax in enumerate(range(a.ndim - 1, a.ndim - 1 - spatial_ndim, -1)):
        w = tuple(float(v) for v in (weights[-1 - i] if per_axis else weights))
        src = np.swapaxes(a, ax, -1)
        n = src.shape[-1]
        out = np.empty(src.shape[:-1] + (n - len(w) + 1,), np.float64)
        if src.ndim == 5:
            _cpu_windows.filter_last_axis(src, w, out)
        else:
            _cpu_windows.filter_last_axis(src.reshape(1, 1, 1, -1, n), w, out.reshape(1, 1, 1, -1, out.shape[-1]))
        a = np.swapaxes(out, ax, -1)
    return a


def ssim_map_separable(x, y, spatial_ndim, weights, consts, shift=True):
    """The 'valid' SSIM map over the last ``spatial_ndim`` axes (any number), in float64,
    from four separable moment filters and `ssim_terms` over their elements: the path
    for inputs with other than 2 or 3 spatial axes, which the fused kernels do not take, and
    for windows whose taps do not sum to 1 (``shift=False``: moments of the raw values, since
    the means then do not move with an offset as the shifted form assumes)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    shx, shy = (float(x.mean()), float(y.mean())) if shift else (0.0, 0.0)
    x, y = x - shx, y - shy
    moments = np.stack([separable_filter(a, weights, spatial_ndim) for a in (x, y, x * x + y * y, (x - y) ** 2)])
    out = np.empty(moments[0].size)
    _cpu_windows.ssim_of_moments(moments.reshape(4, -1), shx, shy, consts.astype(np.float64), out)
    return out.reshape(moments.shape[1:])
