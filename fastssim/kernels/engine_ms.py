"""MS-SSIM as other libraries define it: how they halve the images between scales, which
region the last scale averages, whether channels are pooled before the product, how negative
terms are treated, and where the data range comes from.

Every convention's scales go through one loop (`scale_means`): on the CPU the SSIM kernel halves
each scale as it reads it where the rule is a plain 2x2 mean (Wang's 'block', torchmetrics'
'floor'), else the images are halved on the host with the 2x2-mean kernel, after the padding or
cropping that makes it the library's rule. Wang's convention on the GPU halves on the device.
"""

import dataclasses
import math
import warnings

import numpy as np

from . import ahead
from .cpu import reduce as _cpu_reduce
from .cpu import load as _cpu_load
from .cpu.calls import address
from .engine import GPU_LOCK, _cuda, device_inputs, prepare_ssim_means, ssim_means
from .ssim_plan import give, halving_fuses, halving_rows, kept_key, take


@dataclasses.dataclass(frozen=True)
class MSConvention:
    """How one library computes MS-SSIM; the defaults are Wang's ``msssim.m``."""

    name: str
    #: 'block': 2x2 means, an odd edge averaged with itself (msssim.m); 'floor': 2x2 means of
    #: the even part, an odd edge dropped (PyTorch's avg_pool2d); 'before': the mean of samples
    #: 2i - 1 and 2i, the first with itself (scipy's uniform_filter(a, 2)[::2], sewar);
    #: 'start-if-odd': when any axis is odd, every axis repeats its first sample, then as
    #: 'floor' (piq); 'zeros-before-odd': an odd axis gets a zero before its first sample, which
    #: counts in the first mean (avg_pool2d(2, padding=(H % 2, W % 2)), pyiqa)
    downsample: str = "block"
    #: sewar filters its (H, W, C) array along the channel axis too: channel c becomes the
    #: mean of channels c - 1 and c (channel 0 itself) at every halving
    mix_channels: bool = False
    #: region of the last scale's SSIM: 'valid', or 'same-reflect' (the full map of the image
    #: extended by PyTorch's 'reflect'); the contrast-structure terms are always 'valid'
    last: str = "valid"
    #: average each scale's terms over the channels before the product (else one MS-SSIM per
    #: channel, then their mean)
    pool_channels: bool = False
    #: 'clamp': negative terms count as 0 (relu); 'complex': the real part of the product of
    #: complex powers, as sewar computes it
    negative: str = "clamp"
    #: with fewer scales than the image holds, drop the coarsest with a warning (sewar) instead
    #: of refusing
    fewer_scales: bool = False
    #: the exponents as float32 numbers (torchmetrics makes them a float32 tensor)
    float32_weights: bool = False


WANG = MSConvention("wang")
CONVENTIONS = {c.name: c for c in [
    WANG,
    MSConvention("torchmetrics", downsample="floor", last="same-reflect", pool_channels=True,
                 float32_weights=True),
    # MONAI's compute_ms_ssim (its drop-in's scales): torchmetrics' halving, 'valid' windows
    MSConvention("monai", downsample="floor", pool_channels=True, float32_weights=True),
    MSConvention("piq", downsample="start-if-odd"),
    MSConvention("pyiqa", downsample="zeros-before-odd", pool_channels=True, float32_weights=True),
    # pytorch_msssim: avg_pool(kernel_size=2, padding=[s % 2 for s in shape]), relu of each
    # channel's mean terms, one MS-SSIM per channel, then their mean (its size_average)
    MSConvention("pytorch_msssim", downsample="zeros-before-odd"),
    MSConvention("sewar", downsample="before", mix_channels=True, pool_channels=True, negative="complex",
                 fewer_scales=True),
]}


def downsampled_shape(shape5, spatial_ndim):
    N, C, D, H, W = shape5
    return (N, C, -(-D // 2) if spatial_ndim == 3 else D, -(-H // 2), -(-W // 2))


def halve(a5, spatial_ndim, wdt, b5=None):
    """The 2x2 (2x2x2) block means of a 5-D host array, in ``wdt`` (`_cpu_reduce.downsample2`:
    any dtype and layout read in place, float16 decoded row by row); with ``b5`` (the same
    shape), of both, returned as a pair: in one call (one parallel region) when their rows are
    of one type (`_row_kind`), else one after the other, so that each is halved as alone."""
    if b5 is not None and _row_kind(a5.dtype) is not _row_kind(b5.dtype):
        return halve(a5, spatial_ndim, wdt), halve(b5, spatial_ndim, wdt)
    kernel, args, held = halving_call(a5, spatial_ndim, wdt, b5)
    kernel(address(*_cpu_reduce.halving_task(*args)), *args)
    del held  # alive until here: the kernel read it
    out = args[2]
    return out[0] if b5 is None else (out[0], out[1])


def halving_call(a5, spatial_ndim, wdt, b5=None):
    """``(kernel, args, held)`` of `halve`, the kernel's arguments after its task's address
    (`_cpu_reduce.halving_task`): ``args[2]`` the output, (1 or 2, *halved shape);
    ``held`` the arrays the descriptions point to (``a5``, ``b5`` or copies), to keep alive
    while the kernel runs."""
    pair = [a5] if b5 is None else [a5, b5]
    if b5 is not None and b5.shape != a5.shape:  # the kernel reads both by one shape
        raise ValueError(f"a pair halved in one call needs one shape, got {a5.shape} and {b5.shape}")
    out = np.empty((len(pair),) + downsampled_shape(a5.shape, spatial_ndim), wdt)
    images = _cpu_load.descriptions(3)  # the images, their shape in row 2
    held = []
    row_kind = _row_kind(a5.dtype)
    for p, a in enumerate(pair):
        held.append(_cpu_load.describe(a, row_kind.dtype, images[p]))
    images[2, :5] = held[0].shape
    return _cpu_reduce.downsample2, (images, spatial_ndim == 3, out, row_kind), held


#: The row types of `halve` (see `_cpu_reduce.downsample2`), as empty arrays: typed by the
#: dispatcher's fast path, where a dtype object is not.
_ROWS_32, _ROWS_64 = np.empty(0, np.float32), np.empty(0, np.float64)


def _row_kind(dtype):
    """The rows `halve` sums samples of ``dtype`` in: float32 for float32 input and integers of 16
    bits or fewer, else float64."""
    return _ROWS_32 if halving_rows(dtype) == np.float32 else _ROWS_64


def scale_term(level, levels):
    """What MS-SSIM takes from scale ``level`` of ``levels``, as ``(want_cs, index)``: the finer
    scales' contrast-structure term alone (`ssim_means`' ``want_cs='only'``, index 1 of its
    means), the last scale's SSIM alone (``want_cs=False``, index 0)."""
    return (False, 0) if level == levels - 1 else ("only", 1)


def ms_ssim_means(x5, y5, spatial_ndim, weights, consts, level_weights, backend="cpu",
                  devices=(None, None)):
    """MS-SSIM of every (pair, channel) plane, shape (N, C).

    Scale ``l`` contributes its mean contrast-structure term (the last scale its
    mean SSIM), clamped at 0, to the power ``level_weights[l]``; between scales
    both images are halved by 2x2 (2x2x2) block means.
    """
    levels = len(level_weights)
    terms = []
    if backend == "cuda":
        cu = _cuda()
        with GPU_LOCK:
            xd, yd = device_inputs(x5, y5, *devices)
            for level in range(levels):
                means, _ = cu.ssim_means(xd, yd, spatial_ndim, weights, consts)
                terms.append(means)
                if level < levels - 1:
                    xd = cu.downsample2(xd, spatial_ndim, consts.dtype)
                    yd = cu.downsample2(yd, spatial_ndim, consts.dtype)
    else:
        terms = scale_means(x5, y5, spatial_ndim, weights, consts, levels, "block",
                            lambda xs, ys: halve(xs, spatial_ndim, consts.dtype, ys))
    value = np.ones(terms[0].shape[:2])
    for level, (means, w) in enumerate(zip(terms, level_weights)):
        value = value * np.maximum(means[..., scale_term(level, levels)[1]], 0.0) ** w
    # a NaN term (NaN input) must stay NaN: np.maximum keeps NaN
    return value


def scale_means(x5, y5, spatial_ndim, weights, consts, levels, rule, halve_pair, *, last_pad=0, consts_at=None,
                backend="cpu"):
    """Each scale's means (`ssim_means`' (N, C, 2) arrays, a list of ``levels``): the term MS-SSIM
    takes from each (`scale_term`), the images halved between scales by the SSIM kernel as it reads
    them where ``rule`` ('block', 'floor') is its halving and it can (`ssim_plan.halving_fuses`),
    else by ``halve_pair(xs, ys)`` on the host. ``last_pad``: the last scale scored over the images
    extended by that much of PyTorch's reflection (torchmetrics' full map), without halving; else
    it halves too, though not needed (one kernel for every scale: else the last would compile SSIM's
    kernel as well, a second task; its halving is a small part of it). ``consts_at(xs, ys)``: each
    later scale's constants from its images.

    On the CPU the kernel's calls are prepared (`engine.prepare_ssim_means`: their outputs
    allocated, each scale's images the halves the last call allocated) and run as late as they can
    be, one after the other (1.04-1.12x a call at 192^2 to 512^2 against one scale prepared and run
    at a time, the same at 1024^2: `benchmarks.ab_versions`). A scale's images are read
    (``consts_at``) or halved on the host only once the calls before it have run. The halved scales
    share one plan of the kernel's call (``reuse``). Where the kernel halves every scale, the thread
    keeps the scales' calls, and their halves, for its next call of this kind and shape
    (`ssim_plan.give`), which then runs them on its own images (`ssim_plan.take`): 1.37-1.47x at
    192^2 and 256^2, 1.14x at 512^2, 1.02-1.09x at 1024^2."""
    key = None
    if backend == "cpu" and rule and consts_at is None:
        key = kept_key(x5, y5, spatial_ndim, weights, consts, "scales", levels, rule, last_pad)
        calls = take(key)  # every scale's call, prepared by an earlier call of this kind and shape
        if calls is not None:
            calls[0].point(x5, y5)
            terms = [call.run()[0] for call in calls]
            give(key, calls)
            return terms
    if backend == "cpu":
        halving = halving_unless_fused(x5, y5, spatial_ndim, weights, consts, levels) if rule else \
            halving_later(x5, spatial_ndim, consts.dtype, levels)
    else:
        halving = ahead.Pending()
    terms, pending, reuse, made = [], [], {}, []

    def run_pending():
        terms.extend(call.run()[0] for call in pending)
        made.extend(pending)
        pending.clear()
    xs, ys = x5, y5
    for level in range(levels):
        last = level == levels - 1
        if consts_at is not None and level > 0:
            run_pending()
            c = consts_at(xs, ys)
        else:
            c = consts
        want_cs = scale_term(level, levels)[0]
        pad = last_pad if last else 0
        if backend != "cpu":
            terms.append(ssim_means(xs, ys, spatial_ndim, weights, c, backend=backend, want_cs=want_cs, pad=pad,
                                    pad_mode="reflect")[0])
            halved = None
        else:
            pending.append(prepare_ssim_means(xs, ys, spatial_ndim, weights, c, want_cs=want_cs, pad=pad,
                                              pad_mode="reflect" if pad else "symmetric",
                                              halve=None if pad else rule, reuse=reuse))
            halved = pending[-1].halved
        if last:
            break
        if halved is not None:  # the next scale, halved by the kernel as it reads this one
            xs, ys = halved[0], halved[1]
        else:
            key = None  # halved on the host: the scales' calls read new arrays at each call
            run_pending()
            halving.wait()
            xs, ys = halve_pair(xs, ys)
    run_pending()
    if key is not None and len(made) == levels:
        give(key, tuple(made))  # read only the first scale's images and their own halves
    return terms


def halving_ahead(a5, spatial_ndim, wdt, levels, beside):
    """On a cold first call, compile the halving kernel (`halve`) of ``a5``'s dtype in a helper
    process of its own while the first scale's kernel (``beside``) compiles here (`kernels.ahead`;
    the MS-SSIM gradient's). Returns the `ahead.Pending` to wait on before the first halving."""
    return ahead.start(*halving_also(a5, spatial_ndim, wdt, levels), beside=beside)


def halving_later(a5, spatial_ndim, wdt, levels):
    """On a cold first call, the halving kernel (`halve`) of ``a5``'s dtype put aside for the helper
    that the first scale's SSIM call starts (`ahead.later`: one helper process, not two beside
    this one), which compiles it after the SSIM task's last pass and before the SSIM kernel (which
    this process then compiles itself after its task). Returns the `ahead.Pending` to wait on
    before the first halving. (The MS-SSIM gradient keeps a helper of its own for the halving,
    `halving_ahead`: joined to the backward pass's helper, a cold first call took 5.05-5.25 ->
    5.23-5.31 s.)"""
    return ahead.later(*halving_also(a5, spatial_ndim, wdt, levels))


def halving_unless_fused(x5, y5, spatial_ndim, weights, consts, levels):
    """`halving_later`, unless the first scale's SSIM kernel halves the images itself
    (`ssim_plan.halving_fuses`; then so do the later scales': their images are the kernel's own
    output), when a helper compiling the halving kernel would only delay that kernel."""
    if levels > 1 and halving_fuses(x5, y5, spatial_ndim, weights, consts):
        return ahead.Pending()
    return halving_later(x5, spatial_ndim, consts.dtype, levels)


def halving_also(a5, spatial_ndim, wdt, levels):
    """The calls a helper compiles for MS-SSIM's halving on a cold first call: the halving kernel
    (`halve`) of ``a5``'s dtype and its task (their types: a small stand-in types them, whatever
    ``a5``'s layout); ``()`` when there is nothing to compile."""
    if levels < 2 or not ahead.cold(_cpu_reduce.downsample2):  # the cheap test first: every call asks
        return ()
    return halving_stand_in(a5.dtype, spatial_ndim, wdt)


def halving_stand_in(dtype, spatial_ndim, wdt):
    """The ``(kernel, args)`` calls of `halve` of an array of ``dtype`` (any layout), for a helper
    (`kernels.ahead`): the kernel, its task address a stand-in number, and its task. Typed
    only: no image is described (which would compile its row reader here first)."""
    out = np.empty((1,) * 6, wdt)
    args = (_cpu_load.descriptions(3), spatial_ndim == 3, out, _row_kind(np.dtype(dtype)))
    return (_cpu_reduce.downsample2, (0,) + args), _cpu_reduce.halving_task(*args)


def halve_by(a5, conv, spatial_ndim, wdt, b5=None):
    """One halving of a 5-D host array by the convention's rule, in the work dtype; with ``b5``
    (the same shape), of both, returned as a pair (`halve`'s one call for the two)."""
    axes = (2, 3, 4) if spatial_ndim == 3 else (3, 4)
    odd = any(a5.shape[ax] % 2 for ax in axes)
    sizes = [-(-a5.shape[ax] // 2) for ax in axes]
    pair = [a5] if b5 is None else [a5, b5]
    for p, a in enumerate(pair):
        if conv.downsample == "zeros-before-odd" and odd:  # np.pad always copies
            a = np.pad(a, [(a.shape[ax] % 2, 0) if ax in axes else (0, 0) for ax in range(5)])
        if conv.downsample == "start-if-odd" and odd:
            a = np.pad(a, [(1, 0) if ax in axes else (0, 0) for ax in range(5)], mode="edge")
        if conv.downsample in ("floor", "start-if-odd"):
            a = a[tuple(slice(None, n - n % 2) if ax in axes else slice(None) for ax, n in enumerate(a.shape))]
        elif conv.downsample == "before":
            a = np.pad(a, [(1, 0) if ax in axes else (0, 0) for ax in range(5)], mode="edge")
        pair[p] = a
    outs = [halve(pair[0], spatial_ndim, wdt)] if b5 is None else list(halve(pair[0], spatial_ndim, wdt, pair[1]))
    for p, out in enumerate(outs):
        if conv.downsample == "before":
            out = out[tuple(slice(None, sizes[axes.index(ax)]) if ax in axes else slice(None) for ax in range(5))]
        if conv.mix_channels and out.shape[1] > 1:
            out = (np.concatenate([out[:, :1], out[:, :-1]], axis=1) + out) / wdt.type(2)
        outs[p] = np.ascontiguousarray(out, dtype=wdt)
    return outs[0] if b5 is None else tuple(outs)


def scales_that_fit(shape5, win_size, spatial_ndim, levels, conv):
    """The number of scales to compute: all of them, or for ``fewer_scales`` conventions as
    many as keep the coarsest scale at least ``win_size`` long (sewar's rule, with its
    warning)."""
    if not conv.fewer_scales:
        return levels
    spatial = shape5[2:] if spatial_ndim == 3 else shape5[3:]
    # the caller has checked that one window fits (so fit >= 1)
    fit = int(math.floor(math.log2(min(spatial) / win_size))) + 1
    if fit < levels:
        warnings.warn(f"Image is too small for {levels} scales with window size {win_size}. "
                      f"Reducing to {fit} scales.", UserWarning, stacklevel=5)
    return min(fit, levels)


def ms_ssim_convention(x5, y5, spatial_ndim, weights, consts, level_weights, conv, *,
                       consts_at=None, backend="cpu"):
    """MS-SSIM of every pair, shape (N,) when ``conv.pool_channels`` else (N, C).

    Parameters
    ----------
    x5, y5 : ndarray, 5-D host arrays
    consts : ndarray
        Kernel constants (their dtype is the work dtype).
    level_weights : tuple of float
        One exponent per scale (already cut to the scales that fit).
    conv : MSConvention
    consts_at : callable, optional
        ``consts_at(xs, ys)``: the constants of a scale from its images (a data range that is
        recomputed at every scale, as torchmetrics does without ``data_range``).
    backend : {'cpu', 'cuda'}
        Where each scale's SSIM is computed.
    """
    t = ms_ssim_terms(x5, y5, spatial_ndim, weights, consts, len(level_weights), conv, consts_at=consts_at,
                      backend=backend)  # (levels, N, C)
    if conv.pool_channels:
        t = t.mean(axis=2)
    w = np.asarray(level_weights, dtype=np.float32 if conv.float32_weights else np.float64)
    w = w.astype(np.float64).reshape((-1,) + (1,) * (t.ndim - 1))
    if conv.negative == "complex":
        # prod(t ** w) over complex powers: magnitudes multiply, phases (pi w where t < 0) add
        magnitude = np.prod(np.abs(t) ** w, axis=0)
        return magnitude * np.cos(np.pi * np.sum(w * (t < 0), axis=0))
    return np.prod(np.maximum(t, 0.0) ** w, axis=0)


def ms_ssim_terms(x5, y5, spatial_ndim, weights, consts, levels, conv, *, consts_at=None, backend="cpu"):
    """Each scale's mean term of every (pair, channel) plane, float64, shape (levels, N, C): the
    contrast-structure term at the finer scales (computed alone), SSIM at the last (over the
    region ``conv.last`` names), the images halved between scales by ``conv``'s rule (a pair
    in one call). Arguments as for `ms_ssim_convention`, ``levels`` the number of scales."""
    wdt = consts.dtype
    # the kernel halves as it reads where the rule is a plain 2x2 mean ('floor' drops an odd edge)
    fused = conv.downsample if conv.downsample in ("block", "floor") and not conv.mix_channels else None
    means = scale_means(x5, y5, spatial_ndim, weights, consts, levels, fused,
                        lambda xs, ys: halve_by(xs, conv, spatial_ndim, wdt, ys),
                        last_pad=len(weights) // 2 if conv.last == "same-reflect" else 0, consts_at=consts_at,
                        backend=backend)
    terms = [m[..., scale_term(level, levels)[1]] for level, m in enumerate(means)]
    return np.stack(terms)
