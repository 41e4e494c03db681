"""SSIM's gradient kernels for the CPU (Numba, all cores): the per-window derivative terms
(``kernels.math.ssim_grad_terms``, ``kernels.math.cs_grad_terms``) and the fused forward and transposed
passes over planes (2-D) and volumes (3-D).

Kernels only compute: the caller (``_engine_gradient``) checks, allocates and reduces. The
fused passes of 2-D planes take a band of output rows and columns per task, as the forward SSIM
kernel does (rings of rows, unrolled taps); those of volumes one output plane per task. The four
moments of `kernels.math.ssim_terms` are filtered in float64, the derivative maps and the gradient
are written in the work dtype. Task boundaries depend on the shape only, so results do not
depend on the number of threads.
"""

import numpy as np
from numba import njit, prange
from numba.extending import overload

from ... import config as cfg
from .calls import call_at
from .load import sym
from .passes import _filter_row, _four_taps, _taps
from .ssim import _due
from ..math import MOMENTS, cs_grad_terms, ssim_grad_terms
from .scratch import empty, zeros

_ssim_grad_terms = njit(inline="always", **cfg.JIT)(ssim_grad_terms)
_cs_grad_terms = njit(inline="always", **cfg.JIT)(cs_grad_terms)


@njit(**cfg.JIT_PARALLEL)
def grad_terms(mx, my, ess, edd, consts, s, d_my, d_eyy, d_exy):
    """Per-window SSIM and its derivatives (``kernels.math.ssim_grad_terms``) from the four
    unshifted moments, over flat arrays."""
    c1 = consts[0]
    c2 = consts[1]
    cn = consts[2]
    eps = consts[4]
    for i in prange(mx.shape[0]):
        s[i], d_my[i], d_eyy[i], d_exy[i] = _ssim_grad_terms(mx[i], my[i], ess[i], edd[i], 0.0, 0.0, c1, c2, cn,
                                                             eps)


def _down(ring, w, base, n, vbuf):
    """The filter down a ring of rows (``ring[slot, 0, :n]``, slot ``(base + t) % len(ring)`` tap
    ``t``) for the outputs ``base ..``: four per sweep into ``vbuf[0, :4, :n]`` for windows of four
    taps or more (a ring of ``len(w) + 3`` slots, `_cpu_passes._four_taps`), else one into
    ``vbuf[0, 0, :n]`` (``len(w) + 1`` slots). Chosen when compiling, from the window's length."""


@overload(_down)
def _down_impl(ring, w, base, n, vbuf):
    if len(w) >= 4:  # w is the window's tuple type here
        def four(ring, w, base, n, vbuf):
            for j in range(n):
                s0, s1, s2, s3 = _four_taps(ring, w, base, 0, j)
                vbuf[0, 0, j] = s0
                vbuf[0, 1, j] = s1
                vbuf[0, 2, j] = s2
                vbuf[0, 3, j] = s3
        return four

    def one(ring, w, base, n, vbuf):
        for j in range(n):
            vbuf[0, 0, j] = _taps(ring, w, base, 0, j)
    return one


@njit(inline="always", **cfg.JIT)
def _ring(k):
    """``(outputs per sweep, slots)`` of `_down`'s ring for a window of ``k`` taps."""
    if k >= 4:
        return 4, k + 3
    return 1, k + 1


@njit(inline="always", **cfg.JIT)
def _task_box(task, nbh, nbw, band_h, band_w, Ho, Wo):
    """``(plane, band index, first row, rows, first column, columns)`` of task ``task`` over (P, Ho, Wo)
    outputs cut into bands of ``band_h`` x ``band_w``."""
    p = task // (nbh * nbw)
    b = task % (nbh * nbw)
    r0 = (b // nbw) * band_h
    c0 = (b % nbw) * band_w
    return p, b, r0, min(band_h, Ho - r0), c0, min(band_w, Wo - c0)


@njit(**cfg.JIT_PARALLEL)
def grad_maps_2d(task_at, x, y, wh, ww, shx, shy, consts, cs_only, band_h, band_w, d_my, d_eyy, d_exy, sums, pad):
    """The fused gradient's forward pass over planes (P, H, W): for each valid window, SSIM's
    derivatives with respect to the shifted moments (``kernels.math.ssim_grad_terms``) into the
    (P, Hv, Wv) maps (their dtype), and ``sums[p, b]``, the sum of SSIM over task ``b`` of plane
    ``p`` (tasks: bands of ``band_h`` x ``band_w`` valid windows, row-major).

    ``wh``, ``ww``: the windows (tuples of float64: their lengths are compile-time constants, so
    the taps unroll). ``cs_only``: the contrast-structure term instead (``kernels.math.cs_grad_terms``,
    MS-SSIM's per-scale term). The layout of the forward SSIM kernel (`_cpu.ssim_sums`), in
    float64 (the derivatives of a flat region are where float32 moments lose digits): a task
    streams its input rows once, shifts them by the plane's level and forms the four moments
    (`_moment_row` does the rest). No full-size intermediate; task boundaries depend on the shape
    only.

    ``pad``: the planes are read as if extended by ``pad`` samples of PyTorch's reflection on each
    side (the edge sample not repeated; torchmetrics' and kornia's 'same' windows), in place: the
    maps are those of the extended planes (0: the planes as they are). ``task_at``: the address of
    the task function for these arguments (`task_call`; see `_cpu.ssim_sums`)."""
    P, H, W = x.shape
    Hv = H + 2 * pad - len(wh) + 1
    Wv = W + 2 * pad - len(ww) + 1
    nbh = (Hv + band_h - 1) // band_h
    nbw = (Wv + band_w - 1) // band_w
    for task in prange(P * nbh * nbw):
        # the task as a function of its own, called by address (see `_cpu.ssim_sums`), its index
        # cast to compile once
        call_at(_maps_task, task_at, (np.int64(task), nbh, nbw, band_h, band_w, x, y, wh, ww, shx, shy, consts,
                                      cs_only, d_my, d_eyy, d_exy, sums, pad))


@njit(inline="always", **cfg.JIT)
def _moments(xv, yv, sx, sy):
    """The four moments of the samples ``xv``, ``yv`` shifted by ``sx``, ``sy``, in float64:
    ``x'``, ``y'``, ``x'^2 + y'^2`` and ``(x' - y')^2``."""
    a = np.float64(xv) - sx
    c = np.float64(yv) - sy
    e = a - c
    return a, c, a * a + c * c, e * e


@njit(inline="always", **cfg.JIT)
def _runs(c0, lin, n, pad):
    """``(j0, j1)``: of the columns ``c0 .. c0 + lin - 1`` of a row of ``n`` extended by ``pad``
    samples of reflection, the first inside the row and the first past it."""
    j0 = min(max(pad - c0, 0), lin)
    return j0, max(min(n + pad - c0, lin), j0)


@njit(inline="always", **cfg.JIT)
def _shifted_row(xrow, yrow, c0, lin, pad, sx, sy, xa, yb, ss, dd):
    """Columns ``c0 .. c0 + lin - 1`` of the rows ``xrow``, ``yrow`` extended by ``pad`` samples of
    PyTorch's reflection (``c0`` in extended coordinates), as the four moment rows (`_moments`): the
    columns inside the rows in one loop over sliced runs (indices from 0: it vectorises), the
    reflected ones apart."""
    n = xrow.shape[0]
    j0, j1 = _runs(c0, lin, n, pad)
    for u in range(j0 + lin - j1):  # the reflected columns, before the row and after it
        j = u if u < j0 else j1 + u - j0
        k = sym(c0 + j - pad, n, 1)
        xa[j], yb[j], ss[j], dd[j] = _moments(xrow[k], yrow[k], sx, sy)
    xs = xrow[c0 - pad + j0:c0 - pad + j1]
    ys = yrow[c0 - pad + j0:c0 - pad + j1]
    xo = xa[j0:j1]
    yo = yb[j0:j1]
    so = ss[j0:j1]
    do = dd[j0:j1]
    for j in range(j1 - j0):
        xo[j], yo[j], so[j], do[j] = _moments(xs[j], ys[j], sx, sy)


@njit(inline="always", **cfg.JIT)
def _weighted_row(xrow, yrow, pad, wt, sx, sy, b0, b1, b2, b3):
    """The four moment rows (`_moments`) of the rows ``xrow``, ``yrow`` extended by ``pad`` samples
    of PyTorch's reflection, times ``wt``, added to ``b0 .. b3`` (rows of the extended length)."""
    n = xrow.shape[0]
    for u in range(2 * pad):  # the reflected columns: extended j = u before the row, n + u after it
        j = u if u < pad else n + u
        k = sym(j - pad, n, 1)
        m0, m1, m2, m3 = _moments(xrow[k], yrow[k], sx, sy)
        b0[j] += wt * m0
        b1[j] += wt * m1
        b2[j] += wt * m2
        b3[j] += wt * m3
    o0 = b0[pad:pad + n]
    o1 = b1[pad:pad + n]
    o2 = b2[pad:pad + n]
    o3 = b3[pad:pad + n]
    for j in range(n):
        m0, m1, m2, m3 = _moments(xrow[j], yrow[j], sx, sy)
        o0[j] += wt * m0
        o1[j] += wt * m1
        o2[j] += wt * m2
        o3[j] += wt * m3


@njit(**cfg.JIT)
def _maps_task(task, nbh, nbw, band_h, band_w, x, y, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy,
               sums, pad):
    """Task ``task`` of `grad_maps_2d` (whose arguments it takes)."""
    kh = len(wh)
    kw = len(ww)
    H = x.shape[1]
    p, b, oh0, bh, ow0, bw = _task_box(task, nbh, nbw, band_h, band_w, d_my.shape[1], d_my.shape[2])
    lin = bw + kw - 1
    sx = np.float64(shx[p])
    sy = np.float64(shy[p])
    xa = empty(lin, np.float64)
    yb = empty(lin, np.float64)
    ss = empty(lin, np.float64)
    dd = empty(lin, np.float64)
    ring, vbuf = _rings(kh, bw)
    acc = 0.0
    for i in range(bh + kh - 1):
        r = sym(oh0 + i - pad, H, 1)
        _shifted_row(x[p, r], y[p, r], ow0, lin, pad, sx, sy, xa, yb, ss, dd)
        acc += _moment_row(i, xa, yb, ss, dd, wh, ww, bh, bw, ring, vbuf, d_my[p], d_eyy[p], d_exy[p], oh0, ow0, sx,
                           sy, consts, cs_only)
    sums[p, b] = acc


@njit(inline="always", **cfg.JIT)
def _rings(kh, bw):
    """The ring of rows (float64, the four moments side by side, rows padded: see `_cpu.ssim_sums`)
    and the buffer of filtered rows of `_moment_row`, for a window of ``kh`` rows and ``bw`` outputs
    per row."""
    _, nslot = _ring(kh)
    return empty((nslot, 1, MOMENTS * bw + 24), np.float64), empty((1, 4, MOMENTS * bw), np.float64)


@njit(**cfg.JIT)
def _moment_row(i, a, b, c, d, wh, ww, bh, bw, ring, vbuf, m0, m1, m2, r0, c0, sx, sy, consts, cs_only):
    """Input row ``i`` of a band of ``bh`` output rows by ``bw`` columns, as its four moments
    (float64 rows ``a, b, c, d`` of ``bw + len(ww) - 1``: x', y', x'^2 + y'^2, (x' - y')^2): filtered
    along the row into the ring (`_rings`); when it completes output rows, they are filtered down
    the ring (`_down`) and through SSIM's derivatives (or cs's with ``cs_only``) into rows ``r0 + o
    ..`` and columns ``c0 .. c0 + bw`` of the maps ``m0, m1, m2`` (2-D). Returns the sum of SSIM (of
    cs) over those outputs."""
    kh = len(wh)
    g, nslot = _ring(kh)
    slot = i % nslot
    _filter_row(a, ww, ring[slot, 0, :bw], bw, None)
    _filter_row(b, ww, ring[slot, 0, bw:2 * bw], bw, None)
    _filter_row(c, ww, ring[slot, 0, 2 * bw:3 * bw], bw, None)
    _filter_row(d, ww, ring[slot, 0, 3 * bw:4 * bw], bw, None)
    o, nout = _due(i, kh, bh, g)
    acc = 0.0
    if nout == 0:
        return acc
    _down(ring, wh, o, MOMENTS * bw, vbuf)
    c1 = np.float64(consts[0])
    c2 = np.float64(consts[1])
    cn = np.float64(consts[2])
    eps = np.float64(consts[4])
    for q in range(nout):
        v = vbuf[0, q]
        t0 = m0[r0 + o + q, c0:c0 + bw]
        t1 = m1[r0 + o + q, c0:c0 + bw]
        t2 = m2[r0 + o + q, c0:c0 + bw]
        if cs_only:
            for j in range(bw):
                s, g0, g1, g2 = _cs_grad_terms(v[j], v[bw + j], v[2 * bw + j], v[3 * bw + j], c2, cn)
                t0[j] = g0
                t1[j] = g1
                t2[j] = g2
                acc += s
        else:
            for j in range(bw):
                s, g0, g1, g2 = _ssim_grad_terms(v[j], v[bw + j], v[2 * bw + j], v[3 * bw + j], sx, sy, c1, c2, cn,
                                                 eps)
                t0[j] = g0
                t1[j] = g1
                t2[j] = g2
                acc += s
    return acc


@njit(**cfg.JIT_PARALLEL)
def grad_maps_3d(task_at, x, y, wd, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, plane_sums, pad):
    """`grad_maps_2d` for volumes (P, D, H, W): one valid output plane per task; its ``len(wd)``
    input planes are shifted and filtered along D into the four float64 moment planes (one buffer
    each per task), whose rows then go through `_moment_row` as a 2-D band's do (the whole plane
    one band). ``plane_sums[p, d]``: the sum of SSIM (of cs with ``cs_only``) over valid plane d.
    ``wd``, ``wh``, ``ww``: tuples of float64; ``pad`` and ``task_at`` as for `grad_maps_2d`, on every
    axis."""
    Dv = d_my.shape[1]
    for r in prange(x.shape[0] * Dv):
        call_at(_maps_plane, task_at, (np.int64(r), x, y, wd, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy,
                                       plane_sums, pad))


def task_call(kernel, args):
    """``(task function, its arguments)`` of ``kernel`` (`grad_maps_2d` or `grad_maps_3d`) called
    with the other arguments ``args`` (the task index 0): what its ``task_at`` address is taken of
    (`calls.address`)."""
    if kernel is grad_maps_2d:
        x, y, wh, ww, shx, shy, consts, cs_only, band_h, band_w, d_my, d_eyy, d_exy, sums, pad = args
        return _maps_task, (0, 0, 0, band_h, band_w, x, y, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy,
                            sums, pad)
    return _maps_plane, (0,) + tuple(args)


@njit(**cfg.JIT)
def _maps_plane(r, x, y, wd, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, plane_sums, pad):
    """Task ``r`` of `grad_maps_3d` (whose arguments it takes)."""
    P, D, H0, W0 = x.shape
    H = H0 + 2 * pad
    W = W0 + 2 * pad
    Dv, Hv, Wv = d_my.shape[1], d_my.shape[2], d_my.shape[3]
    p = r // Dv
    d = r % Dv
    sx = np.float64(shx[p])
    sy = np.float64(shy[p])
    b0 = zeros((H, W), np.float64)
    b1 = zeros((H, W), np.float64)
    b2 = zeros((H, W), np.float64)
    b3 = zeros((H, W), np.float64)
    for t in range(len(wd)):
        wt = wd[t]
        q = sym(d + t - pad, D, 1)
        for i in range(H):
            k = sym(i - pad, H0, 1)
            _weighted_row(x[p, q, k], y[p, q, k], pad, wt, sx, sy, b0[i], b1[i], b2[i], b3[i])
    ring, vbuf = _rings(len(wh), Wv)
    acc = 0.0
    for i in range(H):
        acc += _moment_row(i, b0[i], b1[i], b2[i], b3[i], wh, ww, Hv, Wv, ring, vbuf, d_my[p, d], d_eyy[p, d],
                           d_exy[p, d], 0, 0, sx, sy, consts, cs_only)
    plane_sums[p, d] = acc
