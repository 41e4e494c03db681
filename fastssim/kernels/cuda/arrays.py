"""GPU arrays as the CUDA kernels take them: Numba device arrays over any
``__cuda_array_interface__`` (CuPy, PyTorch, Numba) without a copy, views with moved axes, and
the simulator's stand-ins (host memory behind the same interface) that let the tests run the
device-array paths without a GPU."""

import ctypes

import numpy as np

from ..arrays import cuda_interface


def api():
    """``numba.cuda``, for host-side calls. Under the simulator, a running kernel swaps every
    global of its module that names ``numba.cuda`` (here ``cuda``) for a per-thread fake,
    so host code in other threads must not go through that global."""
    from numba import cuda as module

    return module


def available():
    """Whether a CUDA device (or the simulator) can run kernels."""
    try:
        return api().is_available()
    except Exception:  # a broken driver install
        return False


def _simulated():
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def _host_memory(ptr, shape, strides, dtype):
    """Under the simulator, device memory is host memory: a NumPy view of it."""
    if any(s < 0 for s in strides):
        raise ValueError("negative strides are not supported for simulated device arrays")
    span = sum((n - 1) * s for n, s in zip(shape, strides)) + dtype.itemsize
    buf = (ctypes.c_byte * span).from_address(ptr)
    return np.ndarray(shape, dtype, buffer=buf, strides=strides)


class SimDeviceArray:
    """Simulator only: host memory presented through ``__cuda_array_interface__``."""

    def __init__(self, arr):
        self._arr = arr

    @property
    def __cuda_array_interface__(self):
        a = self._arr
        return {"shape": a.shape, "strides": a.strides, "typestr": a.dtype.str,
                "data": (a.__array_interface__["data"][0], False), "version": 3}


def launchable(obj):
    """A Numba device array over ``obj``'s memory (``__cuda_array_interface__``), no copy."""
    if _simulated():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        return FakeCUDAArray(_host_memory(*cuda_interface(obj)))
    return api().as_cuda_array(obj)


def reshaped(dev, shape):
    """A contiguous device array ``dev`` with another shape, still a device array (the
    simulator's fake arrays reshape into plain NumPy arrays)."""
    if _simulated():
        from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray

        return FakeCUDAArray(dev.copy_to_host().reshape(shape))
    return dev.reshape(shape)


def device_view(obj, host_view):
    """A GPU array with the shape and strides of ``host_view``: a metadata-only view (axes
    moved, added or permuted, no offset) of the GPU array ``obj``, on the same memory."""
    ptr, _, _, dtype = cuda_interface(obj)
    if _simulated():
        return SimDeviceArray(_host_memory(ptr, host_view.shape, host_view.strides, dtype))
    from numba.cuda.cudadrv.devicearray import DeviceNDArray

    dev = api().as_cuda_array(obj)
    return DeviceNDArray(host_view.shape, host_view.strides, host_view.dtype, gpu_data=dev.gpu_data)
