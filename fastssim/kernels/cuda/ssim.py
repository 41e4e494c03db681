"""Fused SSIM and error kernels for NVIDIA GPUs (numba.cuda).

The per-pixel formula is ``kernels.math.ssim_terms``, compiled here as a device
function: the same source as the CPU kernels use.

Layout of the SSIM kernel
-------------------------
One thread block owns a tile of ``TH x TW`` output pixels of one (pair,
channel) plane and, for volumes, a chunk of output planes along D. For each
input plane the block:

1. loads the tile plus its halo into shared memory once (converting to the
   work dtype and subtracting the block's shift, the mean of the first row);
2. filters the four moments (``x``, ``y``, ``x^2 + y^2``, ``(x - y)^2``, as
   ``kernels.math.ssim_terms`` takes them) along W into shared memory;
3. filters along H, one thread per output pixel, into registers;
4. for 2-D, applies the formula; for 3-D, each thread keeps a rolling buffer of
   ``Kd`` planes of its four moments in local memory and applies the formula
   once ``Kd`` planes are there.

Each input voxel is read from global memory once per block (plus the halo).
A block reduces its pixels' SSIM in shared memory and writes one float64
partial sum; the host adds the partials of each plane in a fixed order, so
results do not depend on scheduling.

Kernels are built per (window length, depth window length, tile, work dtype)
and kept in a dictionary; shared-memory shapes must be compile-time constants.
"""

import math
import functools

import numpy as np
from numba import cuda, float32, float64  # noqa: F401

from ... import config as cfg
from ..math import MOMENTS, block_mean2, grid_window_means, ssim_terms, unravel4
from .arrays import api, available, device_view, launchable, reshaped, SimDeviceArray  # noqa: F401

_ssim_terms = cuda.jit(device=True)(ssim_terms)
_grid_window_means = cuda.jit(device=True)(grid_window_means)
_unravel4 = cuda.jit(device=True)(unravel4)


@functools.lru_cache(maxsize=None)
def ssim_kernel(k, kd, th, tw, work):
    """The SSIM kernel for window length ``k`` (H, W), ``kd`` (D), tile ``th x tw``."""
    numba_type = float64 if work == "float64" else float32
    HH = th + k - 1
    HW = tw + k - 1
    NT = th * tw

    @cuda.jit
    def kernel(x, y, w, wd, consts, depth_chunk, out_part, out_map, write_map, mask, use_mask):
        N, C, D, H, W = x.shape
        Ho = H - k + 1
        Wo = W - k + 1
        Do = D - kd + 1
        tiles_w = (Wo + tw - 1) // tw
        tiles_h = (Ho + th - 1) // th
        chunks = (Do + depth_chunk - 1) // depth_chunk
        b = cuda.blockIdx.x
        plane, chunk, bh_, bw_ = _unravel4(b, chunks, tiles_h, tiles_w)
        n = plane // C
        c = plane % C
        oh0 = bh_ * th
        ow0 = bw_ * tw
        od0 = chunk * depth_chunk
        od1 = min(od0 + depth_chunk, Do)

        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * tw + tx

        sx = cuda.shared.array((HH, HW), numba_type)
        sy = cuda.shared.array((HH, HW), numba_type)
        hm = cuda.shared.array((MOMENTS, HH, tw), numba_type)
        red = cuda.shared.array((4, NT), float64)
        sh = cuda.shared.array(2, numba_type)
        ring = cuda.local.array((kd, MOMENTS), numba_type)

        c1 = consts[0]
        c2 = consts[1]
        cn = consts[2]
        floor = consts[3]
        zero = consts[4]
        eps = consts[5]

        oh = oh0 + ty
        ow = ow0 + tx
        inside = oh < Ho and ow < Wo
        acc = 0.0
        acc_cs = 0.0
        acc_m = 0.0
        cnt_m = 0.0

        for d in range(od0, od1 + kd - 1):
            # 1. tile + halo of this plane, in the work dtype
            for idx in range(tid, HH * HW, NT):
                r = idx // HW
                col = idx % HW
                gh = oh0 + r
                gw = ow0 + col
                if gh < H and gw < W:
                    sx[r, col] = x[n, c, d, gh, gw]
                    sy[r, col] = y[n, c, d, gh, gw]
                else:
                    sx[r, col] = zero
                    sy[r, col] = zero
            cuda.syncthreads()
            if d == od0 and tid == 0:
                cnt = min(HW, W - ow0)
                ax = zero
                ay = zero
                for col in range(cnt):
                    ax += sx[0, col]
                    ay += sy[0, col]
                sh[0] = ax / cnt
                sh[1] = ay / cnt
            cuda.syncthreads()
            shx = sh[0]
            shy = sh[1]
            # 2. four moments along W
            for idx in range(tid, HH * tw, NT):
                r = idx // tw
                j = idx % tw
                m0 = zero
                m1 = zero
                m2 = zero
                m3 = zero
                for t in range(k):
                    a = sx[r, j + t] - shx
                    bb = sy[r, j + t] - shy
                    e = a - bb
                    wt = w[t]
                    m0 += wt * a
                    m1 += wt * bb
                    m2 += wt * (a * a + bb * bb)
                    m3 += wt * (e * e)
                hm[0, r, j] = m0
                hm[1, r, j] = m1
                hm[2, r, j] = m2
                hm[3, r, j] = m3
            cuda.syncthreads()
            # 3. along H, one output pixel per thread
            if inside:
                slot = d % kd
                for m in range(MOMENTS):
                    s = zero
                    for t in range(k):
                        s += w[t] * hm[m, ty + t, tx]
                    ring[slot, m] = s
                # 4. along D (kd == 1 for images) and the formula
                if d >= od0 + kd - 1:
                    od = d - kd + 1
                    a0 = zero
                    a1 = zero
                    a2 = zero
                    a3 = zero
                    for t in range(kd):
                        sl = (od + t) % kd
                        wt = wd[t]
                        a0 += wt * ring[sl, 0]
                        a1 += wt * ring[sl, 1]
                        a2 += wt * ring[sl, 2]
                        a3 += wt * ring[sl, 3]
                    v, cs = _ssim_terms(a0, a1, a2, a3, shx, shy, c1, c2, cn, floor, eps)
                    if write_map:
                        out_map[n, c, od, oh, ow] = v
                    acc += v
                    acc_cs += cs
                    if use_mask:
                        m = float64(mask[n, c, od, oh, ow])
                        acc_m += m * v
                        cnt_m += m
            cuda.syncthreads()

        # block reduction, fixed order
        red[0, tid] = acc
        red[1, tid] = acc_cs
        red[2, tid] = acc_m
        red[3, tid] = cnt_m
        cuda.syncthreads()
        stride = 1
        while stride < NT:
            stride *= 2
        stride //= 2
        while stride > 0:
            if tid < stride and tid + stride < NT:
                for q in range(4):
                    red[q, tid] += red[q, tid + stride]
            cuda.syncthreads()
            stride //= 2
        if tid == 0:
            for q in range(4):
                out_part[b, q] = red[q, 0]

    return kernel


_block_mean2 = cuda.jit(device=True)(block_mean2)


@cuda.jit
def _downsample2(x, depth_too, out):
    """As ``_cpu_reduce.downsample2``: one thread per output sample."""
    N, C, D, H, W = x.shape
    Do, Ho, Wo = out.shape[2], out.shape[3], out.shape[4]
    i = cuda.grid(1)
    if i >= N * C * Do * Ho * Wo:
        return
    j = i % Wo
    n, c, k, h = _unravel4(i // Wo, C, Do, Ho)
    out[n, c, k, h, j] = _block_mean2(x, n, c, k, h, j, depth_too)


def downsample2(xd, spatial_ndim, dtype):
    """Half-resolution device array (see ``_cpu_reduce.downsample2``)."""
    N, C, D, H, W = xd.shape
    shape = (N, C, -(-D // 2) if spatial_ndim == 3 else D, -(-H // 2), -(-W // 2))
    out = api().device_array(shape, dtype=dtype)
    total = int(np.prod(shape))
    nt = cfg.CUDA_REDUCE_THREADS
    _downsample2[-(-total // nt), nt](xd, spatial_ndim == 3, out)
    return out


@cuda.jit
def _grid_ssim(x, y, size, step, c1, c2, out):
    """As ``_cpu_windows.grid_ssim_sums``, one thread per window: ``out[n, c, i, j]``."""
    N, C, rows, cols = out.shape
    t = cuda.grid(1)
    if t >= N * C * rows * cols:
        return
    j = t % cols
    n, c, i, _ = _unravel4(t // cols, C, rows, 1)
    mx, my, exx, eyy, edd = _grid_window_means(x, y, n, c, i * step, j * step, size)
    out[n, c, i, j] = _ssim_terms(mx, my, exx + eyy, edd, 0.0, 0.0, c1, c2, 1.0, -math.inf, 0.0)[0]


def grid_ssim_means(xd, yd, size, step, c1, c2):
    """Mean SSIM of the grid windows of every (pair, channel) plane, float64 (N, C)."""
    N, C, _, H, W = xd.shape
    rows, cols = (H - size) // step + 1, (W - size) // step + 1
    out = api().device_array((N, C, rows, cols), dtype=np.float64)
    nt = cfg.CUDA_REDUCE_THREADS
    _grid_ssim[-(-(N * C * rows * cols) // nt), nt](xd, yd, size, step, c1, c2, out)
    return out.copy_to_host().reshape(N, C, -1).mean(axis=2)


#: Static shared memory a block may use (bytes), on every GPU Numba supports.
SHARED_LIMIT = 48 * 1024


def shared_bytes(k, th, tw, itemsize):
    """Shared memory of the SSIM kernel: the two halo tiles, the W-filtered moment planes, the
    two shifts, and the float64 reduction buffer (four sums per thread)."""
    hh, hw = th + k - 1, tw + k - 1
    return itemsize * (2 * hh * hw + MOMENTS * hh * tw + 2) + 8 * 4 * th * tw


def tile_for(k, itemsize):
    """The configured tile, with fewer rows where the window or the dtype would overflow
    shared memory."""
    th, tw = cfg.CUDA_TILE
    while th > 1 and shared_bytes(k, th, tw, itemsize) > SHARED_LIMIT:
        th //= 2
    if shared_bytes(k, th, tw, itemsize) > SHARED_LIMIT:
        raise ValueError(f"win_size={k} is too large for the CUDA kernels' shared memory; use backend='cpu'")
    return th, tw


def ssim_means(x5, y5, spatial_ndim, weights, consts, want_map=False, mask5=None):
    """As ``kernels.engine.ssim_means``, on the GPU. ``x5``/``y5`` are device arrays; ``mask5`` a
    host array broadcastable to the 'valid' map."""
    work = "float64" if consts.dtype == np.float64 else "float32"
    N, C, D, H, W = x5.shape
    k = weights.shape[0]
    kd = k if spatial_ndim == 3 else 1
    th, tw = tile_for(k, consts.dtype.itemsize)
    Do, Ho, Wo = D - kd + 1, H - k + 1, W - k + 1
    depth_chunk = cfg.CUDA_DEPTH_CHUNK if spatial_ndim == 3 else 1
    chunks = -(-Do // depth_chunk)
    tiles = -(-Ho // th) * -(-Wo // tw)
    nblocks = N * C * chunks * tiles
    dt = consts.dtype
    w = api().to_device(weights.astype(dt))
    wd = api().to_device(weights.astype(dt) if kd > 1 else np.ones(1, dt))
    dconsts = api().to_device(np.concatenate([consts[:4], np.zeros(1, dt), consts[4:5]]))
    part = api().device_array((nblocks, 4), dtype=np.float64)
    smap = api().device_array((N, C, Do, Ho, Wo) if want_map else (1, 1, 1, 1, 1), dtype=dt)
    if mask5 is not None:
        mask = api().to_device(np.ascontiguousarray(np.broadcast_to(mask5, (N, C, Do, Ho, Wo)), dtype=np.uint8))
    else:
        mask = api().to_device(np.zeros((1, 1, 1, 1, 1), np.uint8))
    kern = ssim_kernel(k, kd, th, tw, work)
    kern[nblocks, (tw, th)](x5, y5, w, wd, dconsts, depth_chunk, part, smap, want_map, mask, mask5 is not None)
    totals = part.copy_to_host().reshape(N, C, -1, 4).sum(axis=2)
    if mask5 is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.stack([totals[..., 2] / totals[..., 3], totals[..., 3]], axis=-1), (smap if want_map else None)
    return totals[..., :2] / (Do * Ho * Wo), (smap if want_map else None)
