"""The filter passes of the CPU SSIM kernel (`_cpu.ssim_sums`): a row along W, the moments of a
rolling buffer of rows (or planes) along H or D, one, two or four outputs per sweep, and the SSIM
formula over a row of filtered moments. Compute only; the kernel's layout is described in `_cpu`.
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from ... import config as cfg
from ..math import MOMENTS, ssim_terms

_ssim_terms = njit(inline="always", **cfg.JIT)(ssim_terms)


def at(s, j):
    """Element ``j`` of a shift: ``s`` itself when it is a number (one image per row), ``s[j]``
    when it is a row (interleaved channels, each with its own shift). Chosen when compiling."""


@overload(at)
def _at_impl(s, j):
    if isinstance(s, types.Array):
        return lambda s, j: s[j]
    return lambda s, j: s


@njit(**cfg.JIT)
def _filter_row(src, w, dst, n, step):
    """``dst[j] = sum_t w[t] * src[j + step * t]`` for ``j < n`` (taps unrolled): ``step`` None
    for one image per row (adjacent samples), the number of channels for interleaved rows (each
    tap one pixel on). None is a specialization of its own, so that its loads are contiguous
    whether or not the caller inlines this function (a step of 1 known only at run time made
    them strided: the SSIM task ran 7-9% slower when it no longer inlined this function).
    """
    k = len(w)
    if step is None:  # settled when compiling
        for j in range(n):
            s = w[0] * src[j]
            for t in range(1, k):
                s += w[t] * src[np.uintp(j + t)]
            dst[j] = s
        return
    for j in range(n):
        s = w[0] * src[j]
        for t in range(1, k):
            # an unsigned index: Numba wraps negative signed ones, and with ``step`` known only
            # at run time LLVM could not rule that out and made every load a gather (3x slower)
            s += w[t] * src[np.uintp(j + step * t)]
        dst[j] = s


def summed(s, total, v):
    """``total + v`` in float64 for one image per row (``s`` a number); ``total`` unchanged for
    interleaved channels (``s`` a row of shifts), whose sums the kernel keeps per channel from the
    rows of SSIM (a sum over mixed channels would be discarded). Chosen when compiling."""


# `summed` and `summed_cs` are inlined by Numba: compiled as functions of their own, they were once
# left as a call per pixel, and the loop around them scalar (a 1024^2 exact-sum call 4x slower)
@overload(summed, inline="always")
def _summed_impl(s, total, v):
    if isinstance(s, types.Array):
        return lambda s, total, v: total
    return lambda s, total, v: total + np.float64(v)


def summed_cs(s, total, cols, j, v):
    """`summed` for the contrast-structure term: ``total + v`` in float64 for one image per row;
    for interleaved channels ``v`` is added to ``cols[j]`` (float64 column sums, which the kernel
    takes apart per channel at the end) and ``total`` is returned unchanged. Chosen when
    compiling."""


@overload(summed_cs, inline="always")
def _summed_cs_impl(s, total, cols, j, v):
    if isinstance(s, types.Array):
        def per_column(s, total, cols, j, v):
            cols[j] += np.float64(v)
            return total
        return per_column
    return lambda s, total, cols, j, v: total + np.float64(v)


@njit(inline="always", **cfg.JIT)
def _taps(ring, w, base, row, j):
    """Output ``base`` at element ``j`` of a row of moments: tap ``t`` is slot
    ``(base + t) % (len(w) + 1)`` of the ring (one slot more than the window)."""
    k = len(w)
    s = w[0] * ring[base % (k + 1), row, j]
    for t in range(1, k):
        s += w[t] * ring[(base + t) % (k + 1), row, j]
    return s


@njit(**cfg.JIT)
def _combine(ring, w, base, row, n, dst, dslot, drow):
    """Filter a row of the ``MOMENTS`` moments across the ``len(w)`` slots of a rolling buffer.

    ``ring[s, row, m * n + j]`` holds moment ``m`` of slot ``s`` at column ``j`` (side by side,
    so that one loop of ``MOMENTS * n`` filters them all); slot ``(base + t) % (len(w) + 1)`` is
    tap ``t`` (the ring has one slot more than the window). Writes
    ``dst[dslot, drow, :MOMENTS * n]``.
    """
    for j in range(MOMENTS * n):
        dst[dslot, drow, j] = _taps(ring, w, base, row, j)


@njit(**cfg.JIT)
def _formula_row(vbuf, n, consts, shx, shy, out, cs_cols):
    """The SSIM formula over a row of filtered moments ``vbuf[m * n + j]`` (shifts: numbers, or rows for
    interleaved channels, see `at`): writes the row of SSIM to ``out``; returns the float64 row
    sums of SSIM and, when ``consts[4]`` is nonzero, of the contrast-structure term (MS-SSIM's;
    else 0: its division is skipped). ``consts[4]`` 2: the contrast-structure term only (MS-SSIM's
    finer scales): SSIM's loop is skipped, ``out`` is not written and its sum is 0. Interleaved
    channels add their contrast-structure terms to the float64 columns ``cs_cols`` instead
    (`summed_cs`).

    Each term is computed in the work dtype in a loop of its own and summed in float64 in the
    next (`summed`, `summed_cs`), from ``out`` for SSIM and from ``vbuf[:n]`` for the contrast-structure term
    (the first moment's row, read last by that loop's own element): a loop that did both ran the
    float32 formula four samples wide, as wide as four float64 sums, where eight fit a register."""
    c1 = consts[0]
    c2 = consts[1]
    cn = consts[2]
    floor = consts[3]
    eps = consts[6]
    total = 0.0
    if consts[4] != 2:
        for j in range(n):
            v, _ = _ssim_terms(vbuf[j], vbuf[n + j], vbuf[2 * n + j], vbuf[3 * n + j], at(shx, j),
                               at(shy, j), c1, c2, cn, floor, eps)
            out[j] = v
        for j in range(n):
            total = summed(shx, total, out[j])
    total_cs = 0.0
    if consts[4] != 0:
        for j in range(n):
            _, cs = _ssim_terms(vbuf[j], vbuf[n + j], vbuf[2 * n + j], vbuf[3 * n + j], at(shx, j),
                                at(shy, j), c1, c2, cn, floor, eps)
            vbuf[j] = cs
        for j in range(n):
            total_cs = summed_cs(shx, total_cs, cs_cols, j, vbuf[j])
    return total, total_cs


@njit(**cfg.JIT)
def _combine_ssim(ring, w, base, row, n, consts, shx, shy, out, vbuf, cs_cols):
    """Last filter pass fused with the SSIM formula, one output row.

    The row of moments is filtered into ``vbuf[0, 0]`` by `_combine` (``len(w)`` input
    streams, one loop), then the formula runs over it. The ring has ``len(w) + 1`` slots; slot
    ``(base + t) % (len(w) + 1)`` is tap ``t``. Writes the row of SSIM to ``out``; returns the
    float64 row sums of SSIM and of the contrast-structure term (for MS-SSIM).

    (With the former layout, a moment per loop, `_combine` into a 4-D buffer left the formula a
    strided view and measured 1.5-2x slower; the row it reads now is contiguous.)
    """
    _combine(ring, w, base, row, n, vbuf, 0, 0)
    return _formula_row(vbuf[0, 0], n, consts, shx, shy, out, cs_cols)


@njit(inline="always", **cfg.JIT)
def _two_taps(ring, w, base, row, j):
    """Outputs ``base`` and ``base + 1`` at element ``j`` of a row of moments: the ``len(w) + 1``
    slots are loaded once each and feed both sums (register blocking: 12 loads for two
    outputs instead of 22). Folding the symmetric taps (adding the two inputs of a weight
    first) was measured too, and gained nothing here: the pass is then bound by its loads."""
    k = len(w)
    v = ring[base % (k + 1), row, j]
    s0 = w[0] * v
    s1 = w[0] - w[0]  # zero (folded away); any number of taps, one included
    for t in range(1, k):
        v = ring[(base + t) % (k + 1), row, j]
        s0 += w[t] * v
        s1 += w[t - 1] * v
    v = ring[(base + k) % (k + 1), row, j]
    s1 += w[k - 1] * v
    return s0, s1


@njit(**cfg.JIT)
def _combine2(ring, w, base, row, n, dst, dslot, drow):
    """`_combine` for two consecutive outputs ``base`` and ``base + 1`` (slots ``base ..
    base + len(w)``), written to rows ``drow`` and ``drow + 1`` of ``dst[dslot]``."""
    for j in range(MOMENTS * n):
        s0, s1 = _two_taps(ring, w, base, row, j)
        dst[dslot, drow, j] = s0
        dst[dslot, drow + 1, j] = s1


@njit(**cfg.JIT)
def _combine_ssim2(ring, w, base, row, n, consts, shx, shy, out0, out1, vbuf, cs_cols):
    """`_combine_ssim` for two consecutive outputs at once (slots ``base .. base + len(w)``):
    writes both rows of SSIM and returns the sums over both."""
    _combine2(ring, w, base, row, n, vbuf, 0, 0)
    a0, b0 = _formula_row(vbuf[0, 0], n, consts, shx, shy, out0, cs_cols)
    a1, b1 = _formula_row(vbuf[0, 1], n, consts, shx, shy, out1, cs_cols)
    return a0 + a1, b0 + b1


@njit(inline="always", **cfg.JIT)
def _four_taps(ring, w, base, row, j):
    """Outputs ``base .. base + 3`` at element ``j`` of a row of moments (``len(w) >= 4``; the ring has
    ``len(w) + 3`` slots): each of the ``len(w) + 3`` slots is loaded once and feeds every sum
    it belongs to (14 loads for four outputs instead of 44, 24 for two pairs)."""
    k = len(w)
    K = k + 3
    v = ring[base % K, row, j]
    s0 = w[0] * v
    v = ring[(base + 1) % K, row, j]
    s0 += w[1] * v
    s1 = w[0] * v
    v = ring[(base + 2) % K, row, j]
    s0 += w[2] * v
    s1 += w[1] * v
    s2 = w[0] * v
    v = ring[(base + 3) % K, row, j]
    s0 += w[3] * v
    s1 += w[2] * v
    s2 += w[1] * v
    s3 = w[0] * v
    for t in range(4, k):
        v = ring[(base + t) % K, row, j]
        s0 += w[t] * v
        s1 += w[t - 1] * v
        s2 += w[t - 2] * v
        s3 += w[t - 3] * v
    v = ring[(base + k) % K, row, j]
    s1 += w[k - 1] * v
    s2 += w[k - 2] * v
    s3 += w[k - 3] * v
    v = ring[(base + k + 1) % K, row, j]
    s2 += w[k - 1] * v
    s3 += w[k - 2] * v
    v = ring[(base + k + 2) % K, row, j]
    s3 += w[k - 1] * v
    return s0, s1, s2, s3


@njit(**cfg.JIT)
def _combine_ssim4(ring, w, base, row, n, consts, shx, shy, outs, nout, vbuf, cs_cols):
    """`_combine_ssim` for four consecutive outputs at once (slots ``base .. base + len(w) + 2``
    of a ring of ``len(w) + 3``): writes the first ``nout`` rows of SSIM to ``outs`` and returns
    their sums. A last group of fewer than four filters stale slots into the rows it drops."""
    for j in range(MOMENTS * n):
        s0, s1, s2, s3 = _four_taps(ring, w, base, row, j)
        vbuf[0, 0, j] = s0
        vbuf[0, 1, j] = s1
        vbuf[0, 2, j] = s2
        vbuf[0, 3, j] = s3
    total = 0.0
    total_cs = 0.0
    for q in range(nout):
        a, b = _formula_row(vbuf[0, q], n, consts, shx, shy, outs[q], cs_cols)
        total += a
        total_cs += b
    return total, total_cs


def combine_rows(ring, w, base, row, n, consts, shx, shy, outs, nout, vbuf, cs_cols):
    """The last filter pass and the SSIM formula for ``nout`` consecutive outputs ``base ..``:
    up to four per sweep (`_combine_ssim4`, ring of ``len(w) + 3`` slots) for windows of four
    taps or more, else up to two (ring of ``len(w) + 1``). Writes the rows of SSIM to ``outs``
    and returns their sums. Chosen when compiling, from the window's length, so that the
    four-output pass is never compiled for a shorter window."""


@overload(combine_rows)
def _combine_rows_impl(ring, w, base, row, n, consts, shx, shy, outs, nout, vbuf, cs_cols):
    if len(w) >= 4:  # w is the window's tuple type here
        def four(ring, w, base, row, n, consts, shx, shy, outs, nout, vbuf, cs_cols):
            return _combine_ssim4(ring, w, base, row, n, consts, shx, shy, outs, nout, vbuf, cs_cols)
        return four

    def pairs(ring, w, base, row, n, consts, shx, shy, outs, nout, vbuf, cs_cols):
        if nout == 2:
            return _combine_ssim2(ring, w, base, row, n, consts, shx, shy, outs[0], outs[1], vbuf, cs_cols)
        return _combine_ssim(ring, w, base, row, n, consts, shx, shy, outs[0], vbuf, cs_cols)
    return pairs
