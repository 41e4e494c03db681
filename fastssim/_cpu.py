"""Fused SSIM and error kernels for the CPU (Numba, all cores).

Kernels only compute: every check happens before they are called
(``_validate``), and the per-task partial sums they return are reduced by the
caller (``metrics``).

Layout of the SSIM kernel
-------------------------
Inputs are 5-D views ``(N, C, D, H, W)`` of the caller's arrays (pairs,
channels, depth, rows, columns; 2-D images have ``D == 1``), of any strides and
of dtype uint8, uint16, float32 or float64. The work dtype (float32 or
float64) is that of ``consts``. The window is separable: ``wd``, ``wh`` and
``ww`` are tuples of weights, so their lengths are compile-time constants and
the tap loops unroll, leaving the accumulators in registers and the pixel loop
free to vectorise. 2-D images pass ``wd = (1.0,)``.

The output ('valid' region) is cut into tasks of ``band_h`` rows by ``band_w``
columns over the whole depth, run in parallel with ``prange``. A task streams
its input rows once:

1. load a row segment, convert it to the work dtype, subtract the task's shift
   and form the products ``x*x``, ``y*y``, ``x*y``;
2. filter the five moments along W into a rolling buffer of ``Kh`` rows;
3. once ``Kh`` rows are there, filter along H: for 2-D straight into the SSIM
   formula and the row sum; for 3-D into a rolling buffer of ``Kd`` planes,
   which is then filtered along D into the formula.

No full-size intermediate exists; the map is written only when asked for.
Task boundaries depend on the shape only, so results do not depend on the
number of threads.
"""

import numpy as np
from numba import njit, prange

from . import _config as cfg
from ._math import block_mean2, cs_grad_terms, product_terms, ssim_grad_terms, ssim_terms, unravel4

_ssim_terms = njit(inline="always", **cfg.JIT)(ssim_terms)
_block_mean2 = njit(inline="always", **cfg.JIT)(block_mean2)
_unravel4 = njit(inline="always", **cfg.JIT)(unravel4)
_ssim_grad_terms = njit(inline="always", **cfg.JIT)(ssim_grad_terms)
_cs_grad_terms = njit(inline="always", **cfg.JIT)(cs_grad_terms)
_product_terms = njit(inline="always", **cfg.JIT)(product_terms)


@njit(**cfg.JIT)
def _load_row(x, y, n, c, d, h, w0, lin, shx, shy, xr, yr, xx, yy, dd):
    """Row segment of both images, shifted, with ``x^2``, ``y^2``, ``(x - y)^2``."""
    for j in range(lin):
        xr[j] = x[n, c, d, h, w0 + j]
        yr[j] = y[n, c, d, h, w0 + j]
    for j in range(lin):
        a = xr[j] - shx
        b = yr[j] - shy
        xr[j] = a
        yr[j] = b
        e = a - b
        xx[j] = a * a
        yy[j] = b * b
        dd[j] = e * e


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
    ``(base + t) % len(w)`` is tap ``t``. Writes ``dst[dslot, m, drow, :n]``.
    """
    k = len(w)
    for m in range(5):
        for j in range(n):
            s = w[0] * ring[base % k, m, row, j]
            for t in range(1, k):
                s += w[t] * ring[(base + t) % k, m, row, j]
            dst[dslot, m, drow, j] = s


@njit(**cfg.JIT)
def _combine_ssim(ring, w, base, row, n, consts, shx, shy, out):
    """Last filter pass fused with the SSIM formula.

    Writes the row of SSIM to ``out``; returns the float64 row sums of SSIM and
    of the contrast-structure term (for MS-SSIM).
    """
    k = len(w)
    c1 = consts[0]
    c2 = consts[1]
    cn = consts[2]
    total = 0.0
    total_cs = 0.0
    for j in range(n):
        s = base % k
        w0 = w[0]
        a0 = w0 * ring[s, 0, row, j]
        a1 = w0 * ring[s, 1, row, j]
        a2 = w0 * ring[s, 2, row, j]
        a3 = w0 * ring[s, 3, row, j]
        a4 = w0 * ring[s, 4, row, j]
        for t in range(1, k):
            s = (base + t) % k
            wt = w[t]
            a0 += wt * ring[s, 0, row, j]
            a1 += wt * ring[s, 1, row, j]
            a2 += wt * ring[s, 2, row, j]
            a3 += wt * ring[s, 3, row, j]
            a4 += wt * ring[s, 4, row, j]
        v, cs = _ssim_terms(a0, a1, a2, a3, a4, shx, shy, c1, c2, cn)
        out[j] = v
        total += np.float64(v)
        total_cs += np.float64(cs)
    return total, total_cs


@njit(**cfg.JIT_PARALLEL)
def ssim_sums(x, y, wd, wh, ww, consts, band_h, band_w, out_sum, out_map, write_map):
    """Per-task sums of the SSIM map over the 'valid' region.

    Parameters
    ----------
    x, y : ndarray, 5-D (N, C, D, H, W)
        The images, any strides; uint8, uint16, float32 or float64.
    wd, wh, ww : tuple of float
        Window weights along D, H and W (work dtype).
    consts : ndarray
        ``[C1, C2, cov_norm]`` in the work dtype.
    band_h, band_w : int
        Output rows and columns per task.
    out_sum : ndarray, float64, (N * C * nbh * nbw, 2)
        Receives the sums of the SSIM map and of the contrast-structure map
        over each task's region; tasks are ordered (n, c, row band, column band).
    out_map : ndarray, 5-D
        Receives the 'valid' map when ``write_map`` is True.
    """
    N, C, D, H, W = x.shape
    kd = len(wd)
    kh = len(wh)
    kw = len(ww)
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
        rows = np.empty((kh, 5, 1, bwp), dt)
        if kd > 1:
            planes = np.empty((kd, 5, bh, bwp), dt)
        else:
            planes = np.empty((1, 5, 1, 1), dt)
        srow = np.empty(bw, dt)

        # The task's shift: the mean of its first input row, per image.
        sh = np.zeros(2, dt)
        d_first = n - n  # a variable, not the literal 0: one compiled _load_row, not two
        _load_row(x, y, n, c, d_first, oh0, ow0, lin, sh[0], sh[1], xr, yr, xx, yy, dd)
        sh[0] = xr.sum() / lin
        sh[1] = yr.sum() / lin
        shx = sh[0]
        shy = sh[1]

        acc = 0.0
        acc_cs = 0.0
        for d in range(D):
            for h in range(oh0, oh1 + kh - 1):
                _load_row(x, y, n, c, d, h, ow0, lin, shx, shy, xr, yr, xx, yy, dd)
                slot = (h - oh0) % kh
                _filter_row(xr, ww, rows[slot, 0, 0], bw)
                _filter_row(yr, ww, rows[slot, 1, 0], bw)
                _filter_row(xx, ww, rows[slot, 2, 0], bw)
                _filter_row(yy, ww, rows[slot, 3, 0], bw)
                _filter_row(dd, ww, rows[slot, 4, 0], bw)
                if h - oh0 >= kh - 1:
                    oh = h - kh + 1
                    if kd == 1:
                        t_ssim, t_cs = _combine_ssim(rows, wh, oh - oh0, 0, bw, consts, shx, shy, srow)
                        acc += t_ssim
                        acc_cs += t_cs
                        if write_map:
                            out_map[n, c, d, oh, ow0:ow1] = srow
                    else:
                        _combine(rows, wh, oh - oh0, 0, bw, planes, d % kd, oh - oh0)
            if kd > 1 and d >= kd - 1:
                od = d - kd + 1
                for r in range(bh):
                    t_ssim, t_cs = _combine_ssim(planes, wd, od, r, bw, consts, shx, shy, srow)
                    acc += t_ssim
                    acc_cs += t_cs
                    if write_map:
                        out_map[n, c, od, oh0 + r, ow0:ow1] = srow
        out_sum[task, 0] = acc
        out_sum[task, 1] = acc_cs


@njit(**cfg.JIT_PARALLEL)
def downsample2(x, depth_too, out):
    """Means of 2x2 blocks along H and W (and pairs along D when ``depth_too``).

    An axis of odd length repeats its last sample, as MATLAB's ``imfilter(...,
    'symmetric')`` followed by ``1:2:end`` does in Wang's ``msssim.m``: the last
    output is the mean of the last sample with itself. ``out`` has shape
    ``(N, C, ceil(D/2) or D, ceil(H/2), ceil(W/2))``, in the work dtype.
    """
    N, C = x.shape[0], x.shape[1]
    Do, Ho, Wo = out.shape[2], out.shape[3], out.shape[4]
    for r in prange(N * C * Do * Ho):
        n, c, k, i = _unravel4(r, C, Do, Ho)
        for j in range(Wo):
            out[n, c, k, i, j] = _block_mean2(x, n, c, k, i, j, depth_too)


@njit(**cfg.JIT_PARALLEL)
def squared_error_sums(x, y, out_sum):
    """Per-row float64 sums of ``(x - y)^2`` over 5-D views (N, C, D, H, W).

    ``out_sum`` has one entry per row, ordered (n, c, d, h).
    """
    N, C, D, H, W = x.shape
    for r in prange(N * C * D * H):
        n, c, d, h = _unravel4(r, C, D, H)
        s = 0.0
        for j in range(W):
            e = np.float64(x[n, c, d, h, j]) - np.float64(y[n, c, d, h, j])
            s += e * e
        out_sum[r] = s


@njit(**cfg.JIT_PARALLEL)
def product_sums(x, y, out):
    """Per-row float64 sums of ``_math.product_terms`` over 5-D views (N, C, D, H, W):
    ``out[r] = (sum (x - y)^2, sum x y, sum x^2, sum y^2)``, rows ordered (n, c, d, h)."""
    N, C, D, H, W = x.shape
    for r in prange(N * C * D * H):
        n, c, d, h = _unravel4(r, C, D, H)
        s0 = s1 = s2 = s3 = 0.0
        for j in range(W):
            t0, t1, t2, t3 = _product_terms(np.float64(x[n, c, d, h, j]), np.float64(y[n, c, d, h, j]))
            s0 += t0
            s1 += t1
            s2 += t2
            s3 += t3
        out[r, 0] = s0
        out[r, 1] = s1
        out[r, 2] = s2
        out[r, 3] = s3


@njit(**cfg.JIT_PARALLEL)
def filter_last_axis(src, w, out):
    """``out[..., j] = sum_t w[t] * src[..., j + t]`` ('valid' along the last axis) for
    5-D views of any strides; filter another axis by passing swapped views."""
    N, C, D, H, W = out.shape
    k = len(w)
    for r in prange(N * C * D * H):
        n, c, d, h = _unravel4(r, C, D, H)
        for j in range(W):
            s = w[0] * src[n, c, d, h, j]
            for t in range(1, k):
                s += w[t] * src[n, c, d, h, j + t]
            out[n, c, d, h, j] = s


@njit(**cfg.JIT_PARALLEL)
def grad_terms(ux, uy, exx, eyy, exy, consts, s, d_uy, d_eyy, d_exy):
    """Per-window SSIM and its derivatives (``_math.ssim_grad_terms``), over flat arrays."""
    c1 = consts[0]
    c2 = consts[1]
    cn = consts[2]
    for i in prange(ux.shape[0]):
        s[i], d_uy[i], d_eyy[i], d_exy[i] = _ssim_grad_terms(ux[i], uy[i], exx[i], eyy[i], exy[i], 0.0, 0.0,
                                                             c1, c2, cn)


@njit(**cfg.JIT_PARALLEL)
def grad_maps_2d(x, y, w, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, row_sums):
    """The fused gradient's forward pass over planes (P, H, W): for each valid window, SSIM's
    derivatives with respect to the shifted moments (``_math.ssim_grad_terms``) into the
    (P, Hv, Wv) maps (their dtype), and ``row_sums[p, i]``, the sum of SSIM over valid row i.

    ``cs_only``: the contrast-structure term instead (``_math.cs_grad_terms``, MS-SSIM's
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
def grad_maps_3d(x, y, w, shx, shy, consts, d_my, d_eyy, d_exy, plane_sums):
    """`grad_maps_2d` for volumes (P, D, H, W): one valid output plane per task; its k input
    planes are filtered along D into five float64 moment planes (one buffer per task), then
    down the columns and along the rows as in 2-D. ``plane_sums[p, d]``: the sum of SSIM over
    valid plane d."""
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
