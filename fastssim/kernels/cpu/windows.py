"""CPU kernels for the windows the fused SSIM kernel (``kernels.cpu.ssim``) does not take: ffmpeg's grid of
unweighted windows, and the host separable path (a 'valid' filter along one axis of any view, then
the formula over the filtered moments) for explicit or anisotropic taps and N-d scikit-image input.
"""

import numpy as np
from numba import njit, prange

from ... import config as cfg
from ..math import ssim_terms, unravel4
from .scratch import zeros

_ssim_terms = njit(inline="always", **cfg.JIT)(ssim_terms)
_unravel4 = njit(inline="always", **cfg.JIT)(unravel4)


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
def grid_ssim_sums(x, y, size, step, cols, c1, c2, out):
    """``out[n, c, i]``: the sum over ``j < cols`` of the SSIM of the ``size`` x ``size``
    window at ``(i step, j step)`` of plane ``(n, c)``, for ``size == 2 step`` (ffmpeg's
    grid: 8x8 windows of 2x2 blocks of 4x4).

    A task takes a band of ``GRID_BAND`` window rows: the plain sums of its ``step`` x ``step``
    blocks (one more block row than window rows) in float64, then each window from its four
    blocks into `ssim_terms`. Each pixel is read once per task (twice at band edges).
    """
    N, C, rows = out.shape
    band = cfg.GRID_BAND
    nb = -(-rows // band)
    bw = cols + 1
    m = float(size * size)
    for t in prange(N * C * nb):
        b = t % nb
        n = t // nb // C
        c = t // nb % C
        r0 = b * band
        r1 = min(rows, r0 + band)
        nbr = r1 - r0 + 1
        sx = zeros((nbr, bw), np.float64)
        sy = zeros((nbr, bw), np.float64)
        sxx = zeros((nbr, bw), np.float64)
        syy = zeros((nbr, bw), np.float64)
        sdd = zeros((nbr, bw), np.float64)
        for br in range(nbr):
            for q in range(step):
                row = (r0 + br) * step + q
                for bc in range(bw):
                    ax = 0.0
                    ay = 0.0
                    axx = 0.0
                    ayy = 0.0
                    add = 0.0
                    for p in range(step):
                        u = float(x[n, c, 0, row, bc * step + p])
                        v = float(y[n, c, 0, row, bc * step + p])
                        d = u - v
                        ax += u
                        ay += v
                        axx += u * u
                        ayy += v * v
                        add += d * d
                    sx[br, bc] += ax
                    sy[br, bc] += ay
                    sxx[br, bc] += axx
                    syy[br, bc] += ayy
                    sdd[br, bc] += add
        for i in range(r1 - r0):
            acc = 0.0
            for j in range(cols):
                mx = (sx[i, j] + sx[i, j + 1] + sx[i + 1, j] + sx[i + 1, j + 1]) / m
                my = (sy[i, j] + sy[i, j + 1] + sy[i + 1, j] + sy[i + 1, j + 1]) / m
                exx = (sxx[i, j] + sxx[i, j + 1] + sxx[i + 1, j] + sxx[i + 1, j + 1]) / m
                eyy = (syy[i, j] + syy[i, j + 1] + syy[i + 1, j] + syy[i + 1, j + 1]) / m
                edd = (sdd[i, j] + sdd[i, j + 1] + sdd[i + 1, j] + sdd[i + 1, j + 1]) / m
                acc += _ssim_terms(mx, my, exx + eyy, edd, 0.0, 0.0, c1, c2, 1.0, -np.inf, 0.0)[0]
            out[n, c, r0 + i] = acc


@njit(**cfg.JIT_PARALLEL)
def ssim_of_moments(m, shx, shy, consts, out):
    """``out[i]``: SSIM from the filtered moments ``m[:, i]`` (four flat float64 rows, as
    `kernels.math.ssim_terms` takes them: the N-d separable path's last step)."""
    c1, c2, cn, floor, eps = consts[0], consts[1], consts[2], consts[3], consts[4]
    for i in prange(out.shape[0]):
        out[i] = _ssim_terms(m[0, i], m[1, i], m[2, i], m[3, i], shx, shy, c1, c2, cn, floor, eps)[0]
