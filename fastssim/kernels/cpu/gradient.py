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
from .passes import _filter_row, _four_taps, _taps
from .ssim import _due
from ..math import MOMENTS, cs_grad_terms, ssim_grad_terms

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
def grad_maps_2d(x, y, wh, ww, shx, shy, consts, cs_only, band_h, band_w, d_my, d_eyy, d_exy, sums):
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
    only."""
    P, H, W = x.shape
    Hv = H - len(wh) + 1
    Wv = W - len(ww) + 1
    nbh = (Hv + band_h - 1) // band_h
    nbw = (Wv + band_w - 1) // band_w
    for task in prange(P * nbh * nbw):
        # the task as a function of its own (see `_cpu.ssim_sums`), its index cast to compile once
        _maps_task(np.int64(task), nbh, nbw, band_h, band_w, x, y, wh, ww, shx, shy, consts, cs_only, d_my,
                   d_eyy, d_exy, sums)


@njit(**cfg.JIT)
def _maps_task(task, nbh, nbw, band_h, band_w, x, y, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy,
               sums):
    """Task ``task`` of `grad_maps_2d` (whose arguments it takes)."""
    kh = len(wh)
    kw = len(ww)
    p, b, oh0, bh, ow0, bw = _task_box(task, nbh, nbw, band_h, band_w, d_my.shape[1], d_my.shape[2])
    lin = bw + kw - 1
    sx = np.float64(shx[p])
    sy = np.float64(shy[p])
    xa = np.empty(lin)
    yb = np.empty(lin)
    ss = np.empty(lin)
    dd = np.empty(lin)
    ring, vbuf = _rings(kh, bw)
    acc = 0.0
    for i in range(bh + kh - 1):
        xrow = x[p, oh0 + i, ow0:ow0 + lin]
        yrow = y[p, oh0 + i, ow0:ow0 + lin]
        for j in range(lin):
            a = np.float64(xrow[j]) - sx
            c = np.float64(yrow[j]) - sy
            e = a - c
            xa[j] = a
            yb[j] = c
            ss[j] = a * a + c * c
            dd[j] = e * e
        acc += _moment_row(i, xa, yb, ss, dd, wh, ww, bh, bw, ring, vbuf, d_my[p], d_eyy[p], d_exy[p], oh0, ow0, sx,
                           sy, consts, cs_only)
    sums[p, b] = acc


@njit(inline="always", **cfg.JIT)
def _rings(kh, bw):
    """The ring of rows (float64, the four moments side by side, rows padded: see `_cpu.ssim_sums`)
    and the buffer of filtered rows of `_moment_row`, for a window of ``kh`` rows and ``bw`` outputs
    per row."""
    _, nslot = _ring(kh)
    return np.empty((nslot, 1, MOMENTS * bw + 24)), np.empty((1, 4, MOMENTS * bw))


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
    _filter_row(a, ww, ring[slot, 0, :bw], bw, 1)
    _filter_row(b, ww, ring[slot, 0, bw:2 * bw], bw, 1)
    _filter_row(c, ww, ring[slot, 0, 2 * bw:3 * bw], bw, 1)
    _filter_row(d, ww, ring[slot, 0, 3 * bw:4 * bw], bw, 1)
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
def grad_maps_3d(x, y, wd, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, plane_sums):
    """`grad_maps_2d` for volumes (P, D, H, W): one valid output plane per task; its ``len(wd)``
    input planes are shifted and filtered along D into the four float64 moment planes (one buffer
    each per task), whose rows then go through `_moment_row` as a 2-D band's do (the whole plane
    one band). ``plane_sums[p, d]``: the sum of SSIM (of cs with ``cs_only``) over valid plane d.
    ``wd``, ``wh``, ``ww``: tuples of float64."""
    P, D, H, W = x.shape
    Dv = D - len(wd) + 1
    for r in prange(P * Dv):
        _maps_plane(np.int64(r), x, y, wd, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, plane_sums)


@njit(**cfg.JIT)
def _maps_plane(r, x, y, wd, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, plane_sums):
    """Task ``r`` of `grad_maps_3d` (whose arguments it takes)."""
    P, D, H, W = x.shape
    Dv, Hv, Wv = d_my.shape[1], d_my.shape[2], d_my.shape[3]
    p = r // Dv
    d = r % Dv
    sx = np.float64(shx[p])
    sy = np.float64(shy[p])
    b0 = np.zeros((H, W))
    b1 = np.zeros((H, W))
    b2 = np.zeros((H, W))
    b3 = np.zeros((H, W))
    for t in range(len(wd)):
        wt = wd[t]
        for i in range(H):
            xrow = x[p, d + t, i]
            yrow = y[p, d + t, i]
            for j in range(W):
                xa = np.float64(xrow[j]) - sx
                yb = np.float64(yrow[j]) - sy
                e = xa - yb
                b0[i, j] += wt * xa
                b1[i, j] += wt * yb
                b2[i, j] += wt * (xa * xa + yb * yb)
                b3[i, j] += wt * (e * e)
    ring, vbuf = _rings(len(wh), Wv)
    acc = 0.0
    for i in range(H):
        acc += _moment_row(i, b0[i], b1[i], b2[i], b3[i], wh, ww, Hv, Wv, ring, vbuf, d_my[p, d], d_eyy[p, d],
                           d_exy[p, d], 0, 0, sx, sy, consts, cs_only)
    plane_sums[p, d] = acc


@njit(**cfg.JIT_PARALLEL)
def grad_back_2d(x, y, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, band_h, band_w, grad):
    """The fused gradient's backward pass: ``grad = (F^T d_my + 2 y' F^T d_eyy + x' F^T d_exy)
    * scale`` over planes (P, H, W), F^T the transposed 'valid' filter: a full correlation with
    the mirrored window (``rh`` down the columns, ``rw`` along the rows: the windows reversed,
    tuples of the maps' dtype), zero outside the maps. Tasks: bands of ``band_h`` x ``band_w``
    pixels (`_back_band`)."""
    P, H, W = x.shape
    nbh = (H + band_h - 1) // band_h
    nbw = (W + band_w - 1) // band_w
    for task in prange(P * nbh * nbw):
        p, _, q0, bh, c0, bw = _task_box(np.int64(task), nbh, nbw, band_h, band_w, H, W)
        _back_band(d_my[p], d_eyy[p], d_exy[p], x[p], y[p], rh, rw, shx[p], shy[p], scale, q0, bh, c0, bw, grad[p])


@njit(**cfg.JIT_PARALLEL)
def grad_back_3d(x, y, rd, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, grad):
    """`grad_back_2d` for volumes (P, D, H, W): one output plane per task; the maps' planes it sees
    are gathered along D (``rd``, the reversed window) into three planes, which `_back_band` takes
    as a 2-D band (the whole plane)."""
    P, D, H, W = x.shape
    for r in prange(P * D):
        _back_plane(np.int64(r), x, y, rd, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, grad)


@njit(**cfg.JIT)
def _back_plane(r, x, y, rd, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, grad):
    """Task ``r`` of `grad_back_3d` (whose arguments it takes)."""
    P, D, H, W = x.shape
    kd = len(rd)
    Dv, Hv, Wv = d_my.shape[1], d_my.shape[2], d_my.shape[3]
    p = r // D
    q = r % D
    dt = d_my.dtype
    t0 = np.zeros((Hv, Wv), dtype=dt)
    t1 = np.zeros((Hv, Wv), dtype=dt)
    t2 = np.zeros((Hv, Wv), dtype=dt)
    for t in range(kd):  # output plane q sees map plane q - kd + 1 + t, weight rd[t]
        dd = q - kd + 1 + t
        if dd >= 0 and dd < Dv:
            wt = rd[t]
            for i in range(Hv):
                a0 = d_my[p, dd, i]
                a1 = d_eyy[p, dd, i]
                a2 = d_exy[p, dd, i]
                for j in range(Wv):
                    t0[i, j] += wt * a0[j]
                    t1[i, j] += wt * a1[j]
                    t2[i, j] += wt * a2[j]
    _back_band(t0, t1, t2, x[p, q], y[p, q], rh, rw, shx[p], shy[p], scale, 0, H, 0, W, grad[p, q])


@njit(**cfg.JIT)
def _back_band(m0, m1, m2, xp, yp, rh, rw, sx, sy, scale, q0, bh, c0, bw, out):
    """Rows ``q0 .. q0 + bh`` and columns ``c0 .. c0 + bw`` of one plane's gradient ``out`` (2-D)
    from its three derivative maps ``m0, m1, m2`` (2-D, the valid size) and the plane's images
    ``xp``, ``yp``: the maps' rows the band needs are gathered into a ring (zeros outside the maps),
    filtered down it four output rows per sweep (``rh``), then along each row (``rw``), as
    `grad_maps_2d` filters."""
    kh = len(rh)
    kw = len(rw)
    Hv, Wv = m0.shape
    lin = bw + kw - 1  # the maps' columns c0 - kw + 1 .. c0 + bw - 1
    m_0 = c0 - kw + 1
    ja = max(0, -m_0)  # the ones inside the maps
    jb = min(lin, Wv - m_0)
    dt = m0.dtype
    zero = scale - scale
    g, nslot = _ring(kh)
    n3 = 3 * lin
    ring = np.empty((nslot, 1, n3 + 24), dt)
    vbuf = np.empty((1, 4, n3), dt)
    h0 = np.empty(bw, dt)
    h1 = np.empty(bw, dt)
    h2 = np.empty(bw, dt)
    for i in range(bh + kh - 1):
        r = q0 - kh + 1 + i  # the maps' row
        dst = ring[(i % nslot), 0]
        if r < 0 or r >= Hv:
            for u in range(n3):
                dst[u] = zero
        else:
            for u in range(lin):
                inside = u >= ja and u < jb
                dst[u] = m0[r, m_0 + u] if inside else zero
                dst[lin + u] = m1[r, m_0 + u] if inside else zero
                dst[2 * lin + u] = m2[r, m_0 + u] if inside else zero
        o, nout = _due(i, kh, bh, g)
        if nout == 0:
            continue
        _down(ring, rh, o, n3, vbuf)
        for q in range(nout):
            v = vbuf[0, q]
            _filter_row(v[:lin], rw, h0, bw, 1)
            _filter_row(v[lin:2 * lin], rw, h1, bw, 1)
            _filter_row(v[2 * lin:], rw, h2, bw, 1)
            xrow = xp[q0 + o + q, c0:c0 + bw]
            yrow = yp[q0 + o + q, c0:c0 + bw]
            res = out[q0 + o + q, c0:c0 + bw]
            for j in range(bw):
                yc = yrow[j] - sy
                res[j] = (h0[j] + (yc + yc) * h1[j] + (xrow[j] - sx) * h2[j]) * scale
