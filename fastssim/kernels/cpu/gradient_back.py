"""The backward pass of SSIM's fused gradient on the CPU (Numba, all cores): the derivative maps
of the forward pass (`gradient.grad_maps_2d`, `gradient.grad_maps_3d`) gathered back through the
transposed window onto the images, and, where the forward pass read the images through a
reflection, folded back onto the samples that the reflection copied.

Kernels only compute: the caller (``_engine_gradient``) checks, allocates and reduces. Task
boundaries depend on the shape only, so results do not depend on the number of threads.

The fold
--------
A forward pass with ``pad`` read each plane as if extended by ``pad`` samples of PyTorch's
reflection; the gradient of the extended plane at position ``q`` belongs to the sample it copies,
``sym(q - pad)``. Because the gradient is ``F^T m0 + 2 y' F^T m1 + x' F^T m2`` and a reflected
position's ``x'`` and ``y'`` are its sample's, each transposed-filtered row is folded first (along
W: the reflected columns added onto their samples) and the formula applied once per sample; along
H, each extended row's result is written to its sample's row, or added where another extended row
reached that row first; along D (volumes), the maps' planes of every extended plane that copies a
sample are gathered together. A task writes only the rows and columns of its band, and a band
holds every sample that its reflected rows and columns copy (`_bands`), so tasks never share a
sample. No extended copy of the images or of the gradient exists.
"""

import numpy as np
from numba import njit, prange

from ... import config as cfg
from .calls import call_at
from .gradient import _down, _ring
from .load import sym
from .passes import _filter_row
from .ssim import _due
from .scratch import empty, zeros


@njit(inline="always", **cfg.JIT)
def _bands(n, band, pad):
    """``(count, size)`` of the bands of ``n`` samples: ``size`` each (at least ``pad + 1``, so that
    the first band holds the samples ``1 .. pad`` its reflected rows copy), the last taking the rest;
    a last band of ``pad`` samples or fewer is merged into the one before (the samples ``n - 1 -
    pad .. n - 2`` that the far reflection copies are then in the last band)."""
    size = max(band, pad + 1)
    count = (n + size - 1) // size
    if count > 1 and n - (count - 1) * size <= pad:
        count -= 1
    return count, size


@njit(inline="always", **cfg.JIT)
def _band(b, count, size, n):
    """``(first, end)`` of band ``b`` of `_bands`."""
    start = b * size
    return start, (n if b == count - 1 else start + size)


@njit(inline="always", **cfg.JIT)
def _extended(s0, s1, n, pad):
    """``(first, end)`` of the extended positions whose gradient a band of samples ``s0 .. s1 - 1``
    (of ``n``) computes: its own, and the reflections before the first sample or past the last."""
    return (0 if s0 == 0 else s0 + pad), (n + 2 * pad if s1 == n else s1 + pad)


@njit(inline="always", **cfg.JIT)
def _copies(s, n, pad):
    """The extended positions whose samples are sample ``s`` of ``n`` (PyTorch's reflection by ``pad``):
    ``(own, before, after)``, its own ``s + pad``, the reflection before the first sample (``pad - s``,
    for ``1 <= s <= pad``) and the one past the last (``2n - 2 - s + pad``, for ``n - 1 - pad <= s <=
    n - 2``); -1 where there is none."""
    before = pad - s if s >= 1 and s <= pad else -1
    after = 2 * n - 2 - s + pad if s >= n - 1 - pad and s <= n - 2 else -1
    return s + pad, before, after


@njit(**cfg.JIT_PARALLEL)
def grad_back_2d(task_at, x, y, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, band_h, band_w, pad, grad):
    """The fused gradient's backward pass: ``grad = (F^T d_my + 2 y' F^T d_eyy + x' F^T d_exy)
    * scale`` over planes (P, H, W), F^T the transposed 'valid' filter: a full correlation with
    the mirrored window (``rh`` down the columns, ``rw`` along the rows: the windows reversed,
    tuples of the maps' dtype), zero outside the maps. ``pad``: the maps are those of the planes
    extended by ``pad`` samples of PyTorch's reflection (`gradient.grad_maps_2d`), and the
    gradient of each reflected sample is added to the sample it copies (0: none). Tasks: bands
    of about ``band_h`` x ``band_w`` pixels (`_bands`, `_back_band`), run by `_back_task` at
    ``task_at`` (`task_call`; see `_cpu.ssim_sums`)."""
    P, H, W = x.shape
    nbh, sh = _bands(H, band_h, pad)
    nbw, sw = _bands(W, band_w, pad)
    for task in prange(P * nbh * nbw):
        call_at(_back_task, task_at, (np.int64(task), nbh, sh, nbw, sw, x, y, rh, rw, shx, shy, d_my, d_eyy, d_exy,
                                      scale, pad, grad))


@njit(**cfg.JIT)
def _back_task(t, nbh, sh, nbw, sw, x, y, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, pad, grad):
    """Task ``t`` of `grad_back_2d` (whose arguments it takes, with its bands: ``nbh`` of ``sh``
    rows, ``nbw`` of ``sw`` columns)."""
    P, H, W = x.shape
    p = t // (nbh * nbw)
    s0, s1 = _band((t % (nbh * nbw)) // nbw, nbh, sh, H)
    c0, c1 = _band(t % nbw, nbw, sw, W)
    qa, qb = _extended(s0, s1, H, pad)
    _back_band(d_my[p], d_eyy[p], d_exy[p], x[p], y[p], rh, rw, shx[p], shy[p], scale, pad, qa, qb, c0, c1,
               grad[p])


@njit(**cfg.JIT_PARALLEL)
def grad_back_3d(task_at, x, y, rd, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, pad, grad):
    """`grad_back_2d` for volumes (P, D, H, W): one output plane per task (`_back_plane`); the maps'
    planes it sees (from each extended plane that copies it) are gathered along D (``rd``, the
    reversed window) into three planes, which `_back_band` takes as a 2-D band (the whole plane)."""
    P, D, H, W = x.shape
    for r in prange(P * D):
        call_at(_back_plane, task_at, (np.int64(r), x, y, rd, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, pad, grad))


def task_call(kernel, args):
    """``(task function, its arguments)`` of ``kernel`` (`grad_back_2d` or `grad_back_3d`) called
    with the other arguments ``args`` (the task index 0): what its ``task_at`` address is taken of
    (`calls.address`), and what a helper process compiles beside the kernel (`kernels.ahead`)."""
    if kernel is grad_back_2d:
        x, y, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, band_h, band_w, pad, grad = args
        return _back_task, (0, 0, 0, 0, 0, x, y, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, pad, grad)
    return _back_plane, (0,) + tuple(args)


@njit(**cfg.JIT)
def _back_plane(r, x, y, rd, rh, rw, shx, shy, d_my, d_eyy, d_exy, scale, pad, grad):
    """Task ``r`` of `grad_back_3d` (whose arguments it takes)."""
    P, D, H, W = x.shape
    kd = len(rd)
    Dv, Hv, Wv = d_my.shape[1], d_my.shape[2], d_my.shape[3]
    p = r // D
    s = r % D
    dt = d_my.dtype
    t0 = zeros((Hv, Wv), dt)
    t1 = zeros((Hv, Wv), dt)
    t2 = zeros((Hv, Wv), dt)
    for qd in _copies(s, D, pad):  # the extended planes that are plane s
        for t in range(kd if qd >= 0 else 0):  # extended plane qd sees map plane qd - kd + 1 + t, weight rd[t]
            dd = qd - kd + 1 + t
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
    _back_band(t0, t1, t2, x[p, s], y[p, s], rh, rw, shx[p], shy[p], scale, pad, 0, H + 2 * pad, 0, W, grad[p, s])


@njit(inline="always", **cfg.JIT)
def _fold(h, f, c0, c1, n, ca, pad):
    """Row ``h`` of extended columns ``ca ..`` folded onto samples ``c0 .. c1 - 1`` (of ``n``) into
    ``f``: each sample's own column, plus the columns reflected onto it before the first sample and
    past the last (when the band holds them)."""
    own = h[c0 + pad - ca:c1 + pad - ca]  # a loop: the slice assignment `f[:] = ...` cost 2 ms of 8
    for j in range(c1 - c0):
        f[j] = own[j]
    if c0 == 0:
        for s in range(1, pad + 1):
            f[s] += h[_copies(s, n, pad)[1] - ca]
    if c1 == n:
        for s in range(n - 1 - pad, n - 1):
            f[s - c0] += h[_copies(s, n, pad)[2] - ca]


@njit(**cfg.JIT)
def _back_band(m0, m1, m2, xp, yp, rh, rw, sx, sy, scale, pad, qa, qb, c0, c1, out):
    """One plane's gradient ``out`` (2-D) on the samples of columns ``c0 .. c1 - 1`` that the extended
    rows ``qa .. qb - 1`` copy, from its three derivative maps ``m0, m1, m2`` (2-D, the valid size of
    the plane extended by ``pad``) and the plane's images ``xp``, ``yp``: the maps' rows the band
    needs are gathered into a ring (zeros outside the maps), filtered down it four output rows per
    sweep (``rh``), then along each row (``rw``), as `gradient.grad_maps_2d` filters; each row then
    folded (`_fold`), through the formula, and written to its sample's row, or added to it where an
    extended row before it copies that row too."""
    kh = len(rh)
    kw = len(rw)
    Hv, Wv = m0.shape
    H, W = xp.shape
    ca, cb = _extended(c0, c1, W, pad)
    nc = cb - ca  # the extended columns the band computes
    bw = c1 - c0  # the samples it writes
    lin = nc + kw - 1  # the maps' columns ca - kw + 1 .. cb - 1
    m_0 = ca - kw + 1
    ja = max(0, -m_0)  # the ones inside the maps
    jb = min(lin, Wv - m_0)
    dt = m0.dtype
    zero = scale - scale
    g, nslot = _ring(kh)
    n3 = 3 * lin
    ring = empty((nslot, 1, n3 + 24), dt)
    vbuf = empty((1, 4, n3), dt)
    h0 = empty(nc, dt)
    h1 = empty(nc, dt)
    h2 = empty(nc, dt)
    f0, f1, f2 = h0, h1, h2
    if pad != 0:
        f0 = empty(bw, dt)
        f1 = empty(bw, dt)
        f2 = empty(bw, dt)
    bh = qb - qa
    for i in range(bh + kh - 1):
        r = qa - kh + 1 + i  # the maps' row
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
            _filter_row(v[:lin], rw, h0, nc, None)
            _filter_row(v[lin:2 * lin], rw, h1, nc, None)
            _filter_row(v[2 * lin:], rw, h2, nc, None)
            if pad != 0:
                _fold(h0, f0, c0, c1, W, ca, pad)
                _fold(h1, f1, c0, c1, W, ca, pad)
                _fold(h2, f2, c0, c1, W, ca, pad)
            e = qa + o + q  # the extended row, and the sample row it copies
            s = sym(e - pad, H, 1)
            own, before, _ = _copies(s, H, pad)
            xrow = xp[s, c0:c1]
            yrow = yp[s, c0:c1]
            res = out[s, c0:c1]
            if e == (before if before >= 0 else own):  # the first extended row that copies s
                for j in range(bw):
                    yc = yrow[j] - sy
                    res[j] = (f0[j] + (yc + yc) * f1[j] + (xrow[j] - sx) * f2[j]) * scale
            else:
                for j in range(bw):
                    yc = yrow[j] - sy
                    res[j] += (f0[j] + (yc + yc) * f1[j] + (xrow[j] - sx) * f2[j]) * scale
