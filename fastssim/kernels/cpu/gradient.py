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
    streams its input rows once, shifts them by the plane's level, filters the four moments
    along W into a ring of rows, and down the ring four output rows per sweep; no full-size
    intermediate. Task boundaries depend on the shape only."""
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
    Hv, Wv = d_my.shape[1], d_my.shape[2]
    p, b, oh0, bh, ow0, bw = _task_box(task, nbh, nbw, band_h, band_w, Hv, Wv)
    lin = bw + kw - 1
    sx = np.float64(shx[p])
    sy = np.float64(shy[p])
    c1 = np.float64(consts[0])
    c2 = np.float64(consts[1])
    cn = np.float64(consts[2])
    eps = np.float64(consts[4])
    xa = np.empty(lin)
    yb = np.empty(lin)
    ss = np.empty(lin)
    dd = np.empty(lin)
    g, nslot = _ring(kh)
    n4 = MOMENTS * bw
    ring = np.empty((nslot, 1, n4 + 24))  # padded rows: see `_cpu.ssim_sums`
    vbuf = np.empty((1, 4, n4))
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
        slot = i % nslot
        _filter_row(xa, ww, ring[slot, 0, :bw], bw, 1)
        _filter_row(yb, ww, ring[slot, 0, bw:2 * bw], bw, 1)
        _filter_row(ss, ww, ring[slot, 0, 2 * bw:3 * bw], bw, 1)
        _filter_row(dd, ww, ring[slot, 0, 3 * bw:4 * bw], bw, 1)
        o, nout = _due(i, kh, bh, g)
        if nout == 0:
            continue
        _down(ring, wh, o, n4, vbuf)
        for q in range(nout):
            v = vbuf[0, q]
            m0 = d_my[p, oh0 + o + q, ow0:ow0 + bw]
            m1 = d_eyy[p, oh0 + o + q, ow0:ow0 + bw]
            m2 = d_exy[p, oh0 + o + q, ow0:ow0 + bw]
            if cs_only:
                for j in range(bw):
                    s, g0, g1, g2 = _cs_grad_terms(v[j], v[bw + j], v[2 * bw + j], v[3 * bw + j], c2, cn)
                    m0[j] = g0
                    m1[j] = g1
                    m2[j] = g2
                    acc += s
            else:
                for j in range(bw):
                    s, g0, g1, g2 = _ssim_grad_terms(v[j], v[bw + j], v[2 * bw + j], v[3 * bw + j], sx, sy, c1, c2,
                                                     cn, eps)
                    m0[j] = g0
                    m1[j] = g1
                    m2[j] = g2
                    acc += s
    sums[p, b] = acc


@njit(**cfg.JIT_PARALLEL)
def grad_maps_3d(x, y, wd, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, plane_sums):
    """`grad_maps_2d` for volumes (P, D, H, W): one valid output plane per task; its kd input
    planes are filtered along D (window ``wd``) into the four float64 moment planes (one buffer per
    task), then down the columns (``wh``) and along the rows (``ww``) as in 2-D.
    ``plane_sums[p, d]``: the sum of SSIM (of the contrast-structure term with ``cs_only``) over
    valid plane d."""
    P, D, H, W = x.shape
    kd = wd.shape[0]
    kh = wh.shape[0]
    kw = ww.shape[0]
    Dv = D - kd + 1
    Hv = H - kh + 1
    Wv = W - kw + 1
    c1d = np.float64(consts[0])
    c2d = np.float64(consts[1])
    cnd = np.float64(consts[2])
    epsd = np.float64(consts[4])
    for r in prange(P * Dv):
        p = r // Dv
        d = r % Dv
        sx = np.float64(shx[p])
        sy = np.float64(shy[p])
        # one buffer per moment (vectorised column loops, as in grad_maps_2d)
        b0 = np.zeros((H, W))
        b1 = np.zeros((H, W))
        b2 = np.zeros((H, W))
        b3 = np.zeros((H, W))
        for t in range(kd):
            wt = np.float64(wd[t])
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
        acc = 0.0
        for i in range(Hv):
            v0 = np.zeros(W)
            v1 = np.zeros(W)
            v2 = np.zeros(W)
            v3 = np.zeros(W)
            for t in range(kh):
                wt = np.float64(wh[t])
                for j in range(W):
                    v0[j] += wt * b0[i + t, j]
                    v1[j] += wt * b1[i + t, j]
                    v2[j] += wt * b2[i + t, j]
                    v3[j] += wt * b3[i + t, j]
            h0 = np.zeros(Wv)
            h1 = np.zeros(Wv)
            h2 = np.zeros(Wv)
            h3 = np.zeros(Wv)
            for t in range(kw):
                wt = np.float64(ww[t])
                for j in range(Wv):
                    h0[j] += wt * v0[j + t]
                    h1[j] += wt * v1[j + t]
                    h2[j] += wt * v2[j + t]
                    h3[j] += wt * v3[j + t]
            for j in range(Wv):
                if cs_only:
                    s, g0, g1, g2 = _cs_grad_terms(h0[j], h1[j], h2[j], h3[j], c2d, cnd)
                else:
                    s, g0, g1, g2 = _ssim_grad_terms(h0[j], h1[j], h2[j], h3[j], sx, sy, c1d, c2d, cnd, epsd)
                d_my[p, d, i, j] = g0
                d_eyy[p, d, i, j] = g1
                d_exy[p, d, i, j] = g2
                acc += s
        plane_sums[p, d] = acc


@njit(**cfg.JIT_PARALLEL)
def grad_back_3d(x, y, wd, wh, ww, shx, shy, d_my, d_eyy, d_exy, scale, grad):
    """`grad_back_2d` for volumes: one output plane per task; the maps' planes it sees are
    gathered along D into one (3, Hv, Wv) buffer, then transposed down the columns and along
    the rows, row by row."""
    P, D, H, W = x.shape
    kd = wd.shape[0]
    kh = wh.shape[0]
    kw = ww.shape[0]
    Dv = D - kd + 1
    Hv = H - kh + 1
    Wv = W - kw + 1
    for r in prange(P * D):
        p = r // D
        q = r % D
        sx = shx[p]
        sy = shy[p]
        tb0 = np.zeros((Hv, Wv), dtype=ww.dtype)
        tb1 = np.zeros((Hv, Wv), dtype=ww.dtype)
        tb2 = np.zeros((Hv, Wv), dtype=ww.dtype)
        for t in range(kd):
            dd = q - t
            if dd >= 0 and dd < Dv:
                wt = wd[t]
                for i in range(Hv):
                    for j in range(Wv):
                        tb0[i, j] += wt * d_my[p, dd, i, j]
                        tb1[i, j] += wt * d_eyy[p, dd, i, j]
                        tb2[i, j] += wt * d_exy[p, dd, i, j]
        for row in range(H):
            t0 = np.zeros(Wv, dtype=ww.dtype)
            t1 = np.zeros(Wv, dtype=ww.dtype)
            t2 = np.zeros(Wv, dtype=ww.dtype)
            for t in range(kh):
                i = row - t
                if i >= 0 and i < Hv:
                    wt = wh[t]
                    for j in range(Wv):
                        t0[j] += wt * tb0[i, j]
                        t1[j] += wt * tb1[i, j]
                        t2[j] += wt * tb2[i, j]
            h0 = np.zeros(W, dtype=ww.dtype)
            h1 = np.zeros(W, dtype=ww.dtype)
            h2 = np.zeros(W, dtype=ww.dtype)
            for t in range(kw):
                wt = ww[t]
                for j in range(Wv):
                    h0[t + j] += wt * t0[j]
                    h1[t + j] += wt * t1[j]
                    h2[t + j] += wt * t2[j]
            for c in range(W):
                yb = y[p, q, row, c] - sy
                grad[p, q, row, c] = (h0[c] + (yb + yb) * h1[c] + (x[p, q, row, c] - sx) * h2[c]) * scale


@njit(**cfg.JIT_PARALLEL)
def grad_back_2d(x, y, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, band_h, band_w, grad):
    """The fused gradient's backward pass: ``grad = (F^T d_my + 2 y' F^T d_eyy + x' F^T d_exy)
    * scale`` over planes (P, H, W), F^T the transposed 'valid' filter: a full correlation with
    the mirrored window (``rh`` down the columns, ``rw`` along the rows: the windows reversed,
    tuples of the maps' dtype), zero outside the maps. Tasks: bands of ``band_h`` x ``band_w``
    pixels; a task gathers the three maps' rows it needs into a ring (zeros outside), filters
    them down four output rows per sweep and along each row, as `grad_maps_2d` filters."""
    P, H, W = x.shape
    nbh = (H + band_h - 1) // band_h
    nbw = (W + band_w - 1) // band_w
    for task in prange(P * nbh * nbw):
        _back_task(np.int64(task), nbh, nbw, band_h, band_w, x, y, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale,
                   grad)


@njit(**cfg.JIT)
def _back_task(task, nbh, nbw, band_h, band_w, x, y, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, grad):
    """Task ``task`` of `grad_back_2d` (whose arguments it takes)."""
    P, H, W = x.shape
    kh = len(rh)
    kw = len(rw)
    Hv, Wv = d_my.shape[1], d_my.shape[2]
    p, b, q0, bh, c0, bw = _task_box(task, nbh, nbw, band_h, band_w, H, W)
    lin = bw + kw - 1  # the maps' columns c0 - kw + 1 .. c0 + bw - 1
    m0 = c0 - kw + 1
    ja = max(0, -m0)  # the ones inside the maps
    jb = min(lin, Wv - m0)
    dt = d_my.dtype
    zero = scale - scale
    g, nslot = _ring(kh)
    n3 = 3 * lin
    ring = np.empty((nslot, 1, n3 + 24), dt)
    vbuf = np.empty((1, 4, n3), dt)
    h0 = np.empty(bw, dt)
    h1 = np.empty(bw, dt)
    h2 = np.empty(bw, dt)
    sx = shx[p]
    sy = shy[p]
    for i in range(bh + kh - 1):
        r = q0 - kh + 1 + i  # the maps' row
        dst = ring[(i % nslot), 0]
        if r < 0 or r >= Hv:
            for u in range(n3):
                dst[u] = zero
        else:
            for u in range(lin):
                inside = u >= ja and u < jb
                dst[u] = d_my[p, r, m0 + u] if inside else zero
                dst[lin + u] = d_eyy[p, r, m0 + u] if inside else zero
                dst[2 * lin + u] = d_exy[p, r, m0 + u] if inside else zero
        o, nout = _due(i, kh, bh, g)
        if nout == 0:
            continue
        _down(ring, rh, o, n3, vbuf)
        for q in range(nout):
            v = vbuf[0, q]
            _filter_row(v[:lin], rw, h0, bw, 1)
            _filter_row(v[lin:2 * lin], rw, h1, bw, 1)
            _filter_row(v[2 * lin:], rw, h2, bw, 1)
            xrow = x[p, q0 + o + q, c0:c0 + bw]
            yrow = y[p, q0 + o + q, c0:c0 + bw]
            out = grad[p, q0 + o + q, c0:c0 + bw]
            for j in range(bw):
                yc = yrow[j] - sy
                out[j] = (h0[j] + (yc + yc) * h1[j] + (xrow[j] - sx) * h2[j]) * scale
