"""Input checks and preparation: everything between the caller and a kernel.

Nothing here computes a metric. Functions raise ``TypeError`` or
``ValueError`` with a message that names the problem and what to pass
instead, and turn valid input into the 5-D ``(N, C, D, H, W)`` views the
kernels take, without copying unless a dtype conversion is unavoidable.
"""

import functools
import math
import numbers
from collections.abc import Callable
from typing import Any, TypeVar, cast

import numpy as np

from ..kernels.arrays import HOST_KERNEL_DTYPES, KERNEL_DTYPES, cuda_interface, is_device_array, spatial_order  # noqa: F401
from ..kernels.diagnose import diagnose_nonfinite, nonfinite_error, nonfinite_input  # noqa: F401

from ..config import BACKENDS


def detached(a):
    """``a``, or its value without the autograd graph for a tensor that requires grad (PyTorch
    refuses to export those to NumPy or through ``__cuda_array_interface__``)."""
    if getattr(a, "requires_grad", False) is True and callable(getattr(a, "detach", None)):
        return a.detach()
    return a


F = TypeVar("F", bound=Callable[..., Any])


def accepts_tensors(f: F) -> F:
    """Let metric ``f(x, y, ...)`` take tensors that require grad: their values are scored. A
    thread's first call sets its default thread count (`kernels.cpu.threads.thread_policy`: a
    container's CPU quota, torch's count in a data-loader worker)."""
    from ..kernels.cpu.threads import thread_policy

    @functools.wraps(f)
    def wrapper(x, y, *args, **kwargs):
        thread_policy()
        return f(detached(x), detached(y), *args, **kwargs)
    return cast(F, wrapper)


def _device_proxy(a):
    """A host array over no memory with the shape, strides and dtype of device array ``a``."""
    _, shape, strides, dtype = cuda_interface(a)
    return np.lib.stride_tricks.as_strided(np.zeros(1, dtype), shape, strides)


def as_image(a: Any, name: str) -> np.ndarray:
    """``a`` as an ndarray of a real numeric dtype (no copy for ndarrays).

    For GPU arrays, a host proxy with the same shape, strides and dtype (over no
    memory: only its metadata may be used). ndarray subclasses (``np.matrix``,
    ``np.memmap``) are viewed as plain ndarrays; masked arrays are refused, since
    their mask would be ignored. Non-native byte order is converted to native."""
    device = is_device_array(a)
    if device:
        a = _device_proxy(a)
    elif isinstance(a, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a masked array; fastssim has no masked SSIM and would ignore the mask: "
            f"pass {name}.filled(value) to score every pixel, or crop to the region you mean"
        )
    elif type(a) is not np.ndarray:
        a = np.asarray(a)
        if type(a) is not np.ndarray:  # an ndarray subclass: its own operators cannot be trusted
            a = a.view(np.ndarray)
    kind = a.dtype.kind
    if kind == "b":
        raise TypeError(
            f"{name} has dtype bool, which has no intensity scale; "
            f"convert it first, e.g. {name}.astype(np.uint8)"
        )
    if kind == "c":
        raise TypeError(
            f"{name} has complex dtype {a.dtype}; SSIM is defined for real images: "
            f"pass np.abs({name}) or {name}.real"
        )
    if kind not in "uif":
        raise TypeError(
            f"{name} has dtype {a.dtype}; pass a real numeric array "
            "(uint8, uint16, int16, int32, float16, float32 or float64)"
        )
    if a.size == 0:
        raise ValueError(f"{name} is empty (shape {a.shape}); pass a non-empty image")
    if not a.dtype.isnative and not device:
        a = a.astype(a.dtype.newbyteorder("="))
    return a


def _untyped(a):
    """Whether ``a`` is Python data (a list, tuple or number) with no dtype of its own."""
    return not (hasattr(a, "dtype") or is_device_array(a))


def check_pair(x: Any, y: Any, *, range_given: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Both images as ndarrays of one shape.

    With ``range_given=False`` (the data range will come from the dtype), Python
    lists of integers are refused: NumPy makes them int64, whose range (2^64) is
    not the data's.
    """
    untyped = [n for n, a in (("x", x), ("y", y)) if _untyped(a)]
    x = as_image(x, "x")
    y = as_image(y, "y")
    if not range_given:
        for n in untyped:
            a = x if n == "x" else y
            if a.dtype.kind in "iu":
                raise ValueError(
                    f"{n} is a Python sequence of integers, which NumPy makes {a.dtype}: its range "
                    f"(2^{8 * a.dtype.itemsize}) is not your data's; pass data_range= (e.g. 255) or an "
                    f"array of the dtype you mean (np.asarray({n}, np.uint8))"
                )
    if x.shape != y.shape:
        raise ValueError(
            f"x and y must have the same shape, got {x.shape} and {y.shape}; "
            "crop or resize one of them first"
        )
    return x, y


#: Largest integer magnitude each work dtype holds exactly.
_EXACT = {np.dtype(np.float32): 2 ** 24, np.dtype(np.float64): 2 ** 53}


def _int_extent(a):
    """max |a| of an integer array, as a Python int (0 for float arrays)."""
    if a.dtype.kind not in "iu" or a.dtype.itemsize <= 2:
        return 0
    return max(abs(int(a.min())), abs(int(a.max())))


def work_dtype(x, y, host=True):
    """float64 when either input has 64-bit precision, or 32-bit integers that float32
    cannot hold exactly (beyond 2^24); else float32. ``host=False`` (GPU input, read in
    place as uint8, uint16, float32 or float64) skips the look at the values.

    Raises
    ------
    ValueError
        For 64-bit integers beyond 2^53, which no float dtype holds exactly.
    """
    if x.dtype.itemsize >= 8 or y.dtype.itemsize >= 8:
        wdt = np.dtype(np.float64)
    else:
        wdt = np.dtype(np.float32)
    if not host:
        return wdt
    extent = max(_int_extent(x), _int_extent(y))
    if extent > _EXACT[wdt] and wdt == np.float32:
        wdt = np.dtype(np.float64)  # int32/uint32 beyond 2^24: float64 holds them exactly
    if extent > _EXACT[wdt]:
        raise ValueError(
            f"integer values up to {extent} (beyond 2^53) cannot be computed exactly in float64, "
            "and SSIM depends on absolute values; subtract the offset your data carries "
            "(e.g. x - x.min()) if it has no meaning, and pass data_range="
        )
    return wdt


def without_common_offset(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For differences only (MSE): 64-bit integers beyond 2^53 minus their common minimum,
    computed exactly in uint64, so float64 holds them exactly (or to 1e-16 of their range)."""
    if max(_int_extent(x), _int_extent(y)) <= _EXACT[np.dtype(np.float64)]:
        return x, y
    m = min(int(x.min()), int(y.min())) % 2 ** 64
    return (x.astype(np.uint64, copy=False) - np.uint64(m), y.astype(np.uint64, copy=False) - np.uint64(m))


def kernel_inputs(x, y, wdt, keep_half=False):
    """The arrays the kernels read: as they are when their dtype is read
    directly, else converted (once) to the work dtype. ``keep_half``: float16 pairs too (for
    the fused SSIM kernel, which decodes them as it reads, in float32)."""
    if keep_half and x.dtype == y.dtype == np.float16 and wdt == np.float32:
        return x, y
    if x.dtype == y.dtype and x.dtype in HOST_KERNEL_DTYPES:
        if wdt == np.float64 or x.dtype != np.float64:
            return x, y
    return x.astype(wdt), y.astype(wdt)


def check_device_dtypes(x, y, devices):
    """GPU input is read in place: both arrays on the GPU, of one dtype the kernels read."""
    if devices[0] is None or devices[1] is None:
        raise TypeError("x and y must both be GPU arrays or both host arrays; copy one of them")
    if x.dtype != y.dtype or x.dtype not in KERNEL_DTYPES:
        raise TypeError(
            f"GPU arrays of dtype {x.dtype} and {y.dtype}: the CUDA kernels read uint8, uint16, "
            "float32 or float64 of one dtype; convert on the device first (e.g. x.astype('float32'))"
        )


def check_options(win_size, sigma, K1, K2, backend):
    """Window and constant arguments."""
    if type(win_size) is int and type(sigma) is float and type(K1) is float and type(K2) is float \
            and win_size >= 1 and win_size % 2 and sigma > 0 and K1 >= 0 and K2 >= 0 and backend in BACKENDS \
            and math.isfinite(sigma) and math.isfinite(K1) and math.isfinite(K2):
        return  # the common call, plain numbers that pass (the checks below take 7 us: abc instance checks)
    if not isinstance(win_size, numbers.Integral) or isinstance(win_size, bool):
        raise TypeError(f"win_size must be an odd integer, got {win_size!r}")
    if win_size < 1 or win_size % 2 == 0:
        raise ValueError(f"win_size must be odd and positive, got {win_size}; try 7 or 11")
    if isinstance(sigma, (tuple, list, np.ndarray)):
        raise ValueError(f"sigma must be one number, got {sigma!r}: fastssim's windows are the same along every "
                         "axis (a per-axis sigma is supported only with preset='torchmetrics', for 2-D SSIM)")
    for name, v in (("sigma", sigma), ("K1", K1), ("K2", K2)):
        if not isinstance(v, numbers.Real) or isinstance(v, bool) or not math.isfinite(v):
            raise ValueError(f"{name} must be a finite real number, got {v!r}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}; Wang et al. use 1.5")
    if K1 < 0 or K2 < 0:
        raise ValueError(f"K1 and K2 must be non-negative, got K1={K1}, K2={K2}; defaults are 0.01 and 0.03")
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")


def mask_values(mask: Any) -> np.ndarray:
    """``mask`` as an array of booleans or 0/1 numbers (a region: ``mask=`` of every metric)."""
    m = np.asarray(mask)
    if m.dtype.kind not in "biuf":
        raise TypeError(f"mask must be boolean or 0/1 numbers, got dtype {m.dtype}")
    if m.dtype.kind != "b" and not np.isin(m, (0, 1)).all():
        raise ValueError("mask must hold only 0 and 1 (or True and False)")
    return m


def normalise_axis(axis: Any, ndim: int, name: str) -> int:
    """``axis`` as a non-negative index into ``ndim`` axes."""
    if not isinstance(axis, numbers.Integral) or isinstance(axis, bool):
        raise TypeError(f"{name} must be an integer or None, got {axis!r}")
    axis = int(axis)
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an array with {ndim} axes")
    return axis % ndim


def to_5d(a, batch, channel_axis, spatial_ndim):
    """A view ``(N, C, D, H, W)`` of ``a``.

    Parameters
    ----------
    a : ndarray
        One image (``batch=False``) or a stack of images along axis 0.
    batch : bool
        Whether axis 0 indexes pairs.
    channel_axis : int or None
        Channel axis, already normalised, counted in the axes of one image.
    spatial_ndim : int
        2 or 3.
    """
    if not batch:
        a = a[None]
    if channel_axis is None:
        a = a[:, None]
    else:
        a = np.moveaxis(a, channel_axis + 1, 1)
    if spatial_ndim == 2:
        a = a[:, :, None]
    return a


def from_5d(a5, spatial_ndim, channel_axis, batch=False):
    """The inverse of `to_5d`: ``(N, C, D, H, W)`` back to the caller's axes (no D axis for
    2-D, the channel axis where it was, or none; without the N axis unless ``batch``)."""
    a = a5 if spatial_ndim == 3 else a5[:, :, 0]
    a = a[:, 0] if channel_axis is None else np.moveaxis(a, 1, channel_axis + 1)
    return a if batch else a[0]


def check_extent(shape5, win_size, spatial_ndim, channel_axis):
    """Every filtered axis must hold at least one window."""
    spatial = shape5[2:] if spatial_ndim == 3 else shape5[3:]
    if min(spatial) < win_size:
        hint = ""
        if channel_axis is None and min(spatial) <= 4:
            hint = "; if one axis holds colour channels, set channel_axis (e.g. channel_axis=-1)"
        raise ValueError(
            f"win_size={win_size} exceeds the image extent {tuple(spatial)}: every spatial axis "
            f"must be at least win_size long; pass a smaller odd win_size{hint}"
        )


def check_level_weights(weights):
    """MS-SSIM's per-scale exponents as a tuple of floats."""
    try:
        w = tuple(float(v) for v in weights)
    except (TypeError, ValueError):
        raise TypeError(f"weights must be a sequence of numbers, got {weights!r}") from None
    if not w or any(not math.isfinite(v) or v < 0 for v in w):
        raise ValueError(f"weights must be one or more finite non-negative numbers, got {weights!r}")
    return w


class ExtentError(ValueError):
    """An image too small for MS-SSIM's scales (a ValueError): fewer scales would fit."""


def check_ms_extent(shape5, win_size, spatial_ndim, levels, floor=False):
    """The coarsest of ``levels`` scales (each halving, rounding up, or down with ``floor``)
    must hold a window."""
    spatial = shape5[2:] if spatial_ndim == 3 else shape5[3:]
    f = 2 ** (levels - 1)
    coarsest = [n // f if floor else -(-n // f) for n in spatial]
    if min(coarsest) < win_size:
        need = win_size * f if floor else (win_size - 1) * f + 1
        raise ExtentError(
            f"MS-SSIM with {levels} scales and win_size={win_size} needs every spatial axis to be at "
            f"least {need} long (the coarsest scale must hold a window); got {tuple(spatial)}. "
            "Pass fewer weights (scales) or a smaller win_size"
        )
