"""Pixel-wise distances: MSE and PSNR of one pair, MSE of a batch of pairs (L2 and cosine: `products`,
from the same views and sums).

Computed in float64 by the error kernels (``kernels.engine.squared_error_means``,
``kernels.engine.product_sums``: one pass gives both L2 and cosine), on the CPU or the GPU; for MSE,
64-bit integers beyond 2^53 are shifted by their common minimum first (cosine is not
shift-invariant, so L2 and cosine read the values as they are, converted to float64).
"""

import numpy as np

from .._types import ArrayLike, Backend, DataRange  # noqa: F401

from ..kernels.cpu import reduce as _cpu_reduce
from ..conventions import checks as v
from ..conventions import data_range as dr
from ..kernels import ahead
from ..kernels.engine import (product_sums, raise_if_nonfinite, readonly, resolve_backend, squared_error_call,
                              squared_error_means)
from ..kernels.math import psnr_from_mse

__all__ = ["mse", "psnr", "mse_batch"]


def _flat5(a):
    """A 5-D view of an array of any shape, for the error kernels."""
    if a.ndim <= 5:
        return a.reshape((1,) * (5 - a.ndim) + a.shape)
    return a.reshape((1, 1, 1, -1, a.shape[-1]))


def mse_ahead(x, y, backend="auto"):
    """On a process's first MSE, its kernel for ``x`` and ``y`` put aside for the helper process
    that the next kernel's first call in this thread starts (SSIM's: `kernels.ahead.later`): the
    `ahead.Pending` to wait on before `mse` of the same arrays. Nothing is put aside for GPU
    arrays or the GPU backend, inputs the call would convert first, or a kernel already compiled
    or cached."""
    if not ahead.cold(_cpu_reduce.squared_error_sums) or v.is_device_array(x) or v.is_device_array(y):
        return ahead.Pending()
    if x.shape != y.shape or x.dtype != y.dtype or x.dtype not in v.HOST_KERNEL_DTYPES \
            or resolve_backend(backend, None, None, x.size) != "cpu":
        return ahead.Pending()  # the call itself says what is wrong, or converts (a copy) first
    return ahead.later(squared_error_call(*_host_views(x, y)))


def _host_views(x, y):
    """The 5-D views of host arrays that `_mse` gives the error kernel (64-bit integers beyond
    2^53 shifted, other dtypes converted to float64 first)."""
    return _rows5(*v.kernel_inputs(*v.without_common_offset(x, y), np.dtype(np.float64)))


def _masked_mse(x, y, mask, channel_axis):
    """MSE over the elements ``mask`` selects (host arrays; the mask without the channel axis
    when ``channel_axis`` is given, else of the arrays' shape)."""
    m = v.mask_values(mask)
    if channel_axis is not None:
        ca = v.normalise_axis(channel_axis, x.ndim, "channel_axis")
        want = x.shape[:ca] + x.shape[ca + 1:]
        if m.shape != want:
            raise ValueError(f"mask has shape {m.shape}; with channel_axis={channel_axis} it must be {want}")
        m = np.expand_dims(m, ca)
    elif m.shape != x.shape:
        raise ValueError(f"mask has shape {m.shape}; it must be the arrays' shape {x.shape} (or pass channel_axis "
                         "for a mask shared by the channels)")
    xk, yk = v.kernel_inputs(*v.without_common_offset(x, y), np.dtype(np.float64))
    x5, y5 = _flat5(xk), _flat5(yk)
    m5 = _flat5(np.ascontiguousarray(np.broadcast_to(m.astype(np.uint8), x.shape)))
    out = np.empty((int(np.prod(x5.shape[:4])), 2))
    _cpu_reduce.masked_squared_error_sums(readonly(x5), readonly(y5), readonly(m5), out)
    total, count = out.sum(axis=0)
    if count == 0:
        raise ValueError("the mask selects no element")
    return total / count


def _mse(x, y, backend, mask=None, channel_axis=None):
    v.check_options(11, 1.5, 0.01, 0.03, backend)
    devices = (x if v.is_device_array(x) else None, y if v.is_device_array(y) else None)
    if mask is not None and devices != (None, None):
        raise TypeError("mask= takes host (NumPy) arrays; copy the GPU arrays to the host")
    x, y = v.check_pair(x, y)
    if channel_axis is not None:  # the colour axis: checked with or without a mask
        v.normalise_axis(channel_axis, x.ndim, "channel_axis")
    if mask is not None:
        value = _masked_mse(x, y, mask, channel_axis)
        raise_if_nonfinite(value, x, y, 1, 1)
        return x, y, float(value)
    if devices != (None, None):
        v.check_device_dtypes(x, y, devices)
        if x.ndim > 5:
            raise ValueError(f"GPU arrays with more than 5 axes are not supported, got shape {x.shape}")
    where = resolve_backend(backend, *devices, x.size)
    x5, y5 = (_flat5(x), _flat5(y)) if devices != (None, None) else _host_views(x, y)  # GPU: views of any strides
    value = squared_error_means(x5, y5, backend=where, devices=devices)[0]
    xs = devices[0] if devices[0] is not None else x
    ys = devices[1] if devices[1] is not None else y
    raise_if_nonfinite(value, xs, ys, 1, 1)
    return x, y, float(value)


@v.accepts_tensors
def mse(x: ArrayLike, y: ArrayLike, *, backend: Backend = "auto", mask: ArrayLike | None = None,
        channel_axis: int | None = None) -> float:
    """Mean squared error, computed in float64.

    Parameters
    ----------
    x, y : array_like
        Arrays of one shape (any number of axes), any real dtype.
    backend : {'auto', 'cpu', 'cuda'}, optional
        Where to compute.
    mask : array_like of bool, optional
        The mean over the elements where ``mask`` is true: of the arrays' shape, or without
        the channel axis when ``channel_axis`` is given (one mask for every channel). Host
        arrays; a compiled masked reduction.
    channel_axis : int, optional
        The colour axis, as for `ssim`: the value is over every channel (which is also the
        mean of the per-channel MSEs); with ``mask``, the mask covers the other axes.

    Returns
    -------
    float
        The mean of ``(x - y) ** 2``, in float64.

    Raises
    ------
    ValueError, TypeError
        For mismatched shapes, empty, NaN/Inf or non-numeric input.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> fastssim.mse(np.array([1, 2, 3]), np.array([1, 2, 5]))
    1.3333333333333333
    """
    return _mse(x, y, backend, mask, channel_axis)[2]


@v.accepts_tensors
def psnr(x: ArrayLike, y: ArrayLike, *, data_range: DataRange = None, backend: Backend = "auto",
         mask: ArrayLike | None = None, channel_axis: int | None = None) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(L^2 / MSE)``.

    Parameters
    ----------
    x, y : array_like
        Arrays of one shape, any real dtype.
    data_range : float, optional
        The range L; defaults to that of an integer dtype, required for float
        input.
    backend : {'auto', 'cpu', 'cuda'}, optional
        Where to compute.
    mask, channel_axis : optional
        As for `mse`: PSNR of the masked elements.

    Returns
    -------
    float
        ``inf`` for identical inputs (MSE 0), as scikit-image.

    Raises
    ------
    ValueError, TypeError
        As for `mse`, and for a missing or invalid ``data_range``.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> x = np.full((8, 8), 100, np.uint8)
    >>> round(fastssim.psnr(x, x + 5), 2)
    34.15
    """
    data_range = dr.check(data_range)
    xh, yh = v.check_pair(x, y, range_given=data_range is not None)
    L = dr.resolve(xh, yh, data_range)
    return psnr_from_mse(_mse(x, y, backend, mask, channel_axis)[2], L)


@v.accepts_tensors
def mse_batch(x: ArrayLike, y: ArrayLike, *, backend: Backend = "auto") -> np.ndarray:
    """Mean squared error of each pair of a stack, in float64.

    Parameters
    ----------
    x, y : array_like
        Stacks of pairs along axis 0, of one shape (any number of further axes; at most 4
        for GPU arrays). Host arrays, or GPU arrays (``__cuda_array_interface__``) of one
        dtype, read in place.
    backend : {'auto', 'cpu', 'cuda'}, optional
        Where to compute.

    Returns
    -------
    ndarray, float64, (N,)
        ``mse(x[i], y[i])`` for every i, equal to it bit for bit (on the same backend).

    Raises
    ------
    ValueError, TypeError
        As for `mse`; a pair with NaN or Inf is named by its index.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> x = np.zeros((2, 4, 4), np.uint8); y = x.copy(); y[1] += 2
    >>> fastssim.mse_batch(x, y).tolist()
    [0.0, 4.0]
    """
    v.check_options(11, 1.5, 0.01, 0.03, backend)
    devices = (x if v.is_device_array(x) else None, y if v.is_device_array(y) else None)
    x, y = v.check_pair(x, y)
    if x.ndim < 2:
        raise ValueError(f"mse_batch needs stacks of pairs (N, ...), got shape {x.shape}")
    if devices != (None, None):
        v.check_device_dtypes(x, y, devices)
        if x.ndim > 5:
            raise ValueError(f"GPU stacks with more than 4 axes per pair are not supported, got shape {x.shape}")
        if not (x.flags.c_contiguous and y.flags.c_contiguous):
            raise ValueError("mse_batch reads GPU stacks in place and needs them C-contiguous; pass "
                             "cupy.ascontiguousarray(x) (or tensor.contiguous())")
        xk, yk = x, y
    else:
        xk, yk = v.kernel_inputs(*v.without_common_offset(x, y), np.dtype(np.float64))
    where = resolve_backend(backend, *devices, x.size)
    n = x.shape[0]
    rows = (_flat5(xk[0]) if devices != (None, None) else _rows5(xk[0], yk[0])[0]).shape  # as mse sees a pair
    x5 = xk.reshape((n,) + rows[1:]) if rows[0] == 1 else None
    if x5 is None:  # more than 5 axes per pair (host only): one call per pair
        values = np.array([squared_error_means(_flat5(xk[i]), _flat5(yk[i]))[0] for i in range(n)])
    else:
        values = squared_error_means(x5, yk.reshape(x5.shape), backend=where, devices=devices)
    xs = devices[0] if devices[0] is not None else x
    ys = devices[1] if devices[1] is not None else y
    for i in np.flatnonzero(~np.isfinite(values)):
        raise_if_nonfinite(values[i], xs[i], ys[i], 1, 1, what=f"pair {i}")
    return values


def _channel_axis(channel_axis, ndim):
    if channel_axis is None:
        return None
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)) \
            or not -ndim <= channel_axis < ndim:
        raise ValueError(f"channel_axis must be an axis of the images (from {-ndim} to {ndim - 1}) or None, "
                         f"got {channel_axis!r}")
    return int(channel_axis) % ndim


#: Elements per row the kernels' tasks sum, at least (a row is one parallel task).
ROW_ELEMENTS = 2048


def _rows5(a, b, channels_first=False):
    """(1, C, 1, R, L) views of ``a`` and ``b`` (one shape) for the error kernels: each
    channel's elements (C = 1 without channels) in R rows of L, L the product of the trailing
    axes from the last until it reaches `ROW_ELEMENTS`, so that rows are long enough to
    vectorise and many enough to share out (an RGB image's last axis alone would make rows of
    3). Only when both are C-contiguous are they regrouped (views); otherwise both keep their
    own rows (`_flat5`; channels first: a reshape), so the two always have the same rows."""
    if not (a.flags.c_contiguous and b.flags.c_contiguous):
        if channels_first:
            return a.reshape(1, a.shape[0], 1, 1, -1), b.reshape(1, b.shape[0], 1, 1, -1)
        return _flat5(a), _flat5(b)
    C = a.shape[0] if channels_first else 1
    L = 1
    for n in reversed(a.shape[1:] if channels_first else a.shape):
        L *= n
        if L >= ROW_ELEMENTS:
            break
    shape = (1, C, 1, -1, max(L, 1))
    return a.reshape(shape), b.reshape(shape)


def _product_sums(x, y, channel_axis, backend):
    """``(sums, x, y)``: the float64 sums (sum (x-y)^2, sum xy, sum x^2, sum y^2), shape (4,),
    or (C, 4) per channel."""
    v.check_options(11, 1.5, 0.01, 0.03, backend)
    devices = (x if v.is_device_array(x) else None, y if v.is_device_array(y) else None)
    x, y = v.check_pair(x, y)
    ax = _channel_axis(channel_axis, x.ndim)
    if devices != (None, None):
        v.check_device_dtypes(x, y, devices)
        if ax is not None or x.ndim > 5:
            raise ValueError("l2 and cosine of GPU arrays are computed over the whole array (channel_axis=None, "
                             "at most 5 axes); for per-channel values call them per channel (x[..., c]) or "
                             "pass host arrays")
        x5, y5 = _flat5(x), _flat5(y)
    else:
        xk, yk = v.kernel_inputs(x, y, np.dtype(np.float64))
        if ax is not None:  # channels on the kernels' channel axis
            xk, yk = np.moveaxis(xk, ax, 0), np.moveaxis(yk, ax, 0)
        x5, y5 = _rows5(xk, yk, ax is not None)
    where = resolve_backend(backend, *devices, x.size)
    sums = product_sums(x5, y5, backend=where, devices=devices)[0]  # (C of the 5-D view, 4)
    sums = sums.sum(axis=0) if ax is None else sums
    if not np.isfinite(sums).all():
        raise v.nonfinite_input(devices[0] if devices[0] is not None else x,
                                devices[1] if devices[1] is not None else y) or ValueError(
            "the sums of squares exceed the float64 range (values above about 1e154): divide both images "
            "by one constant first (L2 scales with it; cosine does not change)")
    return sums, x, y
