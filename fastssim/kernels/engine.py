"""From validated arrays to per-image means and maps: kernel calls and reductions.

The public functions (``metrics``) check their arguments and call these; these
pick the kernel layout, launch the kernels and reduce their partial sums.
"""

import math
import threading

import numpy as np

from .. import config as cfg
from .cpu import reduce as _cpu_reduce, windows as _cpu_windows
from .math import axis_windows, stabilisers
from .arrays import KERNEL_DTYPES, is_device_array, readonly
from .diagnose import diagnose_nonfinite
from .ssim_plan import Plan, give, kept_key, plan_key, take


#: GPU work is issued by one thread at a time: kernels run in order on the device anyway, and
#: Numba's simulator (the GPU tests without a GPU) cannot run kernels from two threads at once.
GPU_LOCK = threading.RLock()


def _cuda():
    from .cuda import ssim as _cuda

    return _cuda


def resolve_backend(backend, x, y, pixels):
    """'cpu' or 'cuda' for this call.

    'auto' takes the GPU for GPU arrays, and for host arrays of at least
    ``AUTO_GPU_MIN_PIXELS`` pixels when a real GPU is present (never the
    simulator); else the CPU.
    """
    on_device = is_device_array(x) or is_device_array(y)
    if backend == "cpu":
        if on_device:
            raise TypeError("x or y is a GPU array; pass backend='cuda' (or 'auto'), or copy it to the host")
        return "cpu"
    if backend == "auto" and not on_device:
        if pixels < cfg.AUTO_GPU_MIN_PIXELS:
            return "cpu"
        from numba import config

        if config.ENABLE_CUDASIM or not _cuda_usable():
            return "cpu"
        return "cuda"
    if not _cuda_usable():
        raise RuntimeError(cuda_unavailable("backend='cpu' or 'auto'"))
    return "cuda"


def cuda_unavailable(instead):
    """The one message for a CUDA backend asked for where none can run; ``instead``: what to pass."""
    return ("backend='cuda' needs an NVIDIA GPU with a working driver and numba-cuda (pip install "
            f"'fastssim[cuda]'); none was found: use {instead}")


def _cuda_usable():
    try:
        return _cuda().available()
    except ImportError:
        return False


def device_inputs(x5, y5, xd, yd):
    """Device arrays for the CUDA kernels.

    ``x5``/``y5`` are the 5-D kernel views; ``xd``/``yd`` the caller's GPU arrays
    they describe (None for host input, which is copied to the device).
    """
    cu = _cuda()
    out = []
    for view, dev in ((x5, xd), (y5, yd)):
        if dev is None:
            if view.dtype not in KERNEL_DTYPES:  # int16/int32 that the CPU kernels read in place
                view = view.astype(np.float32 if view.dtype.itemsize <= 2 else np.float64)
            out.append(cu.api().to_device(np.ascontiguousarray(view)))
        else:
            out.append(cu.launchable(cu.device_view(dev, view)))
    return out


def kernel_constants(data_range, k1, k2, cov_norm, wdt, cs_floor=-math.inf, eps=0.0):
    """``[C1, C2, cov_norm, cs_floor, eps]`` in the work dtype (``cs_floor`` and ``eps``: see
    ``kernels.math.ssim_terms``)."""
    try:
        c1, c2 = stabilisers(data_range, k1, k2)
    except OverflowError:  # Python floats raise instead of returning inf
        c1 = c2 = math.inf
    big = float(np.finfo(wdt).max)
    if not (c1 < big and c2 < big):
        raise ValueError(
            f"data_range={data_range:g} makes C2 = (K2 L)^2 overflow {wdt}; pass the range your data "
            "can take (max - min), not a bound"
        )
    return np.array([c1, c2, cov_norm, cs_floor, eps], dtype=wdt)


def ssim_means(x5, y5, spatial_ndim, weights, consts, want_map=False, backend="cpu", devices=(None, None),
               mask5=None, want_cs=False, pad=0, pad_mode="symmetric", halve=None):
    """Mean SSIM over the 'valid' region of every (pair, channel) plane.

    Parameters
    ----------
    x5, y5 : ndarray, 5-D (N, C, D, H, W)
        Kernel inputs (dtype read directly by the kernel).
    spatial_ndim : int
        2 (``D == 1``) or 3.
    weights : ndarray, or a list of ndarray
        1-D window weights (float64), applied along every spatial axis, or one window per spatial
        axis (`axis_windows`; the CPU only).
    consts : ndarray
        From ``kernel_constants``; its dtype is the work dtype.
    want_map : bool
        Also return the 'valid' map, shape (N, C, Do, Ho, Wo).
    mask5 : ndarray, optional
        uint8, broadcastable to the 'valid' map's shape: 1 for the windows to average.
    want_cs : bool or 'only'
        Also average the contrast-structure term (MS-SSIM); False (the default) skips its
        division on the CPU (the mean is then 0). 'only': the contrast-structure term alone (MS-SSIM's finer
        scales), without SSIM's division on the CPU, whose mean SSIM is then NaN. Not with
        ``want_map`` or ``mask5``.
    pad : int
        Score the images extended by ``pad`` samples of symmetric reflection on each side of
        every spatial axis (scipy's 'reflect'), as `pad_same` would: the 'same' map. The CPU
        kernel reads the reflection in place; the GPU path pads a copy.
    pad_mode : {'symmetric', 'reflect'}
        The reflection, in NumPy's names: 'symmetric' repeats the edge sample (scipy's
        'reflect', scikit-image's), 'reflect' does not (PyTorch's 'reflect'; needs every side
        longer than ``pad``).
    halve : {None, 'block', 'floor'}
        Also halve both images by 2x2 block means in the kernel as it reads them (MS-SSIM's next
        scale; `ssim_plan.halving_fuses`), in the work dtype: 'block' averages an odd last row or column with
        itself (`engine_ms.halve`), 'floor' drops it. Only on the CPU, for calls without a map, a
        mask or ``pad``.

    Returns
    -------
    means : ndarray, float64, (N, C, 2)
        ``[..., 0]``: mean SSIM; ``[..., 1]``: mean contrast-structure term. With ``mask5``:
        the mean SSIM over the masked windows and their number.
    smap : ndarray or None
    halved : ndarray or None
        Only with ``halve``: the two halved images, (2, N, C, D, H2, W2), or None where the kernel
        cannot halve them (`ssim_plan.halving_fuses`): the caller halves them then.

    Notes
    -----
    On the CPU a call without map, mask or halves runs the call this thread prepared for the last
    call of its kind and shape, where there is one (`ssim_plan.take`), pointed at its images.
    """
    wins = axis_windows(weights, spatial_ndim)
    if backend == "cuda":
        if any(w.shape != wins[0].shape or not np.array_equal(w, wins[0]) for w in wins):
            raise ValueError("the CUDA kernels take one window for every axis; use backend='cpu' for an anisotropic "
                             "window")
        weights = wins[0]
        if pad:
            x5, y5 = pad_same(x5, pad, spatial_ndim, pad_mode), pad_same(y5, pad, spatial_ndim, pad_mode)
        with GPU_LOCK:
            xd, yd = device_inputs(x5, y5, *devices)
            means, smap = _cuda().ssim_means(xd, yd, spatial_ndim, weights, consts, want_map, mask5)
            out = means, (smap.copy_to_host() if want_map else None)
            return out + (None,) if halve else out
    if want_map or mask5 is not None or halve:  # outputs of its own: prepared for this call
        means, smap, halved = prepare_ssim_means(x5, y5, spatial_ndim, weights, consts, want_map, mask5, want_cs,
                                                 pad, pad_mode, halve).run()
        return (means, smap, halved) if halve else (means, smap)
    key = kept_key(x5, y5, spatial_ndim, weights, consts, want_cs, pad, pad_mode)
    calls = take(key)  # a call of this kind and shape prepared before, in this thread
    if calls is None:
        calls = (prepare_ssim_means(x5, y5, spatial_ndim, weights, consts, want_cs=want_cs, pad=pad,
                                    pad_mode=pad_mode),)
    else:
        calls[0].point(x5, y5)
    means = calls[0].run()[0]
    give(key, calls)
    return means, None


def prepare_ssim_means(x5, y5, spatial_ndim, weights, consts, want_map=False, mask5=None, want_cs=False, pad=0,
                       pad_mode="symmetric", halve=None, reuse=None):
    """`ssim_means`' call on the CPU, prepared (`ssim_plan.Call`: its ``run()`` returns ``(means, smap,
    halved)``), its outputs allocated: so that a caller can prepare the calls of several scales first
    (each scale's images the halves of the last) and then run them one after the other. Arguments as
    for `ssim_means`, and:

    reuse : dict, optional
        Kept by a caller that scores images of one kind again and again with one window (the same
        ``weights`` object, unchanged) and work dtype: MS-SSIM's scales. What the call derives from
        its inputs' kind (`ssim_plan.Plan`) is kept in it, where the kind allows
        (`ssim_plan.plan_key`: plain calls on C-contiguous arrays of the work dtype, such as the
        halved scales), and taken from it by the later calls instead of being derived again.
    """
    key = None if reuse is None else plan_key(x5, y5, spatial_ndim, weights, consts, want_map, mask5, pad, pad_mode,
                                              halve)
    plan = None if key is None else reuse.get(key)
    if plan is None:
        plan = Plan(x5, y5, spatial_ndim, weights, consts, want_map, mask5, pad, halve)
        if key is not None:
            reuse[key] = plan
    return plan.prepare(x5, y5, consts, want_cs, want_map, mask5, pad_mode)


def grid_ssim_means(x5, y5, size, step, c1, c2, backend="cpu", devices=(None, None)):
    """Mean SSIM of the unweighted ``size`` x ``size`` windows on a ``step``-pixel grid of
    every (pair, channel) plane of 2-D 5-D views (ffmpeg's ``ssim`` filter: 8 on a grid of 4),
    float64 (N, C)."""
    if backend == "cuda":
        with GPU_LOCK:
            xd, yd = device_inputs(x5, y5, *devices)
            return _cuda().grid_ssim_means(xd, yd, size, step, c1, c2)
    N, C, _, H, W = x5.shape
    rows, cols = (H - size) // step + 1, (W - size) // step + 1
    sums = np.empty((N, C, rows), np.float64)
    _cpu_windows.grid_ssim_sums(readonly(x5), readonly(y5), size, step, cols, c1, c2, sums)
    return sums.sum(axis=2) / (rows * cols)


def pad_same(a, radius, spatial_ndim, mode="symmetric"):
    """Pad the last ``spatial_ndim`` axes by ``radius``: by default scipy's 'reflect' (NumPy's
    'symmetric', edge repeated); ``mode="reflect"`` is PyTorch's (edge not repeated)."""
    pads = [(0, 0)] * (a.ndim - spatial_ndim) + [(radius, radius)] * spatial_ndim
    return np.pad(a, pads, mode=mode)


def squared_error_means(x5, y5, backend="cpu", devices=(None, None)):
    """Mean of ``(x - y)^2`` per pair, float64, shape (N,)."""
    if backend == "cuda":
        with GPU_LOCK:
            from .cuda import errors

            return errors.squared_error_means(*device_inputs(x5, y5, *devices))
    N, C, D, H, W = x5.shape
    kernel, args = squared_error_call(x5, y5)
    kernel(*args)
    return args[-1].reshape(N, -1).sum(axis=1) / (C * D * H * W)


def squared_error_call(x5, y5):
    """The CPU error kernel's call on 5-D views, ``(kernel, args)``: its per-row sums go to
    ``args[-1]`` (also what `kernels.ahead` compiles it for)."""
    N, C, D, H, W = x5.shape
    return _cpu_reduce.squared_error_sums, (readonly(x5), readonly(y5), np.empty(N * C * D * H, dtype=np.float64))


def product_sums(x5, y5, backend="cpu", devices=(None, None)):
    """Per pair and channel of 5-D views, the float64 sums ``(sum (x - y)^2, sum x y, sum x^2,
    sum y^2)``: shape (N, C, 4)."""
    if backend == "cuda":
        with GPU_LOCK:
            from .cuda import errors

            return errors.product_sums(*device_inputs(x5, y5, *devices))
    N, C, D, H, W = x5.shape
    sums = np.empty((N * C * D * H, 4), dtype=np.float64)
    _cpu_reduce.product_sums(readonly(x5), readonly(y5), sums)
    return sums.reshape(N, C, D * H, 4).sum(axis=2)


def raise_if_nonfinite(values, x, y, k1, k2, what="pair"):
    """Raise the diagnosed error when any value is NaN or infinite."""
    if isinstance(values, float) and math.isfinite(values):  # one value (NumPy's float64 is a float)
        return
    values = np.asarray(values)
    if np.isfinite(values).all():
        return
    bad = np.flatnonzero(~np.isfinite(values.reshape(-1)))
    if values.size > 1:
        xs, ys = x[bad[0]], y[bad[0]]
        err = diagnose_nonfinite(xs, ys, k1, k2)
        raise type(err)(f"{what} {int(bad[0])} ({bad.size} in all): {err}")
    raise diagnose_nonfinite(x, y, k1, k2)
