"""Fused SSIM and error kernels for the CPU (Numba, all cores).

Kernels only compute: every check happens before they are called
(``_validate``), and the per-task partial sums they return are reduced by the
caller (``metrics``).

Layout of the SSIM kernel
-------------------------
Inputs are 5-D views ``(N, C, D, H, W)`` of the caller's arrays (pairs,
channels, depth, rows, columns; 2-D images have ``D == 1``), of any strides and
of dtype uint8, uint16, int16, int32, float32 or float64, or float16 bit patterns
(uint16 views, ``half``). The work dtype (float32 or
float64) is that of ``consts``. The window is separable: ``wd``, ``wh`` and
``ww`` are tuples of weights, so their lengths are compile-time constants and
the tap loops unroll, leaving the accumulators in registers and the pixel loop
free to vectorise. 2-D images pass ``wd = (1.0,)``.

The output ('valid' region) is cut into tasks of ``band_h`` rows by ``band_w``
columns over the whole depth, run in parallel with ``prange``. A task streams
its input rows once:

1. load a row segment (``_cpu_load``: read through a symmetric reflection for the
   'same' map, float16 decoded), convert it to the work dtype, subtract the task's
   shift and form the products ``x*x``, ``y*y``, ``(x-y)^2``;
2. filter the five moments along W into a rolling buffer of ``Kh + 1`` rows;
3. once enough rows are there, filter along H: for 2-D straight into the SSIM
   formula and the row sum, two output rows per sweep (the ``Kh + 1`` rows are
   loaded once and feed both: register blocking); for 3-D into a rolling buffer
   of ``Kd + 1`` planes, which is then filtered along D into the formula, two
   output planes per sweep.

No full-size intermediate exists; the map is written only when asked for.
Task boundaries depend on the shape only, so results do not depend on the
number of threads.
"""

import numpy as np
from numba import njit, prange

from . import _config as cfg
from ._cpu_load import _load_row, load_row
from ._math import ssim_terms, unravel4

_ssim_terms = njit(inline="always", **cfg.JIT)(ssim_terms)
_unravel4 = njit(inline="always", **cfg.JIT)(unravel4)


@njit(**cfg.JIT)
def _filter_row(src, w, dst, n):
    """``dst[j] = sum_t w[t] * src[j + t]`` for ``j < n`` (taps unrolled)."""
    k = len(w)
    for j in range(n):
        s = w[0] * src[j]
        for t in range(1, k):
            s += w[t] * src[j + t]
        dst[j] = s


@njit(**cfg.JIT)
def _combine(ring, w, base, row, n, dst, dslot, drow):
    """Filter five moments across the ``len(w)`` slots of a rolling buffer.

    ``ring[s, m, row, j]`` holds moment ``m`` of slot ``s``; slot
    ``(base + t) % (len(w) + 1)`` is tap ``t`` (the ring has one slot more than the window).
    Writes ``dst[dslot, m, drow, :n]``.
    """
    k = len(w)
    for m in range(5):
        for j in range(n):
            s = w[0] * ring[base % (k + 1), m, row, j]
            for t in range(1, k):
                s += w[t] * ring[(base + t) % (k + 1), m, row, j]
            dst[dslot, m, drow, j] = s


@njit(**cfg.JIT)
def _formula_row(vbuf, n, consts, shx, shy, out):
    """The SSIM formula over a row of filtered moments ``vbuf[m, j]``: writes the row of SSIM to
    ``out``; returns the float64 row sums of SSIM and, when ``consts[4]`` is nonzero, of the
    contrast-structure term (MS-SSIM's; else 0: its division is skipped)."""
    c1 = consts[0]
    c2 = consts[1]
    cn = consts[2]
    floor = consts[3]
    total = 0.0
    for j in range(n):
        v, _ = _ssim_terms(vbuf[0, j], vbuf[1, j], vbuf[2, j], vbuf[3, j], vbuf[4, j], shx, shy, c1, c2, cn, floor)
        out[j] = v
        total += np.float64(v)
    total_cs = 0.0
    if consts[4] != 0:
        for j in range(n):
            _, cs = _ssim_terms(vbuf[0, j], vbuf[1, j], vbuf[2, j], vbuf[3, j], vbuf[4, j], shx, shy, c1, c2, cn,
                                floor)
            total_cs += np.float64(cs)
    return total, total_cs


@njit(**cfg.JIT)
def _combine_ssim(ring, w, base, row, n, consts, shx, shy, out, vbuf):
    """Last filter pass fused with the SSIM formula, one output row.

    Each moment is filtered on its own into ``vbuf`` (``len(w)`` input streams per loop),
    then the formula runs over ``vbuf``. The ring has ``len(w) + 1`` slots; slot
    ``(base + t) % (len(w) + 1)`` is tap ``t``. Writes the row of SSIM to ``out``; returns the
    float64 row sums of SSIM and of the contrast-structure term (for MS-SSIM).

    The filter loop is `_combine`'s, written out: calling `_combine` into a 4-D buffer and
    handing the formula a strided view of it measured 1.5-2x slower for this pass.
    """
    k = len(w)
    for m in range(5):
        for j in range(n):
            s = w[0] * ring[base % (k + 1), m, row, j]
            for t in range(1, k):
                s += w[t] * ring[(base + t) % (k + 1), m, row, j]
            vbuf[0, m, j] = s
    return _formula_row(vbuf[0], n, consts, shx, shy, out)


@njit(inline="always", **cfg.JIT)
def _two_taps(ring, w, base, m, row, j):
    """Outputs ``base`` and ``base + 1`` of one moment at column ``j``: the ``len(w) + 1``
    slots are loaded once each and feed both sums (register blocking: 12 loads for two
    outputs instead of 22). Folding the symmetric taps (adding the two inputs of a weight
    first) was measured too, and gained nothing here: the pass is then bound by its loads."""
    k = len(w)
    v = ring[base % (k + 1), m, row, j]
    s0 = w[0] * v
    v = ring[(base + 1) % (k + 1), m, row, j]
    s1 = w[0] * v
    s0 += w[1] * v
    for t in range(2, k):
        v = ring[(base + t) % (k + 1), m, row, j]
        s0 += w[t] * v
        s1 += w[t - 1] * v
    v = ring[(base + k) % (k + 1), m, row, j]
    s1 += w[k - 1] * v
    return s0, s1


@njit(**cfg.JIT)
def _combine_ssim2(ring, w, base, row, n, consts, shx, shy, out0, out1, vbuf):
    """`_combine_ssim` for two consecutive outputs at once (slots ``base .. base + len(w)``):
    writes both rows of SSIM and returns the sums over both."""
    for m in range(5):
        for j in range(n):
            s0, s1 = _two_taps(ring, w, base, m, row, j)
            vbuf[0, m, j] = s0
            vbuf[1, m, j] = s1
    a0, b0 = _formula_row(vbuf[0], n, consts, shx, shy, out0)
    a1, b1 = _formula_row(vbuf[1], n, consts, shx, shy, out1)
    return a0 + a1, b0 + b1


@njit(inline="always", **cfg.JIT)
def _due(i, k, count):
    """``(first, how many)`` outputs of a sliding window of ``k`` that input ``i`` completes,
    outputs going in pairs: outputs o and o + 1 once input o + k is in (o even), the last of
    an odd ``count`` alone; ``(0, 0)`` when none."""
    if i >= k and (i - k) % 2 == 0:
        return i - k, 2
    if i == count + k - 2 and count % 2 == 1:
        return count - 1, 1
    return 0, 0


@njit(inline="always", **cfg.JIT)
def _masked_sum(mask, n, c, d, oh, ow0, res, bw):
    """The sum of ``res`` where the mask row is 1, and the count of those pixels (float64)."""
    acc = 0.0
    cnt = 0.0
    for j in range(bw):
        m = np.float64(mask[n, c, d, oh, ow0 + j])
        acc += m * np.float64(res[j])
        cnt += m
    return acc, cnt


@njit(**cfg.JIT_PARALLEL)
def ssim_sums(x, y, wd, wh, ww, consts, band_h, band_w, out_sum, out_map, write_map, mask, use_mask, pad,
              half):
    """Per-task sums of the SSIM map over the 'valid' region.

    Parameters
    ----------
    x, y : ndarray, 5-D (N, C, D, H, W)
        The images, any strides; uint8, uint16, int16, int32, float32 or float64, or float16
        samples viewed as uint16 (``half``).
    wd, wh, ww : tuple of float
        Window weights along D, H and W (work dtype).
    consts : ndarray
        ``[C1, C2, cov_norm, cs_floor, want_cs]`` in the work dtype (``want_cs`` nonzero: also sum
        the contrast-structure term).
    band_h, band_w : int
        Output rows and columns per task.
    out_sum : ndarray, float64, (N * C * nbh * nbw, 4)
        Receives the sums of the SSIM map and of the contrast-structure map
        over each task's region, and with ``use_mask`` the sum of the SSIM map where
        ``mask`` is 1 and the count of those windows; tasks are ordered (n, c, row band,
        column band).
    out_map : ndarray, 5-D
        Receives the 'valid' map when ``write_map`` is True.
    mask : ndarray, uint8, 5-D, the shape of the 'valid' map (any strides: broadcast views)
        1 for the windows to average in the masked sums (read when ``use_mask``).
    pad : int
        Score the images as if extended by ``pad`` samples of symmetric reflection on each side
        of every spatial axis (the 'same' map, without a padded copy); 0: as they are.
    half : True or None
        True: ``x`` and ``y`` hold float16 bit patterns (uint16 views), decoded row by row. None
        unless needed: Numba then prunes the float16 loader, and only float16 input compiles it.
        (``pad`` is a plain number: pruning it too gave every 'same' map a specialization of its
        own, about 70 s more compiling over the test suite, against about 0.5 s per
        specialization for the padded loader.)
    """
    N, C, D0, H0, W0 = x.shape
    kd = len(wd)
    kh = len(wh)
    kw = len(ww)
    r = pad
    pd = r if kd > 1 else 0
    D = D0 + 2 * pd  # the extended extents
    H = H0 + 2 * r
    W = W0 + 2 * r
    Ho = H - kh + 1
    Wo = W - kw + 1
    nbh = (Ho + band_h - 1) // band_h
    nbw = (Wo + band_w - 1) // band_w
    ntask = N * C * nbh * nbw
    dt = consts.dtype
    for task in prange(ntask):
        n, c, hb, wb = _unravel4(task, C, nbh, nbw)
        oh0 = hb * band_h
        oh1 = min(oh0 + band_h, Ho)
        ow0 = wb * band_w
        ow1 = min(ow0 + band_w, Wo)
        bh = oh1 - oh0
        bw = ow1 - ow0
        lin = bw + kw - 1

        xr = np.empty(lin, dt)
        yr = np.empty(lin, dt)
        xx = np.empty(lin, dt)
        yy = np.empty(lin, dt)
        dd = np.empty(lin, dt)
        # Rows padded by 24 elements: power-of-two strides between the 5 * k
        # streams of the last filter pass would map them onto the same L1 sets.
        bwp = bw + 24
        # one slot more than the window: 2-D bands produce two output rows per sweep
        rows = np.empty((kh + 1, 5, 1, bwp), dt)
        if kd > 1:
            planes = np.empty((kd + 1, 5, bh, bwp), dt)
        else:
            planes = np.empty((1, 5, 1, 1), dt)
        srow = np.empty(bw, dt)
        vbuf = np.empty((2, 5, bwp), dt)
        srow2 = np.empty(bw, dt)

        bits = np.empty(2 * lin, np.uint32)  # float16 input: its samples widened, per row

        # The task's shift: the mean of its first input row, per image.
        sh = np.zeros(2, dt)
        load_row(x, y, n, c, n - n, oh0, ow0, lin, pad, pd, half, sh[0], sh[1], xr, yr, xx, yy, dd, bits)
        sh[0] = xr.sum() / lin
        sh[1] = yr.sum() / lin
        shx = sh[0]
        shy = sh[1]

        acc = 0.0
        acc_cs = 0.0
        acc_m = 0.0
        cnt_m = 0.0
        for d in range(D):
            for h in range(oh0, oh1 + kh - 1):
                if pad == 0 and half is None:  # the common case straight to its loader
                    _load_row(x, y, n, c, d, h, ow0, lin, shx, shy, xr, yr, xx, yy, dd)
                else:
                    load_row(x, y, n, c, d, h, ow0, lin, pad, pd, half, shx, shy, xr, yr, xx, yy, dd, bits)
                i = h - oh0
                slot = i % (kh + 1)
                _filter_row(xr, ww, rows[slot, 0, 0], bw)
                _filter_row(yr, ww, rows[slot, 1, 0], bw)
                _filter_row(xx, ww, rows[slot, 2, 0], bw)
                _filter_row(yy, ww, rows[slot, 3, 0], bw)
                _filter_row(dd, ww, rows[slot, 4, 0], bw)
                if kd > 1:  # into the ring of planes, one row at a time (measured: pairs of rows
                    # written to the plane ring were slower, 110-120 against 160-175 Mvox/s at 128^3)
                    if i >= kh - 1:
                        _combine(rows, wh, i - kh + 1, 0, bw, planes, d % (kd + 1), i - kh + 1)
                    continue
                o, nout = _due(i, kh, bh)
                if nout == 0:
                    continue
                if nout == 2:
                    t_ssim, t_cs = _combine_ssim2(rows, wh, o, 0, bw, consts, shx, shy, srow, srow2, vbuf)
                else:
                    t_ssim, t_cs = _combine_ssim(rows, wh, o, 0, bw, consts, shx, shy, srow, vbuf)
                acc += t_ssim
                acc_cs += t_cs
                for r in range(nout):
                    res = srow if r == 0 else srow2
                    if write_map:
                        out_map[n, c, d, oh0 + o + r, ow0:ow1] = res
                    if use_mask:
                        a, b = _masked_sum(mask, n, c, d, oh0 + o + r, ow0, res, bw)
                        acc_m += a
                        cnt_m += b
            if kd == 1:
                continue
            od, nout = _due(d, kd, D - kd + 1)  # output planes, in pairs as rows are
            for r in range(bh if nout > 0 else 0):
                if nout == 2:
                    t_ssim, t_cs = _combine_ssim2(planes, wd, od, r, bw, consts, shx, shy, srow, srow2, vbuf)
                else:
                    t_ssim, t_cs = _combine_ssim(planes, wd, od, r, bw, consts, shx, shy, srow, vbuf)
                acc += t_ssim
                acc_cs += t_cs
                for q in range(nout):
                    res = srow if q == 0 else srow2
                    if write_map:
                        out_map[n, c, od + q, oh0 + r, ow0:ow1] = res
                    if use_mask:
                        a, b = _masked_sum(mask, n, c, od + q, oh0 + r, ow0, res, bw)
                        acc_m += a
                        cnt_m += b
        out_sum[task, 0] = acc
        out_sum[task, 1] = acc_cs
        out_sum[task, 2] = acc_m
        out_sum[task, 3] = cnt_m
