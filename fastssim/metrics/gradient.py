"""SSIM's exact gradient, for SSIM as a loss: one pair (`ssim_with_gradient`) or a stack of
pairs (`ssim_batch_with_gradient`), on the CPU.

2-D planes and 3-D volumes (channels and batches included) go through the fused kernels
(``kernels.engine_gradient.ssim_gradient_2d``, ``ssim_gradient_3d``; 2-D on the GPU too); MATLAB's
full-map gradient through the float64 path (``kernels.engine_gradient.avanaki_gradient``).
"""

from collections.abc import Sequence

import numpy as np

from .._types import ArrayLike, Backend, DataRange  # noqa: F401

from ..conventions import checks as v
from ..conventions import presets
from ..kernels.engine import raise_if_nonfinite
from ..kernels.engine_gradient import (avanaki_gradient, device_gradient_2d, ms_ssim_gradient, ssim_gradient,
                                       ssim_gradient_2d, ssim_gradient_3d)
from ..kernels.engine_ms import CONVENTIONS, WANG
from ._arguments import _doc, _prepare
from .multiscale import MS_SSIM_WEIGHTS

__all__ = ["ssim_with_gradient", "ssim_batch_with_gradient", "ms_ssim_batch_with_gradient"]


def _device_gradient(x, y, *, channel_axis, preset, K1, K2, **options):
    """GPU arrays (2-D stacks, channels first): ``(values (N,) on the host, grad (N, [C,] H, W)
    GPU array)``, the gradient divided by C (the value is the mean over channels) in the
    backward kernel; read in place, nothing copied to the host but the sums."""
    if preset not in (None, "wang") or channel_axis not in (None, 0):
        raise ValueError("GPU arrays: the gradient takes stacks (N, H, W) or (N, C, H, W) with channel_axis=0 "
                         "or None and no preset; pass host arrays for the other layouts")
    job = _prepare(x, y, batch=True, spatial_ndim=2, channel_axis=channel_axis, K1=K1, K2=K2, preset=preset,
                   **options)
    N, C, _, H, W = job.x5.shape
    planes = (N * C, H, W)
    contiguous = [v.cuda_interface(d)[2] == tuple(np.cumprod((1,) + v.cuda_interface(d)[1][:0:-1])[::-1]
                                                  * v.cuda_interface(d)[3].itemsize) for d in job.devices]
    if not all(contiguous):
        raise ValueError("the GPU gradient reads GPU stacks in place and needs them C-contiguous; pass "
                         "cupy.ascontiguousarray(x) (or tensor.contiguous())")
    values, grad = device_gradient_2d(job.devices, job.x5.reshape(planes), job.y5.reshape(planes), job.weights,
                                      job.consts, C, (N, H, W) if channel_axis is None else (N, C, H, W))
    for i in np.flatnonzero(~np.isfinite(values)):
        raise_if_nonfinite(values[i], job.x[i], job.y[i], K1, K2, what=f"pair {i}")
    return values, grad


def _over_channels(grad, channels):
    """The kernels' gradient (a fresh array of ours) divided by the number of channels, in place: the
    value is the mean over channels. One channel: unchanged, no pass over it."""
    return grad if channels == 1 else np.divide(grad, channels, out=grad)


def _gradient(x, y, *, batch, spatial_ndim, preset, K1, K2, **options):
    """``(means (N, C), grad (N, C, D, H, W) in the work dtype, job)`` of checked inputs."""
    if v.is_device_array(x) or v.is_device_array(y):
        raise TypeError("GPU arrays: use ssim_batch_with_gradient (2-D stacks); ssim_with_gradient takes host "
                        "arrays")
    if preset not in (None, "wang", "matlab"):
        raise ValueError(f"the SSIM gradient supports preset None, 'wang' or 'matlab', got {preset!r}")
    job = _prepare(x, y, batch=batch, spatial_ndim=spatial_ndim, K1=K1, K2=K2, preset=preset, **options)
    consts = job.consts.astype(np.float64)
    if preset == "matlab":
        means, _ = ssim_gradient(job.x5, job.y5, job.nd, job.weights, consts)
        _, grad = avanaki_gradient(job.x5, job.y5, job.nd, job.weights, consts, "constant")
    elif job.nd == 2:  # the fused kernels, planes (N C, H, W) in the work dtype
        N, C, _, H, W = job.x5.shape
        means, grad = ssim_gradient_2d(job.x5.reshape(N * C, H, W), job.y5.reshape(N * C, H, W), job.weights,
                                       consts, np.dtype(job.consts.dtype), backend=job.backend)
        means, grad = means.reshape(N, C), grad.reshape(job.x5.shape)
    else:  # volumes: the fused CPU kernels
        N, C, D, H, W = job.x5.shape
        means, grad = ssim_gradient_3d(job.x5.reshape(N * C, D, H, W), job.y5.reshape(N * C, D, H, W), job.weights,
                                       consts, np.dtype(job.consts.dtype))
        means, grad = means.reshape(N, C), grad.reshape(job.x5.shape)
    return means, grad, job


@_doc
def ssim_with_gradient(x: ArrayLike, y: ArrayLike, *, data_range: DataRange = None, channel_axis: int | None = None,
                       win_size: int = 11, sigma: float = 1.5, gaussian: bool = True, K1: float = 0.01,
                       K2: float = 0.03, sample_covariance: bool = False, backend: Backend = "auto",
                       preset: str | None = None) -> tuple[float, np.ndarray]:
    """Mean SSIM and its gradient with respect to ``y``, for SSIM as a loss.

    Parameters
    ----------
    x, y : array_like
        As for `ssim`; ``y`` is the image the gradient is taken for.
    {options}

    Returns
    -------
    value : float
        ``ssim(x, y, ...)``.
    grad : ndarray, ``y``'s shape
        float64 for float64 (and 32/64-bit integer) input, else float32 (the work dtype of
        `ssim`; within 1e-5 relative of the float64 gradient).
        ``d value / d y``: exact for the mean over the 'valid' region, including the
        border pixels that only some windows see. With ``channel_axis`` the value is
        the mean over channels, so each channel's gradient is divided by their number.
        With ``preset="matlab"``: the gradient of MATLAB's reference code (Avanaki
        2009), the exact gradient of the mean of the zero-padded full-size SSIM map,
        while ``value`` stays the 'valid' mean, as that code reports them.

    Notes
    -----
    The derivative of S with respect to the filtered moments is a per-window
    map; the gradient gathers it back through the transposed (mirrored, zero-padded)
    separable filter. 2-D (with channels): fused CPU kernels, the moments in float64 rings
    of rows, three derivative maps and the gradient in the work dtype (about 4 times the
    input's size for float32). 3-D: fused CPU kernels, a float64 moment plane per task.
    ``preset="matlab"``: float64 with full-size intermediates.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((32, 32)); y = x + 0.1 * rng.random((32, 32))
    >>> value, grad = fastssim.ssim_with_gradient(x, y, data_range=1.0)
    >>> grad.shape, abs(value - fastssim.ssim(x, y, data_range=1.0)) < 1e-12
    ((32, 32), True)
    """
    means, grad, job = _gradient(x, y, batch=False, spatial_ndim=None, data_range=data_range,
                                 channel_axis=channel_axis, win_size=win_size, sigma=sigma, gaussian=gaussian,
                                 K1=K1, K2=K2, sample_covariance=sample_covariance, backend=backend,
                                 preset=preset)
    value = means.mean()
    raise_if_nonfinite(value, job.x, job.y, K1, K2)
    grad = v.from_5d(_over_channels(grad, grad.shape[1]), job.nd, job.ca)  # value: the mean over channels
    return float(value), grad


@_doc
def ssim_batch_with_gradient(x: ArrayLike, y: ArrayLike, *, spatial_ndim: int = 2, data_range: DataRange = None,
                             channel_axis: int | None = None, win_size: int = 11, sigma: float = 1.5,
                             gaussian: bool = True, K1: float = 0.01, K2: float = 0.03,
                             sample_covariance: bool = False, backend: Backend = "auto",
                             preset: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """SSIM of each pair of a stack and its gradient with respect to ``y``, in one call.

    Parameters
    ----------
    x, y : array_like
        Stacks of pairs along axis 0, as for `ssim_batch`; ``y`` is the image the gradient is
        taken for. GPU arrays (``__cuda_array_interface__``: CuPy, PyTorch, Numba; 2-D,
        C-contiguous, (N, H, W) or (N, C, H, W) with ``channel_axis=0``) are read in place
        and their gradient is a GPU array.
    spatial_ndim : {2, 3}
        Spatial axes per pair.
    {options}

    Returns
    -------
    values : ndarray, float64, (N,)
        ``ssim_batch(x, y, ...)``: each pair's loss value.
    grads : ndarray, ``y``'s shape
        ``d values[i] / d y[i]`` for every i (each pair's own gradient: the gradient of
        ``values.mean()`` is ``grads / N``); dtype as for `ssim_with_gradient`.

    Raises
    ------
    ValueError, TypeError
        As for `ssim_batch`.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((3, 32, 32)); y = x + 0.1 * rng.random((3, 32, 32))
    >>> values, grads = fastssim.ssim_batch_with_gradient(x, y, data_range=1.0)
    >>> grads.shape, bool(np.allclose(grads[1], fastssim.ssim_with_gradient(x[1], y[1], data_range=1.0)[1]))
    ((3, 32, 32), True)
    """
    if spatial_ndim not in (2, 3):
        raise ValueError(f"spatial_ndim must be 2 or 3, got {spatial_ndim!r}")
    if v.is_device_array(x) or v.is_device_array(y):
        if spatial_ndim != 2:
            raise ValueError("GPU arrays: the gradient of volumes is computed on the host; pass host arrays")
        return _device_gradient(x, y, data_range=data_range, channel_axis=channel_axis, win_size=win_size,
                                sigma=sigma, gaussian=gaussian, K1=K1, K2=K2, sample_covariance=sample_covariance,
                                backend=backend, preset=preset)
    means, grad, job = _gradient(x, y, batch=True, spatial_ndim=spatial_ndim, data_range=data_range,
                                 channel_axis=channel_axis, win_size=win_size, sigma=sigma, gaussian=gaussian,
                                 K1=K1, K2=K2, sample_covariance=sample_covariance, backend=backend,
                                 preset=preset)
    values = means.mean(axis=1)
    for i in np.flatnonzero(~np.isfinite(values)):
        raise_if_nonfinite(values[i], job.x[i], job.y[i], K1, K2, what=f"pair {i}")
    return values, v.from_5d(_over_channels(grad, grad.shape[1]), job.nd, job.ca, batch=True)


@_doc
def ms_ssim_batch_with_gradient(x: ArrayLike, y: ArrayLike, *, spatial_ndim: int = 2, data_range: DataRange = None,
                                weights: Sequence[float] = MS_SSIM_WEIGHTS, channel_axis: int | None = None,
                                win_size: int = 11, sigma: float = 1.5, gaussian: bool = True, K1: float = 0.01,
                                K2: float = 0.03, sample_covariance: bool = False, backend: Backend = "auto",
                                preset: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MS-SSIM of each pair of a stack and its gradient with respect to ``y``.

    Parameters
    ----------
    x, y : array_like
        Stacks of pairs along axis 0, as for `ms_ssim_batch` (e.g. (N, H, W), or
        (N, H, W, 3) with ``channel_axis=-1``, or volumes (N, D, H, W) with
        ``spatial_ndim=3``).
    spatial_ndim : {2, 3}
        Spatial axes per pair.
    weights : sequence of float
        The scales' exponents (default Wang et al.'s five).
    {options}
        For the gradient: None, 'wang' or 'pytorch_msssim' (whose halving pads an odd
        side with a zero before its first sample).

    Returns
    -------
    values : ndarray, float64, (N,)
        ``ms_ssim_batch(x, y, ...)``.
    grads : ndarray, ``y``'s shape
        ``d values[i] / d y[i]``: through every scale's mean term (contrast-structure; SSIM
        at the last) and the 2x2 block means between scales; zero where a scale's clamped
        term is not positive. dtype as for `ssim_with_gradient`.

    Raises
    ------
    ValueError, TypeError
        As for `ms_ssim_batch`; for a preset whose MS-SSIM gradient is not written.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((2, 176, 176)); y = x + 0.1 * rng.random((2, 176, 176))
    >>> values, grads = fastssim.ms_ssim_batch_with_gradient(x, y, data_range=1.0)
    >>> bool(np.allclose(values, fastssim.ms_ssim_batch(x, y, data_range=1.0))), grads.shape
    (True, (2, 176, 176))
    """
    if v.is_device_array(x) or v.is_device_array(y):
        raise TypeError("the MS-SSIM gradient takes host (NumPy) arrays (or CPU tensors)")
    if spatial_ndim not in (2, 3):
        raise ValueError(f"spatial_ndim must be 2 or 3, got {spatial_ndim!r}")
    if preset not in (None, "wang", "pytorch_msssim"):
        raise ValueError(f"the MS-SSIM gradient supports preset None, 'wang' or 'pytorch_msssim', got {preset!r}")
    conv = CONVENTIONS[presets.get(preset).ms_convention] if preset is not None else WANG
    levels = v.check_level_weights(weights)
    job = _prepare(x, y, batch=True, spatial_ndim=spatial_ndim, channel_axis=channel_axis, data_range=data_range,
                   win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
                   sample_covariance=sample_covariance, backend=backend, preset=preset, ms=True)
    v.check_ms_extent(job.x5.shape, win_size, job.nd, len(levels))
    N, C = job.x5.shape[:2]
    planes = (N * C,) + (job.x5.shape[3:] if job.nd == 2 else job.x5.shape[2:])
    values, grad = ms_ssim_gradient(job.x5.reshape(planes), job.y5.reshape(planes), job.weights,
                                    job.consts.astype(np.float64), levels, np.dtype(job.consts.dtype), conv=conv,
                                    backend=job.backend if job.nd == 2 else "cpu")
    values = values.reshape(N, C).mean(axis=1)
    for i in np.flatnonzero(~np.isfinite(values)):
        raise_if_nonfinite(values[i], job.x[i], job.y[i], K1, K2, what=f"pair {i}")
    grad = grad.reshape(job.x5.shape)
    return values, v.from_5d(_over_channels(grad, C), job.nd, job.ca, batch=True)
