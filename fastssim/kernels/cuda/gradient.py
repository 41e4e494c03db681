"""SSIM's gradient kernels for NVIDIA GPUs (numba.cuda): the same per-window terms as the CPU
(``kernels.math.ssim_grad_terms``, ``kernels.math.cs_grad_terms``, compiled as device functions).

A first, plain version: a thread per valid window sums its k x k moments in float64 and
writes the derivative maps, a thread per pixel gathers them through the transposed window.
Not yet run or tuned on a GPU (tested under Numba's simulator).
"""

import numpy as np
from numba import cuda, float64

from ... import config as cfg
from .ssim import api
from ..math import cs_grad_terms, ssim_grad_terms

_ssim_grad_terms = cuda.jit(device=True)(ssim_grad_terms)
_cs_grad_terms = cuda.jit(device=True)(cs_grad_terms)


@cuda.jit
def _grad_maps_2d(x, y, wh, ww, shx, shy, consts, cs_only, d_my, d_eyy, d_exy, sums):
    """``_cpu.grad_maps_2d`` on the GPU: a thread per valid window (p, i, j) sums its moments
    over the kh x kw window (float64), writes SSIM's (or cs's) derivatives into the maps and
    adds its SSIM to ``sums[p]`` (float64)."""
    P, Hv, Wv = d_my.shape
    kh = wh.shape[0]
    kw = ww.shape[0]
    r = cuda.grid(1)
    if r >= P * Hv * Wv:
        return
    p = r // (Hv * Wv)
    i = (r // Wv) % Hv
    j = r % Wv
    sx = float64(shx[p])
    sy = float64(shy[p])
    m0 = m1 = m2 = m3 = 0.0  # the four moments of `kernels.math.ssim_terms`
    for t1 in range(kh):
        for t2 in range(kw):
            wt = float64(wh[t1]) * float64(ww[t2])
            a = float64(x[p, i + t1, j + t2]) - sx
            b = float64(y[p, i + t1, j + t2]) - sy
            e = a - b
            m0 += wt * a
            m1 += wt * b
            m2 += wt * (a * a + b * b)
            m3 += wt * (e * e)
    if cs_only:
        s, g0, g1, g2 = _cs_grad_terms(m0, m1, m2, m3, float64(consts[1]), float64(consts[2]))
    else:
        s, g0, g1, g2 = _ssim_grad_terms(m0, m1, m2, m3, sx, sy, float64(consts[0]), float64(consts[1]),
                                         float64(consts[2]), float64(consts[4]))
    d_my[p, i, j] = g0
    d_eyy[p, i, j] = g1
    d_exy[p, i, j] = g2
    cuda.atomic.add(sums, p, s)


@cuda.jit
def _grad_back_2d(x, y, wh, ww, shx, shy, d_my, d_eyy, d_exy, scale, grad):
    """``_cpu.grad_back_2d`` on the GPU: a thread per pixel gathers the three maps through the
    transposed kh x kw window and combines them."""
    P, H, W = grad.shape
    Hv, Wv = d_my.shape[1], d_my.shape[2]
    kh = wh.shape[0]
    kw = ww.shape[0]
    r = cuda.grid(1)
    if r >= P * H * W:
        return
    p = r // (H * W)
    q = (r // W) % H
    c = r % W
    t0 = t1 = t2 = 0.0
    for a in range(kh):
        i = q - a
        if i >= 0 and i < Hv:
            for b in range(kw):
                j = c - b
                if j >= 0 and j < Wv:
                    wt = float64(wh[a]) * float64(ww[b])
                    t0 += wt * d_my[p, i, j]
                    t1 += wt * d_eyy[p, i, j]
                    t2 += wt * d_exy[p, i, j]
    yb = float64(y[p, q, c]) - float64(shy[p])
    xa = float64(x[p, q, c]) - float64(shx[p])
    grad[p, q, c] = (t0 + 2.0 * yb * t1 + xa * t2) * scale


def ssim_gradient_2d(x3, y3, weights, consts, shx, shy, wdt, cs_only, scale=1.0):
    """``kernels.engine_gradient.ssim_gradient_2d`` on the GPU: ``(sums (P,) float64 on the host, grad (P, H, W)
    device array in wdt, times ``scale``)``; x3/y3 are device arrays of planes, ``weights`` the
    windows along H and W. The sums' copy to the host waits for both kernels, so the gradient is
    complete when this returns."""
    P, H, W = x3.shape
    wh_, ww_ = weights
    Hv, Wv = H - len(wh_) + 1, W - len(ww_) + 1
    cu = api()
    wh, ww = cu.to_device(np.asarray(wh_, wdt)), cu.to_device(np.asarray(ww_, wdt))
    maps = [cu.device_array((P, Hv, Wv), dtype=wdt) for _ in range(3)]
    sums = cu.to_device(np.zeros(P))
    dsx, dsy = cu.to_device(np.asarray(shx, np.float64)), cu.to_device(np.asarray(shy, np.float64))
    nt = cfg.CUDA_REDUCE_THREADS
    n = P * Hv * Wv
    _grad_maps_2d[-(-n // nt), nt](x3, y3, wh, ww, dsx, dsy, cu.to_device(np.asarray(consts, np.float64)), cs_only,
                                   *maps, sums)
    grad = cu.device_array((P, H, W), dtype=wdt)
    n = P * H * W
    _grad_back_2d[-(-n // nt), nt](x3, y3, wh, ww, dsx, dsy, *maps, scale / (Hv * Wv), grad)
    return sums.copy_to_host(), grad
