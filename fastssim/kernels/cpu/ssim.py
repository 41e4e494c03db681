"""Fused SSIM and error kernels for the CPU (Numba, all cores).

Kernels only compute: every check happens before they are called
(``conventions.checks``), and the per-task partial sums they return are reduced by the
caller (``metrics``).

Layout of the SSIM kernel
-------------------------
Inputs are 5-D views ``(N, C, D, H, W)`` of the caller's arrays (pairs,
channels, depth, rows, columns; 2-D images have ``D == 1``), of any strides and
of dtype uint8, uint16, int16, int32, float32, float64 or float16, passed as their addresses
and strides (``load.describe``). The work dtype (float32 or
float64) is that of ``consts``. The window is separable: ``wd``, ``wh`` and
``ww`` are tuples of weights, so their lengths are compile-time constants and
the tap loops unroll, leaving the accumulators in registers and the pixel loop
free to vectorise. 2-D images pass ``wd = None``.

The output ('valid' region) is cut into tasks of ``band_h`` rows by ``band_w``
columns over the whole depth, run in parallel with ``prange``. A task streams
its input rows once:

1. load a row segment (``_cpu_load``: read through a symmetric reflection for the
   'same' map, float16 decoded), convert it to the work dtype, subtract the task's
   shift and form the products ``x*x + y*y`` and ``(x-y)^2``;
2. filter the four moments (``x``, ``y``, ``x^2 + y^2``, ``(x - y)^2``: `kernels.math.ssim_terms`
   needs the variances only as their sum) along W into a rolling buffer of rows;
3. once enough rows are there, filter along H: for 2-D straight into the SSIM
   formula and the row sum, four output rows per sweep (the ``Kh + 3`` rows are
   loaded once and feed all four: register blocking; pairs under four taps); for
   3-D into a rolling buffer of ``Kd + 3`` planes, two rows per sweep, which is then
   filtered along D into the formula, four output planes per sweep (the same pass as
   H's in 2-D).
   A row of either ring holds the four moments side by side, so a pass is one loop.

No full-size intermediate exists; the map is written only when asked for.
Task boundaries depend on the shape only, so results do not depend on the
number of threads. The passes of steps 2 and 3 are in ``_cpu_passes``.
"""

import numba
import numpy as np
from numba import njit, prange, typeof, types
from numba.extending import overload

from ... import config as cfg
from .calls import call_at
from .scratch import empty, zeros
from .load import _load_row, load_row
from .reduce import halve_due, halved_columns, masked_row_sum
from .box import combine_box4
from .passes import MOMENTS, _combine, _combine2, _combine_ssim4, _filter_row, combine_rows
from ..math import unravel4

_unravel4 = njit(inline="always", **cfg.JIT)(unravel4)


@njit(inline="always", **cfg.JIT)
def _due(i, k, count, g):
    """``(first, how many)`` outputs of a sliding window of ``k`` that input ``i`` completes,
    outputs going in groups of ``g``: outputs o .. o + g - 1 once input o + k + g - 2 is in
    (o a multiple of g), the last ``count % g`` together after the last input; ``(0, 0)`` when
    none."""
    if i >= k + g - 2 and (i - k - g + 2) % g == 0:
        return i - k - g + 2, g
    if i == count + k - 2 and count % g != 0:
        return count - count % g, count % g
    return 0, 0


def shift_of(lanes, levels, lin):
    """A task's shift for one image as the row passes take it: the number ``levels[0]`` for one
    image per row (``lanes`` None), else a row of ``lin * L`` samples, each its channel's level
    (``levels`` has one per channel). Chosen when compiling, from the type of ``lanes``."""


@overload(shift_of)
def _shift_of_impl(lanes, levels, lin):
    if isinstance(lanes, types.NoneType):
        return lambda lanes, levels, lin: levels[0]

    def row(lanes, levels, lin):
        out = empty(lin * lanes, levels.dtype)
        for j in range(lin * lanes):
            out[j] = levels[j % lanes]
        return out
    return row


@njit(inline="always", **cfg.JIT)
def _window(wd, wh, ww, pad, lanes):
    """``(L, kd, kh, kw, pw, pd)``: the interleaved channels (1 for one image per row), the window's
    taps along D, H and W (``kd`` 1 for 2-D), and the reflected samples on each side along H and W,
    and along D. Constants when compiling wherever their option is None (the tap counts always are:
    the windows are tuples), so that the task's code is specialised on them."""
    if lanes is None:  # each `is None` test on an argument is settled when compiling
        L = 1
    else:
        L = lanes
    if wd is None:
        kd = 1
    else:
        kd = len(wd)
    if pad is None:
        pw = 0
    else:
        pw = pad
    if wd is None:
        pd = 0
    else:
        pd = pw
    return L, kd, len(wh), len(ww), pw, pd


@njit(**cfg.JIT_PARALLEL)
def ssim_sums(task_at, images, wd, wh, ww, consts, band_h, band_w, out_sum, out_map, mask, pad, lanes, exact=None,
              halved=None):
    """Per-task sums of the SSIM map over the 'valid' region.

    Parameters
    ----------
    task_at : int
        The address of `_ssim_task` compiled for these arguments (`task_call`): the tasks are
        called through it, so that this kernel does not compile their code again (`calls`).
    images : ndarray, int64, (3, load.IMAGE_FIELDS)
        Rows 0 and 1: the images as `load.describe` writes them (the address of a 5-D (N, C,
        D, H, W) host array of any strides and of dtype uint8, uint16, int16, int32, float32,
        float64 or float16, its strides and its row reader, which converts as it loads); row 2
        begins with (N, C, D, H, W), their shape.
    wd : tuple of float, or None
        Window weights along D (work dtype) for volumes; None for 2-D images.
    wh, ww : tuple of float
        Window weights along H and W (work dtype).
    consts : ndarray
        ``[C1, C2, cov_norm, cs_floor, want_cs, shift, eps, mirror]`` in the work dtype
        (``want_cs`` 1: also sum the contrast-structure term, 2: sum it alone, with no map, mask or
        exact sums: the SSIM sums are then 0 and its rows unwritten; ``shift`` 0: raw moments, for
        a window whose taps do not sum to 1, else 1: moments shifted by the task's level; ``eps``:
        see ``kernels.math.ssim_terms``; ``mirror`` nonzero: ``pad`` reflects without repeating
        the edge sample, PyTorch's 'reflect').
    band_h, band_w : int
        Output rows and columns per task.
    out_sum : ndarray, float64, (N * C * nbh * nbw * L, 4)
        Receives the sums of the SSIM map and of the contrast-structure map
        over each task's region, and with ``mask`` the sum of the SSIM map where
        ``mask`` is 1 and the count of those windows; tasks are ordered (n, c, row band,
        column band), then channel of the interleaved rows (``L`` of them, 1 without ``lanes``).
    out_map : ndarray, 5-D, or None
        Receives the 'valid' map; None: no map.
    mask : ndarray, uint8, 5-D, the shape of the 'valid' map, C-contiguous, or None
        1 for the windows to average in the masked sums.
    pad : int or None
        Score the images as if extended by ``pad`` samples of symmetric reflection on each side
        of every spatial axis (the 'same' map, without a padded copy; the reflection's kind is
        ``consts[7]``); None: as they are.
    lanes : int or None
        ``L``: the last axis holds ``L`` interleaved channels, ``W * L`` samples (channel-last
        colour pixels, ``C == 1``), filtered together: every tap of the W filter is ``L`` samples
        on, the other passes work sample by sample, each channel shifted by its own level, and
        the sums (SSIM and contrast-structure) are kept per channel. For 2-D images without
        ``pad``, mask or map (the caller's check). None: one image per row.
    exact : ndarray, float64, or None
        Exact window sums of 8-bit images (`kernels.exact`): ``[1 / k, C1, C2, cov_norm, cs_floor,
        eps, k]`` for a window of ``k`` samples. The caller passes windows
        of taps 1 (a uniform window of at least four taps per axis, at most 121 in all), float32
        work and raw moments (``shift`` 0): every window sum of ``x``, ``y``, ``x^2 + y^2`` and
        ``(x - y)^2`` is then an integer below 2^24, exact in float32 in any order; the last pass
        is a box of running sums (`box.combine_box4`), and the formula takes the variances from
        the sums exactly, then runs in float64 with these constants. For 2-D images (with
        ``pad``, mask or map in float32 calls only: the caller's check).
        None: the weighted passes.
    halved : ndarray, 6-D (2, N, C, 1, H2, W2), C-contiguous, in the work dtype, or None
        Also write both images' 2x2 means (MS-SSIM's next scale) here as `reduce.downsample2` does
        (an odd last row or column averaged with itself where ``H2`` is ``ceil(H / 2)``, dropped
        where it is ``H // 2``; so for ``W2``), each task the rows and columns it owns (its output's,
        the last band's also the ``k - 1`` after) as it reads them. For 2-D images without ``pad``,
        ``lanes`` or ``exact``, windows of two taps or more, rows read in the work dtype as
        ``downsample2`` reads them (the caller's check). None: no halving.

    Notes
    -----
    One specialization serves every input dtype and layout (the images are numbers; the row
    reader branches on the dtype). Every option that most calls do not use is None unless used
    (``wd``, ``out_map``, ``mask``, ``pad``, ``lanes``, ``exact``, ``halved``): Numba settles a test ``arg is None`` on
    an argument when compiling and drops the branch it rules out, so the plain 2-D call
    compiles none of the volume, map, mask or padding code (each option used is a
    specialization of its own, compiled on first use). ``pad`` and ``lanes`` are numbers, not
    literals, when given: one specialization for every padding (a literal gave every 'same' map
    its own).
    """
    L, kd, kh, kw, pw, pd = _window(wd, wh, ww, pad, lanes)
    N, C, D0, H0, W0 = images[2, 0], images[2, 1], images[2, 2], images[2, 3], images[2, 4]
    D = D0 + 2 * pd  # the extended extents
    H = H0 + 2 * pw
    W = W0 // L + 2 * pw
    Ho = H - kh + 1
    Wo = W - kw + 1
    nbh = (Ho + band_h - 1) // band_h
    nbw = (Wo + band_w - 1) // band_w
    ntask = N * C * nbh * nbw
    extents = (C, D, Ho, Wo, nbh, nbw)
    for task in prange(ntask):
        # the task as a function of its own, called by address (`calls`): Numba's parallel passes
        # see a one-line loop (5.9 -> 5.1 s to compile the plain 2-D kernel; warm speed 0.98-1.04
        # A/B), and its code is compiled once, not again in each of the loop's four modules. The
        # index is cast so that the task compiles once: the loop is typed with a signed index,
        # then lowered with an unsigned one, and each would be a specialization.
        call_at(_ssim_task, task_at, (np.int64(task), extents, images, wd, wh, ww, consts, band_h, band_w,
                                      out_sum, out_map, mask, pad, lanes, exact, halved))


def task_call(images, wd, wh, ww, consts, band_h, band_w, out_sum, out_map, mask, pad, lanes, exact=None,
              halved=None):
    """``(task function, its arguments)`` of `ssim_sums` called with these (the task index 0): what
    its ``task_at`` address is taken of (`calls.address`)."""
    return _ssim_task, (0, (0,) * 6, images, wd, wh, ww, consts, band_h, band_w, out_sum, out_map, mask, pad,
                        lanes, exact, halved)


def ahead_calls(images, wd, wh, ww, consts, band_h, band_w, out_sum, out_map, mask, pad, lanes, exact=None,
                halved=None):
    """What a helper process can compile while this one compiles `_ssim_task` (`kernels.ahead`):
    the task's last pass, the callee that takes longest to compile (about 0.6 s here), with the
    types the task calls it with; then this kernel, which needs its task only by address.
    ``(dispatcher, argument types)`` pairs, for `ssim_sums`'s arguments. Measured here, a helper
    started with the call has the pass about 1.35 s into it, and the task meets it at about
    1.25 s and waits for it (`ahead._Progress._meet`); the row loader, met at 1.0-1.2 s, would
    not be ready, and a pass not foreseen here (windows of fewer than four taps) is compiled by the
    task. (`test_kernel_calls` checks these types against a compiled task's.)"""
    dt = numba.from_dtype(consts.dtype)
    a1, a2, a3 = (types.Array(dt, n, "C") for n in (1, 2, 3))
    f64 = types.Array(types.float64, 1, "C")
    shift = dt if lanes is None else a1  # `shift_of`: a number, or a row of each channel's level
    taps = typeof(wh)
    out = []
    if exact is not None:
        out.append((combine_box4, (a3, taps, types.int64, types.IntegerLiteral(0), types.int64, f64, types.boolean,
                                   a2, types.int64, a3, shift, f64, f64)))
    elif len(wh) >= 4:
        out.append((_combine_ssim4, (a3, taps) + (types.int64,) * 3 + (a1, shift, shift, a2, types.int64, a3, f64)))
    out.append((ssim_sums, (0, images, wd, wh, ww, consts, band_h, band_w, out_sum, out_map, mask, pad, lanes,
                            exact, halved)))
    return out


@njit(**cfg.JIT)
def _ssim_task(task, extents, images, wd, wh, ww, consts, band_h, band_w, out_sum, out_map, mask, pad,
               lanes, exact, halved):
    """Task ``task`` of `ssim_sums` (whose arguments it takes; ``extents``: ``(C, D, Ho, Wo, nbh,
    nbw)``, the channels, the extended depth, the output's rows and columns and the bands along
    them, as `ssim_sums` derived them)."""
    C, D, Ho, Wo, nbh, nbw = extents
    L, kd, kh, kw, pw, pd = _window(wd, wh, ww, pad, lanes)  # constants where the options are None
    x = images[0]
    y = images[1]
    shape = images[2]
    dt = consts.dtype
    mirror = 1 if consts[7] != 0 else 0  # the padding's reflection (see `_cpu_load.sym`)
    n, c, hb, wb = _unravel4(task, C, nbh, nbw)
    oh0 = hb * band_h
    oh1 = min(oh0 + band_h, Ho)
    ow0 = wb * band_w
    ow1 = min(ow0 + band_w, Wo)
    bh = oh1 - oh0
    bw = ow1 - ow0
    lin = bw + kw - 1
    nS = bw * L  # samples per row of output (L interleaved channels)

    xr = empty(lin * L, dt)
    yr = empty(lin * L, dt)
    ss = empty(lin * L, dt)
    dd = empty(lin * L, dt)
    # A row of the rings holds the four filtered moments side by side (moment m at m * nS),
    # so that each pass along H or D is one loop over 4 * nS elements, with its set-up paid
    # once per row rather than once per moment. Rows padded by 24 elements: power-of-two
    # strides between the ring's slots would map their streams onto the same L1 sets.
    bwp = MOMENTS * nS + 24
    # 2-D bands produce four output rows per sweep (pairs for windows under 4 taps): the
    # ring holds the window and three slots more; 3-D rows go in pairs (one more)
    g = 4 if kd == 1 and kh >= 4 else 2
    gd = 4 if kd >= 4 else 2
    nslot = kh + g - 1 if kd == 1 else kh + 1
    rows = empty((nslot, 1, bwp), dt)
    # 3-D: output planes in fours along D, as rows along H in 2-D (a ring of kd + 3 planes;
    # pairs under four taps). Once the ring's rows held the moments side by side, fours beat
    # pairs by 3-7% (one-process A/B, 128^3 and 256^3, twice); before, pairs had been faster.
    if wd is not None:
        planes = empty((kd + gd - 1, bh, bwp), dt)
    srows = empty((4, nS), dt)
    if halved is not None:  # the rows and columns it halves (`reduce.halve_due`): its own, the last band's to the end
        own1 = oh1 if hb < nbh - 1 else Ho + kh - 1
        hj0, hcount = halved_columns(ow0, ow1 if wb < nbw - 1 else Wo + kw - 1, Wo + kw - 1, halved.shape[5])
        hbuf0, hbuf1 = empty(hcount, dt), empty(hcount, dt)
    vbuf = empty((1, 4, MOMENTS * nS), dt)  # filtered rows, shaped as a ring's slot: (1, rows, 4 * nS)

    # The task's shift: the mean of its first input row, per image (and channel).
    # Summed in float64, so that a channel's shift does not depend (in practice) on the
    # order of the sum, which differs between one image per row and interleaved channels.
    sh = zeros((2, L), dt)
    if pad is None:
        _load_row(x, y, n, c, n - n, oh0, ow0 * L, lin * L, shift_of(lanes, sh[0], lin),
                  shift_of(lanes, sh[1], lin), xr, yr, ss, dd)
    else:
        load_row(x, y, shape, n, c, n - n, oh0, ow0 * L, lin * L, pw, pd, mirror, shift_of(lanes, sh[0], lin),
                 shift_of(lanes, sh[1], lin), xr, yr, ss, dd)
    level = zeros((2, L), np.float64)
    for j in range(lin * L):
        level[0, j % L] += np.float64(xr[j])
        level[1, j % L] += np.float64(yr[j])
    for q in range(L):  # consts[5] = 0: no shift, raw moments (a window whose taps do not sum to 1)
        sh[0, q] = level[0, q] / lin * consts[5]
        sh[1, q] = level[1, q] / lin * consts[5]
    shx = shift_of(lanes, sh[0], lin)
    shy = shift_of(lanes, sh[1], lin)
    lane_sums = zeros(nS if lanes is not None else 1, np.float64)  # float64 column sums, interleaved
    lane_cs = zeros(nS if lanes is not None else 1, np.float64)  # the same, contrast-structure terms

    acc = 0.0
    acc_cs = 0.0
    acc_m = 0.0
    cnt_m = 0.0
    for d in range(D):
        for h in range(oh0, oh1 + kh - 1):
            if pad is None:  # the common case straight to its loader
                _load_row(x, y, n, c, d, h, ow0 * L, lin * L, shx, shy, xr, yr, ss, dd)
                if halved is not None:
                    halve_due(x, y, n, c, h, Ho + kh - 1, oh0, own1, hj0, hcount, hbuf0, hbuf1, halved)
            else:
                load_row(x, y, shape, n, c, d, h, ow0, lin, pw, pd, mirror, shx, shy, xr, yr, ss, dd)
            i = h - oh0
            slot = i % nslot
            _filter_row(xr, ww, rows[slot, 0, :nS], nS, lanes)
            _filter_row(yr, ww, rows[slot, 0, 1 * nS:2 * nS], nS, lanes)
            _filter_row(ss, ww, rows[slot, 0, 2 * nS:3 * nS], nS, lanes)
            _filter_row(dd, ww, rows[slot, 0, 3 * nS:4 * nS], nS, lanes)
            if wd is not None:  # into the ring of planes, two rows per sweep (with the moments of a
                # row side by side, +5-16% against one row; before, with a loop per moment,
                # pairs were slower: 110-120 against 160-175 Mvox/s at 128^3)
                o, nout = _due(i, kh, bh, 2)
                if nout == 2:
                    _combine2(rows, wh, o, 0, nS, planes, d % (kd + gd - 1), o)
                elif nout == 1:
                    _combine(rows, wh, o, 0, nS, planes, d % (kd + gd - 1), o)
                continue
            o, nout = _due(i, kh, bh, g)
            if nout == 0:
                continue
            if exact is None:
                t_ssim, t_cs = combine_rows(rows, wh, o, 0, nS, consts, shx, shy, srows, nout, vbuf, lane_cs)
            else:  # integer window sums, running along H (the caller's windows have four taps or more);
                # interleaved channels' float64 terms go straight to their column sums
                t_ssim, t_cs = combine_box4(rows, wh, o, 0, nS, exact, consts[4] != 0, srows, nout, vbuf, shx,
                                            lane_sums, lane_cs)
            acc += t_ssim
            acc_cs += t_cs
            if lanes is not None and exact is None:  # the channels' sums are taken apart at the end
                for q in range(nout if consts[4] != 2 else 0):  # 2: cs alone, no rows of SSIM
                    res = srows[q]
                    for j in range(nS):
                        lane_sums[j] += np.float64(res[j])
                continue
            for q in range(nout):
                res = srows[q]
                if out_map is not None:
                    out_map[n, c, d, oh0 + o + q, ow0:ow1] = res
                if mask is not None:
                    a, b = masked_row_sum(mask, n, c, d, oh0 + o + q, ow0, res, bw)
                    acc_m += a
                    cnt_m += b
        if wd is None:
            continue
        od, nout = _due(d, kd, D - kd + 1, gd)  # output planes, in fours
        for r in range(bh if nout > 0 else 0):
            t_ssim, t_cs = combine_rows(planes, wd, od, r, nS, consts, shx, shy, srows, nout, vbuf, lane_cs)
            acc += t_ssim
            acc_cs += t_cs
            for q in range(nout):
                res = srows[q]
                if out_map is not None:
                    out_map[n, c, od + q, oh0 + r, ow0:ow1] = res
                if mask is not None:
                    a, b = masked_row_sum(mask, n, c, od + q, oh0 + r, ow0, res, bw)
                    acc_m += a
                    cnt_m += b
    if lanes is None:
        out_sum[task, 0] = acc
        out_sum[task, 1] = acc_cs
        out_sum[task, 2] = acc_m
        out_sum[task, 3] = cnt_m
    else:
        for q in range(L):
            t = 0.0
            t_cs = 0.0
            for j in range(q, nS, L):
                t += lane_sums[j]
                t_cs += lane_cs[j]
            out_sum[task * L + q, 0] = t
            out_sum[task * L + q, 1] = t_cs
            out_sum[task * L + q, 2] = 0.0
            out_sum[task * L + q, 3] = 0.0
