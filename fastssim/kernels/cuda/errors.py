"""The error kernels on the GPU: squared differences (MSE, PSNR) and the products L2 and cosine
need, each a grid-stride loop per pair (or per pair and channel) with a shared-memory reduction
to one float64 partial sum per block; the host adds the partials in a fixed order."""

import functools

import numpy as np
from numba import cuda, float64  # noqa: F401

from ... import config as cfg
from ..math import product_terms
from .arrays import api

_product_terms = cuda.jit(device=True)(product_terms)


@functools.lru_cache(maxsize=None)
def squared_error_kernel(nt):
    @cuda.jit
    def kernel(x, y, out_part):
        N, C, D, H, W = x.shape
        per_pair = C * D * H * W
        blocks_per_pair = cuda.gridDim.x // N
        b = cuda.blockIdx.x
        n = b // blocks_per_pair
        part = b % blocks_per_pair
        red = cuda.shared.array(nt, float64)
        tid = cuda.threadIdx.x
        s = 0.0
        i = part * nt + tid
        while i < per_pair:
            w_ = i % W
            q = i // W
            h = q % H
            q = q // H
            d = q % D
            c = q // D
            e = float64(x[n, c, d, h, w_]) - float64(y[n, c, d, h, w_])
            s += e * e
            i += blocks_per_pair * nt
        red[tid] = s
        cuda.syncthreads()
        stride = nt // 2
        while stride > 0:
            if tid < stride:
                red[tid] += red[tid + stride]
            cuda.syncthreads()
            stride //= 2
        if tid == 0:
            out_part[b] = red[0]

    return kernel


@functools.lru_cache(maxsize=None)
def product_sums_kernel(nt):
    """Per block, the sums of ``kernels.math.product_terms`` over its share of one (pair, channel)
    group of the 5-D views x, y; block b serves group ``n C + c = b // (gridDim / (N C))``."""
    @cuda.jit
    def kernel(x, y, out_part):
        N, C, D, H, W = x.shape
        per_group = D * H * W
        blocks_per_group = cuda.gridDim.x // (N * C)
        b = cuda.blockIdx.x
        g = b // blocks_per_group
        n = g // C
        c = g % C
        part = b % blocks_per_group
        red = cuda.shared.array((4, nt), float64)
        tid = cuda.threadIdx.x
        s0 = s1 = s2 = s3 = 0.0
        i = part * nt + tid
        while i < per_group:
            w_ = i % W
            q = i // W
            h = q % H
            d = q // H
            t0, t1, t2, t3 = _product_terms(float64(x[n, c, d, h, w_]), float64(y[n, c, d, h, w_]))
            s0 += t0
            s1 += t1
            s2 += t2
            s3 += t3
            i += blocks_per_group * nt
        red[0, tid] = s0
        red[1, tid] = s1
        red[2, tid] = s2
        red[3, tid] = s3
        cuda.syncthreads()
        stride = nt // 2
        while stride > 0:
            if tid < stride:
                for k in range(4):
                    red[k, tid] += red[k, tid + stride]
            cuda.syncthreads()
            stride //= 2
        if tid == 0:
            for k in range(4):
                out_part[b, k] = red[k, 0]

    return kernel


def product_sums(x5, y5):
    """``kernels.engine.product_sums`` on the GPU: (N, C, 4) float64 on the host."""
    N, C, D, H, W = x5.shape
    per_group = D * H * W
    nt = cfg.CUDA_REDUCE_THREADS
    blocks_per_group = max(1, min(1024, -(-per_group // (nt * 8))))
    part = api().device_array((N * C * blocks_per_group, 4), dtype=np.float64)
    product_sums_kernel(nt)[N * C * blocks_per_group, nt](x5, y5, part)
    return part.copy_to_host().reshape(N, C, blocks_per_group, 4).sum(axis=2)


def squared_error_means(x5, y5):
    N = x5.shape[0]
    per_pair = int(np.prod(x5.shape[1:]))
    nt = cfg.CUDA_REDUCE_THREADS
    blocks_per_pair = max(1, min(1024, -(-per_pair // (nt * 8))))
    part = api().device_array(N * blocks_per_pair, dtype=np.float64)
    squared_error_kernel(nt)[N * blocks_per_pair, nt](x5, y5, part)
    return part.copy_to_host().reshape(N, -1).sum(axis=1) / per_pair
