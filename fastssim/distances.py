"""Pixel-wise distances: MSE and PSNR of one pair, and MSE of a batch of pairs.

Computed in float64 by the error kernels (``_engine.squared_error_means``), on the CPU or
the GPU; 64-bit integers beyond 2^53 are shifted by their common minimum first.
"""

import numpy as np

from . import _validate as v
from ._engine import raise_if_nonfinite, resolve_backend, squared_error_means
from ._math import psnr_from_mse

__all__ = ["mse", "psnr", "mse_batch"]


def _flat5(a):
    """A 5-D view of an array of any shape, for the error kernels."""
    if a.ndim <= 5:
        return a.reshape((1,) * (5 - a.ndim) + a.shape)
    return a.reshape((1, 1, 1, -1, a.shape[-1]))


def _mse(x, y, backend):
    v.check_options(11, 1.5, 0.01, 0.03, backend)
    devices = (x if v.is_device_array(x) else None, y if v.is_device_array(y) else None)
    x, y = v.check_pair(x, y)
    if devices != (None, None):
        v.check_device_dtypes(x, y, devices)
        if x.ndim > 5:
            raise ValueError(f"GPU arrays with more than 5 axes are not supported, got shape {x.shape}")
        xk, yk = x, y
    else:
        xk, yk = v.kernel_inputs(*v.without_common_offset(x, y), np.dtype(np.float64))
    where = resolve_backend(backend, *devices, x.size)
    value = squared_error_means(_flat5(xk), _flat5(yk), backend=where, devices=devices)[0]
    xs = devices[0] if devices[0] is not None else x
    ys = devices[1] if devices[1] is not None else y
    raise_if_nonfinite(value, xs, ys, 1, 1)
    return x, y, float(value)


@v.accepts_tensors
def mse(x, y, *, backend="auto"):
    """Mean squared error, computed in float64.

    Parameters
    ----------
    x, y : array_like
        Arrays of one shape (any number of axes), any real dtype.
    backend : {'auto', 'cpu', 'cuda'}, optional
        Where to compute.

    Returns
    -------
    float

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
    return _mse(x, y, backend)[2]


@v.accepts_tensors
def psnr(x, y, *, data_range=None, backend="auto"):
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
    xh, yh = v.check_pair(x, y, range_given=data_range is not None)
    L = v.resolve_data_range(xh, yh, data_range)
    return psnr_from_mse(_mse(x, y, backend)[2], L)


@v.accepts_tensors
def mse_batch(x, y, *, backend="auto"):
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
    rows = _flat5(xk[0]).shape  # each pair as mse sees it: the same rows, the same sums
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
