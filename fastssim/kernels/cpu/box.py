"""The last pass of the exact sums (8-bit images under a uniform window, `kernels.exact`): a box of
running sums down a ring of rows, and the SSIM formula in float64 on the integer sums.

Everything here is compiled without ``reassoc`` (``cfg.JIT_ORDERED``): the box's partial sums are
exact only in their written order, and the formula and its row sums (`row_total`) keep the order
they are written in, so that the numbers do not depend on where LLVM compiled the code (a task
compiled in this process, or with its last pass from a helper process, or loaded from Numba's
cache).
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from ... import config as cfg
from ..math import MOMENTS
from .passes import _ssim_terms, summed_cs
from .scratch import empty


@njit(inline="always", **cfg.JIT_ORDERED)
def _box_sums(ring, w, base, row, j):
    """Outputs ``base .. base + 3`` of a box (the sum of ``len(w)`` slots, ``w`` read for its length
    only) at element ``j`` of a row of moments, in a ring of ``len(w) + 3`` slots: the first summed,
    the next three each from the one before, one slot out and one in (2 additions an output instead
    of ``len(w)``). Exact for the integer sums `_combine_box4` takes: each partial sum is an integer
    no larger than a window's, and the order is as written (no reassociation)."""
    k = len(w)
    K = k + 3
    s0 = ring[base % K, row, j]
    for t in range(1, k):
        s0 += ring[(base + t) % K, row, j]
    s1 = (s0 - ring[base % K, row, j]) + ring[(base + k) % K, row, j]
    s2 = (s1 - ring[(base + 1) % K, row, j]) + ring[(base + k + 1) % K, row, j]
    s3 = (s2 - ring[(base + 2) % K, row, j]) + ring[(base + k + 2) % K, row, j]
    return s0, s1, s2, s3


@njit(**cfg.JIT_ORDERED)
def _box_rows(ring, w, base, row, n, vbuf):
    """`_box_sums` over a row of the ``MOMENTS`` moments into ``vbuf[0, :4]``."""
    for j in range(MOMENTS * n):
        s0, s1, s2, s3 = _box_sums(ring, w, base, row, j)
        vbuf[0, 0, j] = s0
        vbuf[0, 1, j] = s1
        vbuf[0, 2, j] = s2
        vbuf[0, 3, j] = s3


@njit(inline="always", **cfg.JIT_ORDERED)
def _exact_variances(sx, sy, sss, sdd, k, inv):
    """``(mean x, mean y, vx + vy, var(x - y))`` in float64 of a window of ``k`` samples from its
    integer sums (`formula_row_exact`)."""
    fx = np.float64(sx)
    fy = np.float64(sy)
    ds = fx - fy
    inv2 = inv * inv
    return (fx * inv, fy * inv, (k * np.float64(sss) - fx * fx - fy * fy) * inv2,
            (k * np.float64(sdd) - ds * ds) * inv2)


@njit(**cfg.JIT_ORDERED)
def formula_row_exact(sums, n, exact, want_cs, out, shx, cols, cs_cols, vals):
    """The SSIM formula in float64 over a row of a uniform window's sums ``sums[m * n + j]``
    (moments not shifted, integers: `kernels.exact`), ``exact`` being ``[1 / k, C1, C2, cov_norm,
    cs_floor, eps, k]`` (``k`` the window's samples, float64).

    The variances come from the sums exactly: ``k^2 (vx + vy) = k S(x^2 + y^2) - S(x)^2 - S(y)^2``
    and ``k^2 var(x - y) = k S((x - y)^2) - (S(x) - S(y))^2`` are integers below 2^31, exact in
    float64 (`_exact_variances`), and `ssim_terms` takes them as the moments of data shifted by the
    window's own means (its means 0, its shifts the means): nothing cancels. (The formula in
    float32 for a float32 call was slower, in one loop or two: 507 against 538 Mpx/s at 1024^2.)

    Writes the row of SSIM to ``out`` (in its dtype) and returns the float64 row sums of SSIM and,
    when ``want_cs``, of the contrast-structure term (else 0). Interleaved channels (``shx`` a row,
    see `at`) add each column's float64 terms to ``cols`` and ``cs_cols`` instead (`kept_for_sum`), so
    that their sums too are taken before any rounding to ``out``'s dtype.

    Compiled without ``reassoc`` (``cfg.JIT_ORDERED``), the row's terms summed after the loop by
    halves, in an order written out (`row_total`). With ``reassoc``, LLVM computed and summed the
    row in an order of its choosing, which depended on where the code was compiled: a process that
    compiled the task, one that compiled it with this pass from a helper process, and one that
    loaded it from Numba's cache gave float64 means up to 13 ulp apart (1 to 3e-15). This costs the
    exact sums 7-8% of their speed (`python -m benchmarks.ab_versions --only "1024^2 uint8"`)."""
    sx = sums[:n]  # row slices: no index arithmetic in the loops, which vectorise
    sy = sums[n:2 * n]
    sss = sums[2 * n:3 * n]
    sdd = sums[3 * n:4 * n]
    zero = exact[0] - exact[0]
    for j in range(n):
        ux, uy, vsum, vd = _exact_variances(sx[j], sy[j], sss[j], sdd[j], exact[6], exact[0])
        v, _ = _ssim_terms(zero, zero, vsum, vd, ux, uy, exact[1], exact[2], exact[3], exact[4], exact[5])
        out[j] = v
        kept_for_sum(shx, vals, cols, j, v)
    total = row_total(shx, vals, n)
    total_cs = 0.0
    if want_cs:
        for j in range(n):
            ux, uy, vsum, vd = _exact_variances(sx[j], sy[j], sss[j], sdd[j], exact[6], exact[0])
            _, cs = _ssim_terms(zero, zero, vsum, vd, ux, uy, exact[1], exact[2], exact[3], exact[4], exact[5])
            kept_for_sum(shx, vals, cs_cols, j, cs)
        total_cs = row_total(shx, vals, n)
    return total, total_cs


def kept_for_sum(s, vals, cols, j, v):
    """Keep term ``v`` of column ``j`` for the row's sum: in ``vals[j]`` (float64) for one image per
    row (``s`` a number), summed by `row_total`; for interleaved channels (``s`` a row of shifts)
    added to ``cols[j]`` (`summed_cs`). Chosen when compiling."""


@overload(kept_for_sum, inline="always")
def _kept_for_sum_impl(s, vals, cols, j, v):
    if isinstance(s, types.Array):
        def per_column(s, vals, cols, j, v):
            summed_cs(s, 0.0, cols, j, v)
        return per_column

    def kept(s, vals, cols, j, v):
        vals[j] = v
    return kept


def row_total(s, vals, n):
    """The sum of ``vals[:n]`` (`kept_for_sum`) in an order written out (`_halving_sum`, which
    code compiled without ``reassoc`` keeps; ``vals`` is overwritten); 0 for interleaved channels
    (their sums are the columns'). Chosen when compiling."""


@overload(row_total, inline="always")
def _row_total_impl(s, vals, n):
    if isinstance(s, types.Array):
        return lambda s, vals, n: 0.0
    return lambda s, vals, n: _halving_sum(vals, n)


@njit(**cfg.JIT_ORDERED)
def _halving_sum(vals, n):
    """`row_total` of one image per row: ``vals[:n]`` summed pairwise by halves, in place (the
    upper half added to the lower, element by element, until one is left): an order written out,
    kept without ``reassoc``, whose element-wise loops vectorise (four lanes of running sums did
    not, without ``reassoc``: they ran scalar). A function of its own: a loop inlined by Numba from
    an overload draws its pedantic scope warnings."""
    if n <= 0:
        return 0.0
    while n > 1:
        m = (n + 1) // 2  # an odd length keeps its middle element in place
        for j in range(n // 2):
            vals[j] += vals[j + m]
        n = m
    return vals[0]


@njit(**cfg.JIT_ORDERED)
def combine_box4(ring, w, base, row, n, exact, want_cs, outs, nout, vbuf, shx, cols, cs_cols):
    """The last pass of a uniform window over exact integer sums (8-bit images, `ssim_sums`'s
    ``exact``) and the float64 formula (`formula_row_exact`), for ``nout`` (up to four)
    consecutive outputs ``base ..``
    of a ring of ``len(w) + 3`` slots: writes the rows of SSIM to ``outs`` and returns their
    sums (`_combine_ssim4`'s contract; interleaved channels: see `formula_row_exact`)."""
    _box_rows(ring, w, base, row, n, vbuf)
    vals = empty(n, np.float64)  # each row's float64 terms, summed after its loop (a loop with no sum vectorises)
    total = 0.0
    total_cs = 0.0
    for q in range(nout):
        a, b = formula_row_exact(vbuf[0, q], n, exact, want_cs, outs[q], shx, cols, cs_cols, vals)
        total += a
        total_cs += b
    return total, total_cs
