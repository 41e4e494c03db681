"""CPU reductions that are not SSIM (Numba, all cores): squared errors (MSE, PSNR), with a mask,
the products for L2 and cosine, and MS-SSIM's 2x2 block means. Kernels only compute; the callers
check and reduce (``distances``, ``_engine``)."""

import numpy as np
from numba import njit, prange

from . import _config as cfg
from ._math import block_mean2, product_terms, unravel4

_block_mean2 = njit(inline="always", **cfg.JIT)(block_mean2)
_unravel4 = njit(inline="always", **cfg.JIT)(unravel4)
_product_terms = njit(inline="always", **cfg.JIT)(product_terms)


@njit(inline="always", **cfg.JIT_ORDERED)
def _sum4(a, b, c, d):
    """``((a + b) + c) + d`` as `_math.block_mean2` sums a block's row pair."""
    return float(a) + float(b) + float(c) + float(d)


@njit(**cfg.JIT_ORDERED_PARALLEL)
def downsample2(x, depth_too, out):
    """Means of 2x2 blocks along H and W (and pairs along D when ``depth_too``).

    An axis of odd length repeats its last sample, as MATLAB's ``imfilter(...,
    'symmetric')`` followed by ``1:2:end`` does in Wang's ``msssim.m``: the last
    output is the mean of the last sample with itself. ``out`` has shape
    ``(N, C, ceil(D/2) or D, ceil(H/2), ceil(W/2))``, in the work dtype.

    One task per output row, which reads its two (four) input rows as 1-D views: the
    column pairs go through one loop that LLVM vectorises (even and odd samples taken
    apart by shuffles), the block mean of `_math.block_mean2` written out for them; an
    odd last column and the GPU use ``block_mean2`` itself. Compiled without ``reassoc``
    (``cfg.JIT_ORDERED``): the sums keep their written order whatever the layout, and so
    equal the GPU's. Against ``block_mean2`` per sample with 5-D indexing: 3.3-5x faster on
    float32 (scales 2 and 3 of MS-SSIM, and volumes), 1.2x on contiguous uint8.
    """
    N, C, D, H, W = x.shape
    Do, Ho, Wo = out.shape[2], out.shape[3], out.shape[4]
    for r in prange(N * C * Do * Ho):
        n, c, k, i = _unravel4(r, C, Do, Ho)
        h0 = 2 * i
        h1 = min(h0 + 1, H - 1)
        d0 = 2 * k if depth_too else k
        a = x[n, c, d0, h0]
        b = x[n, c, d0, h1]
        o = out[n, c, k, i]
        if depth_too:
            d1 = min(d0 + 1, D - 1)
            e = x[n, c, d1, h0]
            f = x[n, c, d1, h1]
            for j in range(W // 2):
                s = _sum4(a[2 * j], a[2 * j + 1], b[2 * j], b[2 * j + 1])
                o[j] = (s + _sum4(e[2 * j], e[2 * j + 1], f[2 * j], f[2 * j + 1])) * 0.125
        else:
            for j in range(W // 2):
                o[j] = _sum4(a[2 * j], a[2 * j + 1], b[2 * j], b[2 * j + 1]) * 0.25
        for j in range(W // 2, Wo):  # an odd width's last column
            o[j] = _block_mean2(x, n, c, k, i, j, depth_too)


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
def masked_squared_error_sums(x, y, mask, out):
    """Per-row float64 sums of ``mask (x - y)^2`` and of ``mask`` over 5-D views (the mask a
    uint8 view of the same shape, any strides): ``out`` (rows, 2), rows ordered (n, c, d, h)."""
    N, C, D, H, W = x.shape
    for r in prange(N * C * D * H):
        n, c, d, h = _unravel4(r, C, D, H)
        s = 0.0
        k = 0.0
        for j in range(W):
            m = np.float64(mask[n, c, d, h, j])
            e = np.float64(x[n, c, d, h, j]) - np.float64(y[n, c, d, h, j])
            s += m * (e * e)
            k += m
        out[r, 0] = s
        out[r, 1] = k
