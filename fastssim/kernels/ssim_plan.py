"""The CPU SSIM kernel's call (`engine.ssim_means`), in two steps: what the call derives from the
kind of its inputs (their dtypes and memory layout, the window, the options), a `Plan`, and the
call itself on images of that kind (`Plan.prepare`, then `Call.run`).

A caller that scores images of one kind again and again keeps the plans (``prepare_ssim_means``'
``reuse``): MS-SSIM's halved scales, C-contiguous arrays of the work dtype, each derived the same
way from the last (`plan_key`); the derivation was about 5 of a small call's 55 us of Python here.
A prepared call (`Call`) has its outputs allocated before it runs, so that MS-SSIM can prepare
the next scale's call on them (`engine_ms.scale_means`).

A thread also keeps the prepared calls of its last few plain calls (`kept_key`, `take`, `give`):
the next call of the same kind and shape points the kept call at its images (`Call.point`) and
runs it, neither deriving nor preparing anything; an MS-SSIM call keeps the calls of all its
scales, and with them the buffers its kernel halves into (fresh ones were page-faulted again at
every call).
"""

import functools
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import config as cfg
from . import ahead, exact as _exact
from .arrays import band_rows_2d, readonly, spatial_order
from .cpu import load as _cpu_load, ssim as _cpu
from .cpu.calls import address
from .math import axis_windows, sums_to_one, valid_shape


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




def _valid_shape(shape5, wins, spatial_ndim):
    """(Do, Ho, Wo) of the 'valid' map of 5-D inputs in the caller's axis order (``wins``: a window
    per spatial axis)."""
    ks = [len(w) for w in wins]
    return (() if spatial_ndim == 3 else tuple(shape5[2:3])) + valid_shape(shape5[5 - spatial_ndim:], ks)


def plan_key(x5, y5, spatial_ndim, weights, consts, want_map, mask5, pad, pad_mode, halve):
    """The key under which a `Plan` for these arguments is kept for reuse, or None where none is:
    for plain calls (no map or mask) on C-contiguous arrays of the work dtype, each spatial axis of
    more than one sample. Their plan depends on nothing else of theirs than what the key holds (not
    on their shape): read in their own axis order (the strides fall along each array), one image
    per row (a channel is more than one sample apart), and no exact sums (not 8-bit); so MS-SSIM's
    halved scales share one.
    ``weights`` enters by identity: a key is valid while the caller holds that window unchanged
    (a `Plan`'s taps are its values then)."""
    if want_map or mask5 is not None:
        return None
    wdt = consts.dtype
    for a in (x5, y5):
        if a.dtype != wdt or not a.flags.c_contiguous or min(a.shape[2 if spatial_ndim == 3 else 3:]) < 2:
            return None
    return wdt, spatial_ndim, id(weights), pad, pad_mode, halve


class Plan:
    """What `engine.ssim_means` derives from the kind of its inputs before the CPU kernel's call:
    the axis order in which the kernel reads them, the taps in the work dtype, the interleaved
    channels, the exact sums' constants, whether the kernel can halve them and by which rule
    (``halve``; `prepare` then allocates the halves where the valid region is not empty).
    Arguments as for `engine.ssim_means`."""

    __slots__ = ("spatial_ndim", "wins", "wdt", "perm", "taps", "unit", "lanes", "exact", "fuses", "pad", "halve")

    def __init__(self, x5, y5, spatial_ndim, weights, consts, want_map, mask5, pad, halve):
        self.spatial_ndim = spatial_ndim
        self.wins = wins = axis_windows(weights, spatial_ndim)
        self.wdt = wdt = consts.dtype
        self.perm = perm = spatial_order(x5, spatial_ndim)
        xk, yk = x5.transpose(perm), y5.transpose(perm)
        self.taps, self.unit = _kernel_taps(tuple(w.tobytes() for w in wins), wdt.char)
        self.pad = pad
        self.halve = halve
        plain = not (pad or want_map or mask5 is not None)
        self.lanes = lanes = interleaved_lanes(xk, yk, spatial_ndim, plain)
        self.exact = exact = _exact.constants(xk, yk, wins, spatial_ndim, plain, consts)
        if exact is not None:  # 8-bit images, a uniform window: exact integer sums in float32 (`kernels.exact`)
            wd, wh, ww = self.taps
            self.wdt, self.taps, self.unit = np.dtype(np.float32), (wd, _exact.unit_taps(len(wh)),
                                                                    _exact.unit_taps(len(ww))), False
        in_order = perm if spatial_ndim == 2 else None
        self.fuses = bool(halve and plain and _fuses_halving(xk, yk, in_order, lanes, exact, pad, self.taps, self.wdt))

    def views(self, x5, y5):
        """``x5`` and ``y5`` as the kernel reads them: in its axis order, channel-last pixels as rows
        of ``W * C`` samples where the plan filters the channels together."""
        xk = x5.transpose(self.perm)
        yk = y5.transpose(self.perm)
        if self.lanes:  # channel-last pixels: the channels filtered together, C samples per pixel in a row
            N, C, D, H, W = xk.shape
            xk, yk = (as_strided(a, (N, 1, D, H, W * C), a.strides[:4] + a.strides[1:2]) for a in (xk, yk))
        return xk, yk

    def prepare(self, x5, y5, consts, want_cs=False, want_map=False, mask5=None, pad_mode="symmetric"):
        """The kernel's call on ``x5`` and ``y5`` (of the kind this plan was made for) with the
        constants ``consts`` (their numbers: a plan serves any), ready to run: a `Call`, whose
        outputs (the map, the halves) are allocated, and whose ``halved`` is None where the kernel
        will not halve."""
        wdt, perm, pad, lanes = self.wdt, self.perm, self.pad, self.lanes
        wd, wh, ww = self.taps
        N, C, D, H, W = (x5.shape[i] for i in perm)  # the kernel's axis order (`views` transposes)
        if self.spatial_ndim == 3:
            band_h, band_w = cfg.BAND_H_3D, cfg.BAND_W_3D
            Do, = valid_shape((D,), (len(wd),), pad)
        Ho, Wo = valid_shape((H, W), (len(wh), len(ww)), pad)
        if self.spatial_ndim == 2:
            band_h, band_w = band_rows_2d(Ho), cfg.BAND_W_2D
            Do = D
        halved = None
        if self.fuses and min(Ho, Wo) > 0:
            two = (lambda n: -(-n // 2)) if self.halve == "block" else (lambda n: n // 2)
            halved = np.empty((2, N, C, D, two(H), two(W)), dtype=wdt)  # in the kernel's axis order
        nbh = -(-Ho // band_h)
        nbw = -(-Wo // band_w)
        sums = np.empty((N * C * nbh * nbw, 4), dtype=np.float64)
        smap = np.empty((N, C, Do, Ho, Wo), dtype=wdt) if want_map else None
        mk = None
        if mask5 is not None:
            # in the caller's axis order, then permuted as the images are; C-contiguous and
            # read-only, so that every masked call has the same specialization
            full = tuple(x5.shape[:2]) + _valid_shape(x5.shape, self.wins, self.spatial_ndim)
            mk = readonly(np.ascontiguousarray(np.broadcast_to(mask5, full).transpose(perm)))
        cs_only = want_cs == "only" and not want_map and mask5 is None
        flags = [2 if cs_only else 1 if want_cs else 0, 1 if self.unit else 0, consts[4],
                 1 if pad_mode == "reflect" else 0]
        consts = np.array([*consts[:4], *flags], dtype=wdt)  # see _cpu.ssim_sums
        exact = self.exact
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
        call = Call(0, args, None, (N, C, nbh * nbw, Do * Ho * Wo), lanes, mask5 is not None, cs_only,
                    None if smap is None else smap.transpose(tuple(int(i) for i in np.argsort(perm))), halved, self)
        call.point(x5, y5)
        images[2, :5] = call.held[0].shape
        call.task_at = address(*_cpu.task_call(*args))
        return call


class Call:
    """A prepared call of the CPU SSIM kernel (`Plan.prepare`): its task's address, its arguments,
    the arrays its descriptions point to (``held``: alive until it has run), and what its sums
    are reduced by. ``smap`` and ``halved``: its outputs, allocated (None where not asked)."""

    __slots__ = ("task_at", "args", "held", "counts", "lanes", "masked", "cs_only", "smap", "halved", "plan")

    def __init__(self, task_at, args, held, counts, lanes, masked, cs_only, smap, halved, plan):
        self.task_at, self.args, self.held, self.counts = task_at, args, held, counts
        self.lanes, self.masked, self.cs_only, self.smap, self.halved = lanes, masked, cs_only, smap, halved
        self.plan = plan

    def point(self, x5, y5):
        """Describe ``x5`` and ``y5`` (of the kind and shape this call was prepared for) as the images
        it reads (`_cpu_load.describe`), and hold them (or the copies described) until it has run."""
        xk, yk = self.plan.views(x5, y5)
        images, wdt = self.args[0], self.plan.wdt
        self.held = _cpu_load.describe(xk, wdt, images[0]), _cpu_load.describe(yk, wdt, images[1])

    def run(self):
        """Run the kernel: ``(means, smap, halved)`` as `engine.ssim_means` returns them (``smap``
        and ``halved`` written now)."""
        _cpu.ssim_sums(self.task_at, *self.args)
        N, C, tasks, windows = self.counts
        sums = self.args[7]
        if tasks == 1:  # one task per plane: its sums are the totals (a sum of one is that number)
            totals = sums.reshape(N, C, 4)
        elif self.lanes:
            totals = sums.reshape(N, tasks, C, 4).sum(axis=1)
        else:
            totals = sums.reshape(N, C, tasks, 4).sum(axis=2)
        if self.masked:
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.stack([totals[..., 2] / totals[..., 3], totals[..., 3]], axis=-1)
        else:
            means = totals[..., :2] / windows
        if self.cs_only:
            means[..., 0] = np.nan  # not computed (the exact sums compute it: dropped all the same)
        return means, self.smap, self.halved


class _Kept(threading.local):
    """Per thread: prepared calls kept for the next call of their kind and shape (`take`, `give`):
    ``calls`` maps a key to ``(calls, bytes of their outputs)``, the most recent last; ``bytes`` is
    their total."""

    def __init__(self):
        self.calls = {}
        self.bytes = 0


_KEPT = _Kept()


def kept_key(x5, y5, spatial_ndim, weights, consts, *options):
    """The key under which a plain call's prepared calls are kept (`give`): everything a `Plan` and
    its `Plan.prepare` derive them from, the images' dtypes, shapes and strides included (not
    their data or addresses, which `Call.point` describes at each call), the task sizes
    (``config.BAND_*``, which a tuning run may change), and the caller's ``options`` (hashable);
    None for a window given per axis (not kept)."""
    if not isinstance(weights, np.ndarray):
        return None
    return (x5.dtype, x5.shape, x5.strides, y5.dtype, y5.shape, y5.strides, spatial_ndim, weights.tobytes(),
            consts.dtype, consts.tobytes(), cfg.BAND_H_2D, cfg.BAND_W_2D, cfg.BAND_H_3D, cfg.BAND_W_3D) + options


def take(key):
    """The calls this thread kept under ``key`` (`give`), removed from the store while they are in
    use (a call of the same kind made meanwhile, from a signal handler, prepares its own), or None
    (always with ``config.KEPT_CALLS`` 0: nothing is kept)."""
    if key is None or cfg.KEPT_CALLS < 1:
        return None
    entry = _KEPT.calls.pop(key, None)
    if entry is None:
        return None
    _KEPT.bytes -= entry[1]
    return entry[0]


def give(key, calls):
    """Keep ``calls`` (a tuple of `Call`, run) under ``key`` for this thread's next call of that
    kind, the most recent last: at most ``config.KEPT_CALLS`` keys per thread, whose outputs
    (sums, halves) hold at most ``config.KEPT_CALL_BYTES`` together (the oldest let go first; calls
    that pass it alone are not kept). The first call's images are let go (described again at the
    next call)."""
    calls[0].held = None
    size = sum(c.args[7].nbytes + (0 if c.halved is None else c.halved.nbytes) for c in calls)
    if key is None or size > cfg.KEPT_CALL_BYTES:
        return
    kept = _KEPT.calls
    kept[key] = calls, size
    _KEPT.bytes += size
    while len(kept) > cfg.KEPT_CALLS or _KEPT.bytes > cfg.KEPT_CALL_BYTES:
        _KEPT.bytes -= kept.pop(next(iter(kept)))[1]


def forget():
    """Let go of every call this thread kept."""
    _KEPT.calls.clear()
    _KEPT.bytes = 0
