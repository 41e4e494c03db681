"""SSIM's gradient kernels for the CPU (Numba, all cores): the per-window derivative terms
(``kernels.math.ssim_grad_terms``, ``kernels.math.cs_grad_terms``) and the fused forward and transposed
passes over planes (2-D) and volumes (3-D).

Kernels only compute: the caller (``_engine_gradient``) checks, allocates and reduces. The
fused passes take one output row (2-D) or plane (3-D) per task; the five moments are
filtered in float64 row (plane) buffers, the derivative maps and the gradient are written in
the work dtype of ``w``. Task boundaries depend on the shape only, so results do not depend
on the number of threads.
"""

import numpy as np
from numba import njit, prange

from ... import config as cfg
from ..math import cs_grad_terms, ssim_grad_terms

_ssim_grad_terms = njit(inline="always", **cfg.JIT)(ssim_grad_terms)
_cs_grad_terms = njit(inline="always", **cfg.JIT)(cs_grad_terms)


@njit(**cfg.JIT_PARALLEL)
def grad_terms(ux, uy, exx, eyy, exy, consts, s, d_uy, d_eyy, d_exy):
    """Per-window SSIM and its derivatives (``kernels.math.ssim_grad_terms``), over flat arrays."""
    c1 = consts[0]
    c2 = consts[1]
    cn = consts[2]
    eps = consts[4]
    for i in prange(ux.shape[0]):
        s[i], d_uy[i], d_eyy[i], d_exy[i] = _ssim_grad_terms(ux[i], uy[i], exx[i], eyy[i], exy[i], 0.0, 0.0,
                                                             c1, c2, cn, eps)


@njit(**cfg.JIT_PARALLEL)
def grad_maps_2d(x, y, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, row_sums):
    """The fused gradient's forward pass over planes (P, H, W): for each valid window, SSIM's
    derivatives with respect to the shifted moments (``kernels.math.ssim_grad_terms``) into the
    (P, Hv, Wv) maps (their dtype), and ``row_sums[p, i]``, the sum of SSIM over valid row i.

    ``cs_only``: the contrast-structure term instead (``kernels.math.cs_grad_terms``, MS-SSIM's
    per-scale term). One output row per task: the kh input rows are loaded and shifted, filtered down
    the columns into five moment rows (window ``wh``), then along the row (``ww``), all in float64
    (row buffers only: the moments' cancellation is where float32 loses digits); no full-size
    intermediate.
    """
    P, H, W = x.shape
    kh = wh.shape[0]
    kw = ww.shape[0]
    Hv = H - kh + 1
    Wv = W - kw + 1
    c1d = np.float64(consts[0])
    c2d = np.float64(consts[1])
    cnd = np.float64(consts[2])
    epsd = np.float64(consts[4])
    for r in prange(P * Hv):
        p = r // Hv
        i = r % Hv
        sx = np.float64(shx[p])
        sy = np.float64(shy[p])
        # float64 moments (E[x'^2] - E[x']^2 cancels), one 1-D buffer each: LLVM vectorises the
        # column loops over separate rows (it did not over a (5, W) array's rows: 1.5x slower)
        v0 = np.zeros(W)
        v1 = np.zeros(W)
        v2 = np.zeros(W)
        v3 = np.zeros(W)
        v4 = np.zeros(W)
        for t in range(kh):
            wt = np.float64(wh[t])
            xrow = x[p, i + t]
            yrow = y[p, i + t]
            for j in range(W):
                xa = np.float64(xrow[j]) - sx
                yb = np.float64(yrow[j]) - sy
                v0[j] += wt * xa
                v1[j] += wt * yb
                v2[j] += wt * (xa * xa)
                v3[j] += wt * (yb * yb)
                v4[j] += wt * (xa * yb)
        h0 = np.zeros(Wv)
        h1 = np.zeros(Wv)
        h2 = np.zeros(Wv)
        h3 = np.zeros(Wv)
        h4 = np.zeros(Wv)
        for t in range(kw):  # along the row: taps outside, columns inside (vectorised)
            wt = np.float64(ww[t])
            for j in range(Wv):
                h0[j] += wt * v0[j + t]
                h1[j] += wt * v1[j + t]
                h2[j] += wt * v2[j + t]
                h3[j] += wt * v3[j + t]
                h4[j] += wt * v4[j + t]
        acc = 0.0
        for j in range(Wv):
            if cs_only:
                s, g0, g1, g2 = _cs_grad_terms(h0[j], h1[j], h2[j], h3[j], h4[j], c2d, cnd)
            else:
                s, g0, g1, g2 = _ssim_grad_terms(h0[j], h1[j], h2[j], h3[j], h4[j], sx, sy, c1d, c2d, cnd, epsd)
            d_my[p, i, j] = g0
            d_eyy[p, i, j] = g1
            d_exy[p, i, j] = g2
            acc += s
        row_sums[p, i] = acc


@njit(**cfg.JIT_PARALLEL)
def grad_maps_3d(x, y, wd, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, plane_sums):
    """`grad_maps_2d` for volumes (P, D, H, W): one valid output plane per task; its kd input
    planes are filtered along D (window ``wd``) into five float64 moment planes (one buffer per
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
        b4 = np.zeros((H, W))
        for t in range(kd):
            wt = np.float64(wd[t])
            for i in range(H):
                xrow = x[p, d + t, i]
                yrow = y[p, d + t, i]
                for j in range(W):
                    xa = np.float64(xrow[j]) - sx
                    yb = np.float64(yrow[j]) - sy
                    b0[i, j] += wt * xa
                    b1[i, j] += wt * yb
                    b2[i, j] += wt * (xa * xa)
                    b3[i, j] += wt * (yb * yb)
                    b4[i, j] += wt * (xa * yb)
        acc = 0.0
        for i in range(Hv):
            v0 = np.zeros(W)
            v1 = np.zeros(W)
            v2 = np.zeros(W)
            v3 = np.zeros(W)
            v4 = np.zeros(W)
            for t in range(kh):
                wt = np.float64(wh[t])
                for j in range(W):
                    v0[j] += wt * b0[i + t, j]
                    v1[j] += wt * b1[i + t, j]
                    v2[j] += wt * b2[i + t, j]
                    v3[j] += wt * b3[i + t, j]
                    v4[j] += wt * b4[i + t, j]
            h0 = np.zeros(Wv)
            h1 = np.zeros(Wv)
            h2 = np.zeros(Wv)
            h3 = np.zeros(Wv)
            h4 = np.zeros(Wv)
            for t in range(kw):
                wt = np.float64(ww[t])
                for j in range(Wv):
                    h0[j] += wt * v0[j + t]
                    h1[j] += wt * v1[j + t]
                    h2[j] += wt * v2[j + t]
                    h3[j] += wt * v3[j + t]
                    h4[j] += wt * v4[j + t]
            for j in range(Wv):
                if cs_only:
                    s, g0, g1, g2 = _cs_grad_terms(h0[j], h1[j], h2[j], h3[j], h4[j], c2d, cnd)
                else:
                    s, g0, g1, g2 = _ssim_grad_terms(h0[j], h1[j], h2[j], h3[j], h4[j], sx, sy, c1d, c2d, cnd, epsd)
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
def grad_back_2d(x, y, wh, ww, shx, shy, d_my, d_eyy, d_exy, scale, grad):
    """The fused gradient's backward pass: ``grad = (F^T d_my + 2 y' F^T d_eyy + x' F^T d_exy)
    * scale`` over planes (P, H, W), F^T the transposed 'valid' filter (a full correlation
    with the mirrored window, ``wh`` down the columns and ``ww`` along the rows, zero outside
    the maps). One output row per task."""
    P, H, W = x.shape
    kh = wh.shape[0]
    kw = ww.shape[0]
    Hv = H - kh + 1
    Wv = W - kw + 1
    for r in prange(P * H):
        p = r // H
        q = r % H
        # one 1-D buffer per map (vectorised column loops, as in grad_maps_2d)
        t0 = np.zeros(Wv, dtype=ww.dtype)
        t1 = np.zeros(Wv, dtype=ww.dtype)
        t2 = np.zeros(Wv, dtype=ww.dtype)
        for t in range(kh):
            i = q - t
            if i >= 0 and i < Hv:
                wt = wh[t]
                for j in range(Wv):
                    t0[j] += wt * d_my[p, i, j]
                    t1[j] += wt * d_eyy[p, i, j]
                    t2[j] += wt * d_exy[p, i, j]
        sx = shx[p]
        sy = shy[p]
        h0 = np.zeros(W, dtype=ww.dtype)
        h1 = np.zeros(W, dtype=ww.dtype)
        h2 = np.zeros(W, dtype=ww.dtype)
        for t in range(kw):  # the transposed filter along the row: out[t + j] += w[t] tv[j]
            wt = ww[t]
            for j in range(Wv):
                h0[t + j] += wt * t0[j]
                h1[t + j] += wt * t1[j]
                h2[t + j] += wt * t2[j]
        for c in range(W):
            yb = y[p, q, c] - sy
            grad[p, q, c] = (h0[c] + (yb + yb) * h1[c] + (x[p, q, c] - sx) * h2[c]) * scale
