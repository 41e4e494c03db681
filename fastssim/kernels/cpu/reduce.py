"""CPU reductions that are not SSIM (Numba, all cores): squared errors (MSE, PSNR), with a mask,
the products for L2 and cosine, and MS-SSIM's 2x2 block means. Kernels only compute; the callers
check and reduce (``distances``, ``kernels.engine``)."""

import numpy as np
from numba import njit, prange

from ... import config as cfg
from .load import _HALF_SCALE, _half_bits
from ..math import product_terms, unravel4

_unravel4 = njit(inline="always", **cfg.JIT)(unravel4)
_product_terms = njit(inline="always", **cfg.JIT)(product_terms)


@njit(inline="always", **cfg.JIT_ORDERED)
def _sum4(a, b, c, d):
    """``((a + b) + c) + d`` as `kernels.math.block_mean2` sums a block's row pair."""
    return float(a) + float(b) + float(c) + float(d)


@njit(inline="always", **cfg.JIT_ORDERED)
def _halve_row(a, b, e, f, o, depth_too):
    """One output row of 2x2 means from input rows ``a``, ``b`` (2x2x2 with the next plane's
    ``e``, ``f`` when ``depth_too``), 1-D views of ``W`` samples, into ``o``: the block mean of
    `kernels.math.block_mean2`, its sums in the same order, the column pairs in one loop that LLVM
    vectorises (even and odd samples taken apart by shuffles); an odd ``W``'s last column
    averages its last sample with itself."""
    W = a.shape[0]
    if depth_too:
        for j in range(W // 2):
            s = _sum4(a[2 * j], a[2 * j + 1], b[2 * j], b[2 * j + 1])
            o[j] = (s + _sum4(e[2 * j], e[2 * j + 1], f[2 * j], f[2 * j + 1])) * 0.125
    else:
        for j in range(W // 2):
            o[j] = _sum4(a[2 * j], a[2 * j + 1], b[2 * j], b[2 * j + 1]) * 0.25
    if W % 2:
        w = W - 1
        s = _sum4(a[w], a[w], b[w], b[w])
        if depth_too:
            o[W // 2] = (s + _sum4(e[w], e[w], f[w], f[w])) * 0.125
        else:
            o[W // 2] = s * 0.25


@njit(inline="always", **cfg.JIT_ORDERED)
def _source_rows(N, C, D, H, Do, Ho, r, depth_too):
    """Output row ``r``'s ``(n, c, k, i)`` and its input rows: planes ``d0``, ``d1`` (``d1 == d0``
    for images) and rows ``h0``, ``h1``, the last sample repeated on an odd axis."""
    n, c, k, i = _unravel4(r, C, Do, Ho)
    h0 = 2 * i
    d0 = 2 * k if depth_too else k
    d1 = min(d0 + 1, D - 1) if depth_too else d0
    return n, c, k, i, d0, d1, h0, min(h0 + 1, H - 1)


@njit(**cfg.JIT_ORDERED_PARALLEL)
def downsample2(x, depth_too, out):
    """Means of 2x2 blocks along H and W (and pairs along D when ``depth_too``).

    An axis of odd length repeats its last sample, as MATLAB's ``imfilter(...,
    'symmetric')`` followed by ``1:2:end`` does in Wang's ``msssim.m``: the last
    output is the mean of the last sample with itself. ``out`` has shape
    ``(N, C, ceil(D/2) or D, ceil(H/2), ceil(W/2))``, in the work dtype.

    One task per output row, which reads its two (four) input rows as 1-D views
    (`_halve_row`); the GPU computes ``kernels.math.block_mean2`` per sample, the same sums in
    the same order. Compiled without ``reassoc`` (``cfg.JIT_ORDERED``): the sums keep
    their written order whatever the layout. Against ``block_mean2`` per sample with 5-D
    indexing: 3.3-5x faster on float32 (scales 2 and 3 of MS-SSIM, and volumes), 1.2x on
    contiguous uint8.
    """
    N, C, D, H, W = x.shape
    Do, Ho = out.shape[2], out.shape[3]
    for r in prange(N * C * Do * Ho):
        n, c, k, i, d0, d1, h0, h1 = _source_rows(N, C, D, H, Do, Ho, r, depth_too)
        _halve_row(x[n, c, d0, h0], x[n, c, d0, h1], x[n, c, d1, h0], x[n, c, d1, h1], out[n, c, k, i],
                   depth_too)


@njit(**cfg.JIT_ORDERED)
def _decode_half_row(row, bits):
    """float16 bit patterns ``row`` as float32 bit patterns in ``bits`` (before the scaling by
    2^112 that makes them the values: `_cpu_load._half_bits`)."""
    for j in range(row.shape[0]):
        bits[j] = _half_bits(row[j])


@njit(**cfg.JIT_ORDERED_PARALLEL)
def downsample2_half(x, depth_too, out):
    """`downsample2` of float16 samples given as their uint16 bit patterns: each task decodes its
    two (four) input rows exactly to float32, as `_cpu_load` does for the SSIM kernel, then
    halves them as `downsample2` halves float32 rows; so MS-SSIM of float16 input makes no
    converted copy of the images, and scores as float32 copies do, bit for bit."""
    N, C, D, H, W = x.shape
    Do, Ho = out.shape[2], out.shape[3]
    scale = np.float32(_HALF_SCALE)
    for r in prange(N * C * Do * Ho):
        n, c, k, i, d0, d1, h0, h1 = _source_rows(N, C, D, H, Do, Ho, r, depth_too)
        nrow = 4 if depth_too else 2
        bits = np.empty(nrow * W, np.uint32)
        _decode_half_row(x[n, c, d0, h0], bits[:W])
        _decode_half_row(x[n, c, d0, h1], bits[W:2 * W])
        if depth_too:
            _decode_half_row(x[n, c, d1, h0], bits[2 * W:3 * W])
            _decode_half_row(x[n, c, d1, h1], bits[3 * W:])
        f = bits.view(np.float32)
        for j in range(nrow * W):
            f[j] = f[j] * scale
        if depth_too:
            _halve_row(f[:W], f[W:2 * W], f[2 * W:3 * W], f[3 * W:], out[n, c, k, i], True)
        else:
            _halve_row(f[:W], f[W:2 * W], f[:W], f[W:2 * W], out[n, c, k, i], False)


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
    """Per-row float64 sums of ``kernels.math.product_terms`` over 5-D views (N, C, D, H, W):
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
