"""What the kernels know about arrays: the dtypes they read in place, GPU arrays by their
``__cuda_array_interface__`` (metadata only: no CUDA import), the spatial order that streams
rows, the row bands of a 2-D task."""

import numpy as np

from .. import config as cfg

#: dtypes the kernels read directly; anything else is converted at the boundary.
#: What the CUDA kernels read in place.
KERNEL_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32), np.dtype(np.float64))
#: What the CPU kernels read in place, converting row by row as they load (no whole-image copy):
#: also 16- and 32-bit signed integers (CT's Hounsfield units, microscopy). float16 is read in
#: place by the fused SSIM kernel and MS-SSIM's halving only (its bit patterns decoded row by row,
#: ``keep_half``); the other kernels get it converted.
HOST_KERNEL_DTYPES = KERNEL_DTYPES + (np.dtype(np.int16), np.dtype(np.int32))

def is_device_array(a):
    """Whether ``a`` lives on a GPU (CuPy, PyTorch, Numba: ``__cuda_array_interface__``)."""
    return hasattr(a, "__cuda_array_interface__")


def cuda_interface(a):
    """``(pointer, shape, strides in bytes, dtype)`` of a GPU array's ``__cuda_array_interface__``."""
    iface = a.__cuda_array_interface__
    dtype = np.dtype(iface["typestr"])
    shape = tuple(iface["shape"])
    strides = iface.get("strides") or tuple(
        int(np.prod(shape[i + 1:], dtype=np.int64)) * dtype.itemsize for i in range(len(shape)))
    return iface["data"][0], shape, tuple(strides), dtype


def spatial_order(x5, spatial_ndim):
    """Permutation of the spatial axes that puts the smallest stride last.

    The window is the same along every spatial axis, so SSIM does not change
    when the spatial axes are permuted; reading F-ordered or transposed input
    in its memory order lets the kernels stream contiguous rows.
    """
    if spatial_ndim == 2:  # the common case without sorted()'s key calls
        s = x5.strides
        return (0, 1, 2, 3, 4) if abs(s[3]) >= abs(s[4]) else (0, 1, 2, 4, 3)
    axes = (2, 3, 4)
    order = sorted(axes, key=lambda ax: -abs(x5.strides[ax]))
    return tuple(ax for ax in range(5) if ax not in axes) + tuple(order)


def band_rows_2d(Ho):
    """Output rows per task of the 2-D SSIM kernel for a map of ``Ho`` rows: as many bands as
    ``config.BAND_H_2D`` rows make (so as many extra ``win_size - 1`` input rows), of even heights:
    182 rows were 128 + 54, one thread doing 70%. Of the shape only (a batch equals its pairs)."""
    bands = -(-Ho // cfg.BAND_H_2D)
    return -(-Ho // bands) if bands > 0 else cfg.BAND_H_2D


def readonly(a):
    """A read-only view of ``a``: the CPU kernels see every input with the same flags, so that
    Numba compiles (and caches) one specialization per dtype, not one per writeability."""
    if not a.flags.writeable:
        return a
    view = a.view()
    view.flags.writeable = False
    return view
