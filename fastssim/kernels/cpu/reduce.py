"""CPU reductions that are not SSIM (Numba, all cores): squared errors (MSE, PSNR), with a mask,
the products for L2 and cosine, and MS-SSIM's 2x2 block means. Kernels only compute; the callers
check and reduce (``distances``, ``kernels.engine``)."""

import numpy as np
from numba import njit, prange

from ... import config as cfg
from .calls import call_at
from .load import read_row, row_at, row_view
from ..math import product_terms, unravel4
from .scratch import empty, zeros

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
    if not depth_too:
        _halve_pair(a, b, o, W)
        return
    for j in range(W // 2):
        s = _sum4(a[2 * j], a[2 * j + 1], b[2 * j], b[2 * j + 1])
        o[j] = (s + _sum4(e[2 * j], e[2 * j + 1], f[2 * j], f[2 * j + 1])) * 0.125
    if W % 2:
        w = W - 1
        s = _sum4(a[w], a[w], b[w], b[w])
        o[W // 2] = (s + _sum4(e[w], e[w], f[w], f[w])) * 0.125


@njit(inline="always", **cfg.JIT_ORDERED)
def _halve_pair(a, b, o, W):
    """`_halve_row` of two rows (2x2 means) of ``W`` samples."""
    for j in range(W // 2):
        o[j] = _sum4(a[2 * j], a[2 * j + 1], b[2 * j], b[2 * j + 1]) * 0.25
    if W % 2:
        w = W - 1
        o[W // 2] = _sum4(a[w], a[w], b[w], b[w]) * 0.25


@njit(**cfg.JIT_ORDERED)
def halve_segment(image, n, c, h0, h1, first, count, buf0, buf1, out):
    """`_halve_pair` of columns ``first .. first + count - 1`` of rows ``h0`` and ``h1`` of plane 0 of
    ``image`` (`load.describe`, for rows of the buffers' dtype) into ``out`` (``ceil(count / 2)``
    samples): read in place where the image allows, else converted into ``buf0`` and ``buf1``
    (``count`` samples or more). MS-SSIM's halving fused into the SSIM task (`halve_due`), which has
    just read these rows: the numbers of `downsample2` where its rows are of the buffers' dtype (the
    caller's check). Not inlined: compiled with its own flags (``cfg.JIT_ORDERED``), so that the
    sums keep their order inside a task compiled with ``reassoc`` (LLVM reassociated an inlined
    copy's sums), and once (inlined by Numba, a cold first MS-SSIM took 1.2 s longer). Small, to
    compile quickly: about 0.4 s here (0.75 s through `_halve_row` and `load.row_view`; copying every
    row, 0.35 s, cost the kernel more than the halving kernel had); `read_row` of the types the
    task's loader uses (no specialisation of it to compile for this)."""
    if count <= 0:
        return
    d = n - n
    if image[8] == 1:  # rows of the work dtype, contiguous: halved where they lie
        a, b = row_at(image, n, c, d, h0, first, count, buf0), row_at(image, n, c, d, h1, first, count, buf0)
    else:
        read_row(image, n, c, d, h0, first, count, buf0, 0)
        read_row(image, n, c, d, h1, first, count, buf1, 0)
        a, b = buf0, buf1
    _halve_pair(a, b, out, count)


@njit(inline="always", **cfg.JIT)
def halve_due(x, y, n, c, h, H, own0, own1, j0, count, buf0, buf1, halved):
    """MS-SSIM's next scale from input row ``h`` of an SSIM task, just read (`ssim.ssim_sums`'
    ``halved``): row ``i`` of the halved pair once its second input row ``min(2 i + 1, H - 1)`` is
    ``h``, for the rows ``2 i`` the task owns (``own0 <= 2 i < own1``), its columns ``j0 ..`` from
    ``count`` input columns (`halve_segment`)."""
    if h % 2 == 1:
        h0 = h - 1
    elif h == H - 1:  # an odd last row: averaged with itself
        h0 = h
    else:
        return
    i = h // 2
    if h0 < own0 or h0 >= own1 or i >= halved.shape[4]:
        return
    k = (count + 1) // 2
    halve_segment(x, n, c, h0, h, 2 * j0, count, buf0, buf1, halved[0, n, c, 0, i, j0:j0 + k])
    halve_segment(y, n, c, h0, h, 2 * j0, count, buf0, buf1, halved[1, n, c, 0, i, j0:j0 + k])


@njit(inline="always", **cfg.JIT)
def halved_columns(own0, own1, W, W2):
    """``(j0, count)``: the first halved column of a task that owns input columns ``own0 .. own1 - 1``
    of ``W``, and the input columns its halves read (`halve_due`), for ``W2`` halved columns: those
    from ``2 j0`` to ``2 j1`` (``j1`` past the last it owns), the last at most ``W``."""
    j0 = (own0 + 1) // 2
    j1 = min((own1 + 1) // 2, W2)
    return j0, max(min(2 * j1, W) - 2 * j0, 0)


@njit(inline="always", **cfg.JIT)
def masked_row_sum(mask, n, c, d, oh, ow0, res, bw):
    """For the SSIM kernel (`ssim._ssim_task`): the sum of ``res`` where the mask row ``(n, c, d,
    oh)``, from column ``ow0``, is 1, and the count of those pixels (float64)."""
    acc = 0.0
    cnt = 0.0
    row = mask[n, c, d, oh, ow0:ow0 + bw]  # sliced: see `_cpu_load._load_row`
    for j in range(bw):
        m = np.float64(row[j])
        acc += m * np.float64(res[j])
        cnt += m
    return acc, cnt


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
def downsample2(task_at, images, depth_too, out, row_kind):
    """Means of 2x2 blocks along H and W (and pairs along D when ``depth_too``).

    ``images[p]`` for ``p < P`` (one image, or both of a pair of the same shape, as MS-SSIM
    halves them: one parallel region for the two): the inputs as `load.describe` writes them for
    rows of ``row_kind.dtype`` (an empty array of float32 or float64), ``images[2, :5]`` their
    shape (N, C, D, H, W). An axis of odd length repeats its last sample, as MATLAB's
    ``imfilter(..., 'symmetric')`` followed by ``1:2:end`` does in Wang's ``msssim.m``: the last
    output is the mean of the last sample with itself. ``out`` has shape ``(P, N, C, ceil(D/2)
    or D, ceil(H/2), ceil(W/2))``, in the work dtype.

    Tasks of ``cfg.HALVE_ROWS`` output rows. Each output row's two (four) input rows are read
    in place when they are contiguous rows of ``row_kind.dtype``, else converted into rows of
    it by the image's row reader (any dtype and layout, float16 decoded), and halved
    (`_halve_row`); the GPU computes ``kernels.math.block_mean2`` per sample, the same sums in
    the same order. The sums are in the rows' type (``float()`` keeps float32): float32 for
    float32 and float16 input, float64 for float64 and int32; integers of 16 bits or fewer sum
    exactly in either and take float32 rows, sharing float32 input's specialization. Compiled
    without ``reassoc`` (``cfg.JIT_ORDERED``): the sums keep their written order whatever the
    layout. One specialization per work dtype and row type, whatever the input's dtype and
    layout. ``task_at``: the address of `_halve_task` for these arguments (`halving_task`; see
    `ssim.ssim_sums`).
    """
    Do, Ho = out.shape[3], out.shape[4]
    total = images[2, 0] * images[2, 1] * Do * Ho
    tasks = (total + cfg.HALVE_ROWS - 1) // cfg.HALVE_ROWS  # per image
    for t in prange(out.shape[0] * tasks):
        # a task by address: its code compiled once, not again in the loop's four modules (`calls`)
        call_at(_halve_task, task_at, (np.int64(t), tasks, images, depth_too, out, row_kind))


def halving_task(images, depth_too, out, row_kind):
    """``(task function, its arguments)`` of `downsample2` called with these (the task index 0): what
    the ``task_at`` address is taken of (`calls.address`), and what a helper compiles beside it."""
    return _halve_task, (0, 0, images, depth_too, out, row_kind)


@njit(**cfg.JIT_ORDERED)
def _halve_task(t, tasks, images, depth_too, out, row_kind):
    """Task ``t`` of `downsample2` (``tasks`` per image): ``cfg.HALVE_ROWS`` output rows, their row
    buffer allocated once."""
    N, C, D, H, W = images[2, 0], images[2, 1], images[2, 2], images[2, 3], images[2, 4]
    Do, Ho = out.shape[3], out.shape[4]
    total = N * C * Do * Ho
    per = cfg.HALVE_ROWS
    p = t // tasks
    x = images[p]
    rows = empty(4 * W, row_kind.dtype)
    first = (t - p * tasks) * per
    for r in range(first, min(first + per, total)):
        n, c, k, i, d0, d1, h0, h1 = _source_rows(N, C, D, H, Do, Ho, r, depth_too)
        if x[8] == 1:  # rows of the rows' dtype, contiguous: halved where they lie
            r0, r1 = row_view(x, n, c, d0, h0, W, rows), row_view(x, n, c, d0, h1, W, rows)
            r2, r3 = row_view(x, n, c, d1, h0, W, rows), row_view(x, n, c, d1, h1, W, rows)
        else:
            read_row(x, n, c, d0, h0, 0, W, rows, 0)
            read_row(x, n, c, d0, h1, 0, W, rows, W)
            if depth_too:
                read_row(x, n, c, d1, h0, 0, W, rows, 2 * W)
                read_row(x, n, c, d1, h1, 0, W, rows, 3 * W)
            r0, r1, r2, r3 = rows[:W], rows[W:2 * W], rows[2 * W:3 * W], rows[3 * W:]
        _halve_row(r0, r1, r2, r3, out[p, n, c, k, i], depth_too)


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


@njit(inline="always", **cfg.JIT)
def _mirror(k, n):
    """Index ``k`` of an axis of ``n`` extended by symmetric reflection with the edge repeated
    (``np.pad``'s 'symmetric', MATLAB's 'symmetric'): -1 -> 0, n -> n - 1 (for -n <= k < 2n)."""
    if k < 0:
        return -1 - k
    if k >= n:
        return 2 * n - 1 - k
    return k


@njit(**cfg.JIT_ORDERED_PARALLEL)
def sampled_box_means(a, f, lo, out):
    """``out[p, i, j]``: the mean of the ``f`` x ``f`` box of ``a`` (P, H, W) over rows
    ``i f - lo ... i f - lo + f - 1`` and the same columns from ``j f - lo``, the image extended by
    symmetric reflection: MATLAB's ``imfilter(a, ones(f) / f^2, 'symmetric')`` read at every f-th
    sample, computed only there, in float64. Summed as `conventions.transforms.matlab2009_downsample`
    wrote it in NumPy (a column's f rows in order, / f; then a sample's f columns in order, / f),
    so that the numbers are the same to the bit. One output row per task."""
    P, H, W = a.shape
    _, M, N = out.shape
    nc = N * f
    inner = min(nc, W + lo)  # extended columns lo .. inner - 1 are columns c - lo, inside the image
    for r in prange(P * M):
        p = r // M
        i = r % M
        v = zeros(nc, np.float64)
        for t in range(f):
            row = a[p, _mirror(i * f + t - lo, H)]
            for c in range(lo):
                v[c] += np.float64(row[_mirror(c - lo, W)])
            for c in range(lo, inner):
                v[c] += np.float64(row[c - lo])
            for c in range(inner, nc):
                v[c] += np.float64(row[_mirror(c - lo, W)])
        for c in range(nc):
            v[c] = v[c] / f
        for j in range(N):
            s = 0.0
            for t in range(f):
                s += v[j * f + t]
            out[p, i, j] = s / f
