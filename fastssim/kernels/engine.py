"""From validated arrays to per-image means and maps: kernel calls and reductions.

The public functions (``metrics``) check their arguments and call these; these
pick the kernel layout, launch the kernels and reduce their partial sums.
"""

import functools
import math
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import config as cfg
from . import ahead, exact as _exact
from .cpu import load as _cpu_load, ssim as _cpu, reduce as _cpu_reduce, windows as _cpu_windows
from .cpu.calls import address
from .math import axis_windows, stabilisers, sums_to_one, valid_shape
from .arrays import KERNEL_DTYPES, band_rows_2d, is_device_array, spatial_order
from .diagnose import diagnose_nonfinite


def readonly(a):
    """A read-only view of ``a``: the CPU kernels see every input with the same flags, so that
    Numba compiles (and caches) one specialization per dtype, not one per writeability."""
    if not a.flags.writeable:
        return a
    view = a.view()
    view.flags.writeable = False
    return view


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


def interleaved_lanes(xk, yk, spatial_ndim, plain):
    """The number of channels the CPU kernel filters together in one row, or None.

    Channel-last colour images hold each pixel's channels side by side (``xk`` is (N, C, D, H,
    W) with a channel stride of one sample and a column stride of C samples): rows of ``W * C``
    samples are then read as they lie and the C channels go through the filters together, so
    that the per-row costs of the passes are paid once for all channels and the loads are
    contiguous (they were strided gathers, one channel at a time). Only for ``plain`` calls
    (2-D SSIM sums, with or without the contrast-structure term, without padding, float16, a
    map or a mask).
    """
    C = xk.shape[1]
    if not plain or spatial_ndim != 2 or C == 1:
        return None
    for a in (xk, yk):
        if a.strides[1] != a.itemsize or a.strides[4] != C * a.itemsize:
            return None
    return C


@functools.lru_cache(maxsize=64)
def _kernel_taps(windows, work_char):
    """``((wd, wh, ww), unit)`` for `ssim_means`'s kernel from the bytes of each axis's float64 window:
    the taps as tuples of the work dtype (``wd`` None for 2-D), and whether every window sums to 1
    (else the moments are raw: a shift by a level is exact only then, not for another library's
    float32 taps). Made once per window and dtype (per call, it was 10 of a 64^2 call's 54 us)."""
    wins = [np.frombuffer(b, np.float64) for b in windows]
    t = np.dtype(work_char).type
    taps = ((None,) if len(wins) == 2 else ()) + tuple(tuple(t(v) for v in w) for w in wins)
    return taps, sums_to_one(wins, len(wins))


_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)


def halving_rows(dtype):
    """The dtype in which MS-SSIM's halving (`_cpu_reduce.downsample2`) sums samples of ``dtype``:
    float32 for float32 input and integers of 16 bits or fewer (exact in either), else float64."""
    return _F32 if dtype.itemsize <= 2 or dtype == _F32 else _F64


def _fuses_halving(xk, yk, perm, lanes, exact, pad, taps, wdt):
    """Whether the SSIM kernel can halve these images as it reads them (`_cpu.ssim_sums`' ``halved``),
    to the numbers of the halving kernel: 2-D (``perm`` None for volumes), read in the caller's axis
    order (each 2x2 block then summed in that kernel's order), one image per row, the weighted
    passes, no padding, windows of two taps or more, and rows that kernel sums in the work dtype (or
    integers of 16 bits or fewer, exact in either)."""
    return (perm == (0, 1, 2, 3, 4) and lanes is None and exact is None and not pad and min(map(len, taps[1:])) >= 2
            and all((a.dtype.kind in "ui" and a.dtype.itemsize <= 2) or halving_rows(a.dtype) == wdt for a in (xk, yk)))


def halving_fuses(x5, y5, spatial_ndim, weights, consts):
    """Whether `ssim_means` with ``halve`` halves these images in its kernel (on the CPU; else the
    caller halves them): for MS-SSIM to know before its first scale whether a helper process should
    compile the halving kernel."""
    if spatial_ndim != 2:
        return False
    perm = spatial_order(x5, spatial_ndim)
    xk, yk = x5.transpose(perm), y5.transpose(perm)
    wins = axis_windows(weights, spatial_ndim)
    lanes = interleaved_lanes(xk, yk, spatial_ndim, True)
    exact = _exact.constants(xk, yk, wins, spatial_ndim, True, consts)
    return _fuses_halving(xk, yk, perm, lanes, exact, 0, (None, *wins), consts.dtype)


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
        scale; `halving_fuses`), in the work dtype: 'block' averages an odd last row or column with
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
        cannot halve them (`halving_fuses`): the caller halves them then.
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
    wdt = consts.dtype
    perm = spatial_order(x5, spatial_ndim)
    xk = x5.transpose(perm)
    yk = y5.transpose(perm)
    N, C, D, H, W = xk.shape
    (wd, wh, ww), unit = _kernel_taps(tuple(w.tobytes() for w in wins), wdt.char)
    if spatial_ndim == 3:
        band_h, band_w = cfg.BAND_H_3D, cfg.BAND_W_3D
        Do, = valid_shape((D,), (len(wd),), pad)
    Ho, Wo = valid_shape((H, W), (len(wh), len(ww)), pad)
    if spatial_ndim == 2:
        band_h, band_w = band_rows_2d(Ho), cfg.BAND_W_2D
        Do = D
    plain = not (pad or want_map or mask5 is not None)
    lanes = interleaved_lanes(xk, yk, spatial_ndim, plain)
    if lanes:  # channel-last pixels: the channels filtered together, C samples per pixel in a row
        xk, yk = (as_strided(a, (N, 1, D, H, W * C), a.strides[:4] + a.strides[1:2]) for a in (xk, yk))
    exact = _exact.constants(xk, yk, wins, spatial_ndim, plain, consts)
    if exact is not None:  # 8-bit images, a uniform window: exact integer sums in float32 (`kernels.exact`)
        wdt, wh, ww, unit = np.dtype(np.float32), _exact.unit_taps(len(wh)), _exact.unit_taps(len(ww)), False
    halved = None
    in_order = perm if spatial_ndim == 2 else None
    if halve and plain and min(Ho, Wo) > 0 and _fuses_halving(xk, yk, in_order, lanes, exact, pad, (wd, wh, ww), wdt):
        two = (lambda n: -(-n // 2)) if halve == "block" else (lambda n: n // 2)
        halved = np.empty((2, N, C, D, two(H), two(W)), dtype=wdt)  # in the kernel's axis order
    nbh = -(-Ho // band_h)
    nbw = -(-Wo // band_w)
    sums = np.empty((N * C * nbh * nbw, 4), dtype=np.float64)
    smap = np.empty((N, C, Do, Ho, Wo), dtype=wdt) if want_map else None
    mk = None
    if mask5 is not None:
        # in the caller's axis order, then permuted as the images are; C-contiguous and
        # read-only, so that every masked call has the same specialization
        full = tuple(x5.shape[:2]) + _valid_shape(x5.shape, weights, spatial_ndim)
        mk = readonly(np.ascontiguousarray(np.broadcast_to(mask5, full).transpose(perm)))
    cs_only = want_cs == "only" and not want_map and mask5 is None
    flags = [2 if cs_only else 1 if want_cs else 0, 1 if unit else 0, consts[4], 1 if pad_mode == "reflect" else 0]
    consts = np.array([*consts[:4], *flags], dtype=wdt)  # see _cpu.ssim_sums
    # the images as addresses and strides: one specialization for every dtype and layout; options
    # unused are None: the kernel compiles their code only for the calls that use them
    images = _cpu_load.descriptions(3)  # x, y, the shape
    args = (images, wd, wh, ww, consts, band_h, band_w, sums, smap, mk, pad or None, lanes, exact, halved)
    # cold: a helper compiles the task's last pass while this process compiles the task, which
    # waits for it there (`kernels.ahead`, `_cpu.ahead_calls`); then the kernels the caller put
    # aside to wait on (`ahead.later`: MS-SSIM's halving, the scorer's MSE), then this kernel,
    # which this process compiles itself if it comes to it first (a first MS-SSIM 2.9 -> 2.7 s);
    # started first, as the row readers compile here
    if ahead.cold(_cpu._ssim_task):
        *first, kernel = _cpu.ahead_calls(*args)
        ahead.start(*first, then=[kernel])
    xk, yk = _cpu_load.describe(xk, wdt, images[0]), _cpu_load.describe(yk, wdt, images[1])
    images[2, :5] = xk.shape
    task_at = address(*_cpu.task_call(*args))
    _cpu.ssim_sums(task_at, *args)
    if lanes:
        totals = sums.reshape(N, nbh * nbw, C, 4).sum(axis=1)
    else:
        totals = sums.reshape(N, C, nbh * nbw, 4).sum(axis=2)
    if mask5 is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.stack([totals[..., 2] / totals[..., 3], totals[..., 3]], axis=-1)
    else:
        means = totals[..., :2] / (Do * Ho * Wo)
    if cs_only:
        means[..., 0] = np.nan  # not computed (the exact sums compute it: dropped all the same)
    out = means, None
    if want_map:
        out = means, smap.transpose(tuple(int(i) for i in np.argsort(perm)))
    return out + (halved,) if halve else out


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


def _valid_shape(shape5, weights, spatial_ndim):
    """(Do, Ho, Wo) of the 'valid' map of 5-D inputs in the caller's axis order."""
    ks = [len(w) for w in axis_windows(weights, spatial_ndim)]
    return (() if spatial_ndim == 3 else tuple(shape5[2:3])) + valid_shape(shape5[5 - spatial_ndim:], ks)


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
