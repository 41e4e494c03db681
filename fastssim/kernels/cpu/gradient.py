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
    for i in prange(ux.shape[0]):
        s[i], d_uy[i], d_eyy[i], d_exy[i] = _ssim_grad_terms(ux[i], uy[i], exx[i], eyy[i], exy[i], 0.0, 0.0,
                                                             c1, c2, cn)


@njit(**cfg.JIT_PARALLEL)
def grad_maps_2d(x, y, w, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, row_sums):
    """The fused gradient's forward pass over planes (P, H, W): for each valid window, SSIM's
    derivatives with respect to the shifted moments (``kernels.math.ssim_grad_terms``) into the
    (P, Hv, Wv) maps (their dtype), and ``row_sums[p, i]``, the sum of SSIM over valid row i.

    ``cs_only``: the contrast-structure term instead (``kernels.math.cs_grad_terms``, MS-SSIM's
    per-scale term). One output row per task: the k input rows are loaded and shifted, filtered down the
    columns into five moment rows, then along the row, all in float64 (row buffers only: the
    moments' cancellation is where float32 loses digits); no full-size intermediate.
    """
    P, H, W = x.shape
    k = w.shape[0]
    Hv = H - k + 1
    Wv = W - k + 1
    c1d = np.float64(consts[0])
    c2d = np.float64(consts[1])
    cnd = np.float64(consts[2])
    for r in prange(P * Hv):
        p = r // Hv
        i = r % Hv
        sx = np.float64(shx[p])
        sy = np.float64(shy[p])
        a = np.empty(W, dtype=np.float64)
        b = np.empty(W, dtype=np.float64)
        vm = np.zeros((5, W), dtype=np.float64)  # float64 moments: E[x'^2] - E[x']^2 cancels
        for t in range(k):
            for j in range(W):
                a[j] = x[p, i + t, j]
                b[j] = y[p, i + t, j]
            wt = np.float64(w[t])
            for j in range(W):
                xa = a[j] - sx
                yb = b[j] - sy
                vm[0, j] += wt * xa
                vm[1, j] += wt * yb
                vm[2, j] += wt * (xa * xa)
                vm[3, j] += wt * (yb * yb)
                vm[4, j] += wt * (xa * yb)
        hm = np.zeros((5, Wv), dtype=np.float64)
        for t in range(k):  # along the row: taps outside, columns inside (vectorised)
            wt = np.float64(w[t])
            for c in range(5):
                for j in range(Wv):
                    hm[c, j] += wt * vm[c, j + t]
        acc = 0.0
        for j in range(Wv):
            if cs_only:
                s, g0, g1, g2 = _cs_grad_terms(hm[0, j], hm[1, j], hm[2, j], hm[3, j], hm[4, j], c2d, cnd)
            else:
                s, g0, g1, g2 = _ssim_grad_terms(hm[0, j], hm[1, j], hm[2, j], hm[3, j], hm[4, j], sx, sy,
                                                 c1d, c2d, cnd)
            d_my[p, i, j] = g0
            d_eyy[p, i, j] = g1
            d_exy[p, i, j] = g2
            acc += s
        row_sums[p, i] = acc


@njit(**cfg.JIT_PARALLEL)
def grad_maps_3d(x, y, w, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, plane_sums):
    """`grad_maps_2d` for volumes (P, D, H, W): one valid output plane per task; its k input
    planes are filtered along D into five float64 moment planes (one buffer per task), then
    down the columns and along the rows as in 2-D. ``plane_sums[p, d]``: the sum of SSIM (of
    the contrast-structure term with ``cs_only``) over valid plane d."""
    P, D, H, W = x.shape
    k = w.shape[0]
    Dv = D - k + 1
    Hv = H - k + 1
    Wv = W - k + 1
    c1d = np.float64(consts[0])
    c2d = np.float64(consts[1])
    cnd = np.float64(consts[2])
    for r in prange(P * Dv):
        p = r // Dv
        d = r % Dv
        sx = np.float64(shx[p])
        sy = np.float64(shy[p])
        buf = np.zeros((5, H, W), dtype=np.float64)
        for t in range(k):
            wt = np.float64(w[t])
            for i in range(H):
                for j in range(W):
                    xa = np.float64(x[p, d + t, i, j]) - sx
                    yb = np.float64(y[p, d + t, i, j]) - sy
                    buf[0, i, j] += wt * xa
                    buf[1, i, j] += wt * yb
                    buf[2, i, j] += wt * (xa * xa)
                    buf[3, i, j] += wt * (yb * yb)
                    buf[4, i, j] += wt * (xa * yb)
        acc = 0.0
        for i in range(Hv):
            vm = np.zeros((5, W), dtype=np.float64)
            for t in range(k):
                wt = np.float64(w[t])
                for c in range(5):
                    for j in range(W):
                        vm[c, j] += wt * buf[c, i + t, j]
            hm = np.zeros((5, Wv), dtype=np.float64)
            for t in range(k):
                wt = np.float64(w[t])
                for c in range(5):
                    for j in range(Wv):
                        hm[c, j] += wt * vm[c, j + t]
            for j in range(Wv):
                if cs_only:
                    s, g0, g1, g2 = _cs_grad_terms(hm[0, j], hm[1, j], hm[2, j], hm[3, j], hm[4, j], c2d, cnd)
                else:
                    s, g0, g1, g2 = _ssim_grad_terms(hm[0, j], hm[1, j], hm[2, j], hm[3, j], hm[4, j], sx, sy,
                                                     c1d, c2d, cnd)
                d_my[p, d, i, j] = g0
                d_eyy[p, d, i, j] = g1
                d_exy[p, d, i, j] = g2
                acc += s
        plane_sums[p, d] = acc


@njit(**cfg.JIT_PARALLEL)
def grad_back_3d(x, y, w, shx, shy, d_my, d_eyy, d_exy, scale, grad):
    """`grad_back_2d` for volumes: one output plane per task; the maps' planes it sees are
    gathered along D into one (3, Hv, Wv) buffer, then transposed down the columns and along
    the rows, row by row."""
    P, D, H, W = x.shape
    k = w.shape[0]
    Dv = D - k + 1
    Hv = H - k + 1
    Wv = W - k + 1
    for r in prange(P * D):
        p = r // D
        q = r % D
        sx = shx[p]
        sy = shy[p]
        tb = np.zeros((3, Hv, Wv), dtype=w.dtype)
        for t in range(k):
            dd = q - t
            if dd >= 0 and dd < Dv:
                wt = w[t]
                for i in range(Hv):
                    for j in range(Wv):
                        tb[0, i, j] += wt * d_my[p, dd, i, j]
                        tb[1, i, j] += wt * d_eyy[p, dd, i, j]
                        tb[2, i, j] += wt * d_exy[p, dd, i, j]
        for row in range(H):
            tv = np.zeros((3, Wv), dtype=w.dtype)
            for t in range(k):
                i = row - t
                if i >= 0 and i < Hv:
                    wt = w[t]
                    for c in range(3):
                        for j in range(Wv):
                            tv[c, j] += wt * tb[c, i, j]
            th = np.zeros((3, W), dtype=w.dtype)
            for t in range(k):
                wt = w[t]
                for c in range(3):
                    for j in range(Wv):
                        th[c, t + j] += wt * tv[c, j]
            for c in range(W):
                yb = y[p, q, row, c] - sy
                grad[p, q, row, c] = (th[0, c] + (yb + yb) * th[1, c] + (x[p, q, row, c] - sx) * th[2, c]) * scale


@njit(**cfg.JIT_PARALLEL)
def grad_back_2d(x, y, w, shx, shy, d_my, d_eyy, d_exy, scale, grad):
    """The fused gradient's backward pass: ``grad = (F^T d_my + 2 y' F^T d_eyy + x' F^T d_exy)
    * scale`` over planes (P, H, W), F^T the transposed 'valid' filter (a full correlation
    with the mirrored window, zero outside the maps). One output row per task."""
    P, H, W = x.shape
    k = w.shape[0]
    Hv = H - k + 1
    Wv = W - k + 1
    for r in prange(P * H):
        p = r // H
        q = r % H
        tv = np.zeros((3, Wv), dtype=w.dtype)
        for t in range(k):
            i = q - t
            if i >= 0 and i < Hv:
                wt = w[t]
                for j in range(Wv):
                    tv[0, j] += wt * d_my[p, i, j]
                    tv[1, j] += wt * d_eyy[p, i, j]
                    tv[2, j] += wt * d_exy[p, i, j]
        a = np.empty(W, dtype=w.dtype)
        b = np.empty(W, dtype=w.dtype)
        for c in range(W):
            a[c] = x[p, q, c]
            b[c] = y[p, q, c]
        sx = shx[p]
        sy = shy[p]
        th = np.zeros((3, W), dtype=w.dtype)
        for t in range(k):  # the transposed filter along the row: out[t + j] += w[t] tv[j]
            wt = w[t]
            for c in range(3):
                for j in range(Wv):
                    th[c, t + j] += wt * tv[c, j]
        for c in range(W):
            yb = b[c] - sy
            grad[p, q, c] = (th[0, c] + (yb + yb) * th[1, c] + (a[c] - sx) * th[2, c]) * scale
