"""SSIM, MS-SSIM, PSNR and MSE of ``dask.array`` inputs larger than memory (``fastssim[dask]``).

The mean SSIM is a sum over the 'valid' window positions divided by their number, so it is
cut into tiles of positions: each tile reads its positions plus a halo of ``win_size - 1``
samples along every spatial axis (``x[slab]``), is scored by the in-memory kernels, and
returns its per-channel sums; the sums are added in a fixed order. Tiles follow the input's
chunks, merged along an axis until a tile holds at least ``win_size`` positions, so tiny
chunks cost tasks, never correctness. Peak memory per task is one tile and its halo (and the
kernel's work arrays), whatever the volume's size. Results equal the in-memory call to float
rounding (1e-6 for float32 work, 1e-9 for float64; tested over several chunkings).

``ssim_map`` is lazy: ``map_overlap`` with a halo of ``win_size // 2`` (mirrored at the edges
for ``mode='same'``, as the NumPy call pads).
"""

import itertools
import math

import numpy as np

from ..conventions import checks as v
from ..conventions import data_range as dr
from ..kernels.engine_ms import halve, scale_term
from ..kernels.math import psnr_from_mse
from ..metrics._arguments import _means, _prepare
from ..metrics.multiscale import MS_SSIM_WEIGHTS


def _dask():
    try:
        import dask
        import dask.array as da
    except ImportError:
        raise ImportError("fastssim.dask needs dask: pip install 'fastssim[dask]'") from None
    return dask, da


def _proxy(a):
    """A host array over one element with ``a``'s shape and dtype: for the NumPy API's checks."""
    return np.broadcast_to(np.zeros(1, a.dtype), a.shape)


def _inputs(x, y, data_range, channel_axis, win_size, sigma, K1, K2):
    """Both inputs as dask arrays of aligned chunks (channels in one chunk), checked as the NumPy
    API checks them; the data range L, the channel axis and the spatial axes."""
    _, da = _dask()
    x, y = da.asarray(x), da.asarray(y)
    for name, a in (("x", x), ("y", y)):
        if any(np.isnan(s) for s in a.shape):
            raise ValueError(f"{name} has unknown chunk sizes (shape {a.shape}), as after boolean indexing or "
                             f"from_delayed without shapes; call {name}.compute_chunk_sizes() (or pass the shape) "
                             "first, since SSIM's windows need the extent of every axis")
    v.check_options(win_size, sigma, K1, K2, "cpu")
    data_range = dr.check(data_range)
    if dr.needs_data(data_range):  # the proxies hold no values, and a span would compute everything twice
        raise ValueError(f"data_range={data_range!r} reads the data; for dask arrays pass a number (e.g. "
                         "float(x.max() - x.min()) computed once) or 'dtype'")
    px, py = v.check_pair(_proxy(x), _proxy(y), range_given=data_range is not None)
    L = dr.resolve(px, py, data_range)
    ca = None if channel_axis is None else v.normalise_axis(channel_axis, x.ndim, "channel_axis")
    spatial = tuple(i for i in range(x.ndim) if i != ca)
    if len(spatial) not in (2, 3):
        raise ValueError(f"expected a 2-D image (H, W) or a 3-D volume (D, H, W), got {x.ndim} axes "
                         f"(shape {x.shape}); for colour images set channel_axis")
    v.check_extent((1, 1) + (1,) * (3 - len(spatial)) + tuple(x.shape[i] for i in spatial), win_size,
                   len(spatial), channel_axis)
    if ca is not None:
        x = x.rechunk({ca: -1})
    small = {i: max(4 * win_size, 64) for i in spatial if min(x.chunks[i]) < win_size}
    if small:  # chunks under a window: merged first, so tiles are not one task per few samples
        x = x.rechunk(small)
    y = y.rechunk(x.chunks)  # y follows x's chunking: a mismatch costs a rechunk, never a wrong tile
    return x, y, L, ca, spatial


#: Tiles along an axis are merged from chunks until they hold this many positions (or ``k``):
#: the halo's share of the reads, and the per-task cost, fall as tiles grow (measured: 64-long
#: tiles of a 3-D volume ran at 0.6x the speed of 128-long ones); memory stays a few chunks.
TILE_MIN = 128


def _tiles(chunks, n, k):
    """``[(first, end)]`` window positions per tile along one axis of length ``n``: the
    chunk boundaries, merged until each tile holds at least ``max(k, TILE_MIN)`` positions."""
    positions = n - k + 1
    starts = [0] + list(itertools.accumulate(chunks))[:-1]
    tiles, s = [], 0
    for b in starts[1:] + [positions]:
        b = min(b, positions)
        if b - s >= max(k, TILE_MIN) or b == positions:
            if b > s:
                tiles.append((s, b))
            s = b
    if len(tiles) > 1 and tiles[-1][1] - tiles[-1][0] < max(k, TILE_MIN):  # a short last tile joins the one before
        tiles[-2:] = [(tiles[-2][0], tiles[-1][1])]
    return tiles


def _tile_sums(xb, yb, opts, want_cs):
    """Per-channel sums of SSIM and of the contrast-structure term over a tile's positions, and
    the number of positions: ``(sums (C, 2), count)``; the terms ``want_cs`` asks for
    (`kernels.engine.ssim_means`: False, SSIM alone; 'only', cs alone), the other NaN or 0."""
    job = _prepare(xb, yb, batch=False, spatial_ndim=None, **opts)
    means, _ = _means(job, want_cs=want_cs)
    k = opts["win_size"]
    spatial = job.x5.shape[2:] if job.nd == 3 else job.x5.shape[3:]
    count = math.prod(n - k + 1 for n in spatial)
    return means[0] * count, count


def _add(parts):
    sums = sum(p[0] for p in parts)  # in the fixed order of the tiles
    return sums, sum(p[1] for p in parts)


def _level_means(x, y, spatial, opts):
    """Per-channel mean SSIM over the valid positions: (C, 2), SSIM then 0 (no contrast-structure term)."""
    dask, _ = _dask()
    sums, count = dask.compute(_level_sums(x, y, spatial, opts, False))[0]
    return sums / count


def _level_sums(x, y, spatial, opts, want_cs):
    """The sums over the tiles and their count, as one delayed value, with the terms
    ``want_cs`` asks for (`_tile_sums`)."""
    dask, _ = _dask()
    k = opts["win_size"]
    per_axis = [_tiles(x.chunks[i], x.shape[i], k) for i in spatial]
    parts = []
    for combo in itertools.product(*per_axis):
        slab = [slice(None)] * x.ndim
        for axis, (s, e) in zip(spatial, combo):
            slab[axis] = slice(s, e + k - 1)
        slab = tuple(slab)
        parts.append(dask.delayed(_tile_sums)(x[slab], y[slab], opts, want_cs))
    return dask.delayed(_add)(parts)


def _raise_nonfinite(x, y, K1, K2):
    """The NumPy API's error for a non-finite result, with the global index of a bad value."""
    _, da = _dask()
    for name, a in (("x", x), ("y", y)):
        if a.dtype.kind == "f":
            bad = ~da.isfinite(a)
            if bad.any().compute():
                first = int(da.argmax(bad.ravel()).compute())
                raise v.nonfinite_error(name, np.unravel_index(first, a.shape))
    raise v.diagnose_nonfinite(np.zeros(1), np.zeros(1), K1, K2)  # finite input: the K or overflow cause


def _opts(L, ca, win_size, sigma, gaussian, K1, K2, sample_covariance):
    return dict(data_range=L, channel_axis=ca, win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
                sample_covariance=sample_covariance, backend="cpu")


_INPUTS_DOC = """\
    x, y : dask.array.Array or array_like
        Of one shape, any chunking (``y`` is rechunked to ``x``'s), or anything
        ``dask.array.asarray`` takes.
    data_range : float or 'dtype', optional
        As for `fastssim.ssim`; the rules that read the data ('ref', 'pair') are refused for
        arrays that may not fit in memory.
"""
_WINDOW_DOC = """\
    channel_axis, win_size, sigma, gaussian, K1, K2, sample_covariance
        As for `fastssim.ssim`.
"""


def _doc(f):
    """Put the parameter entries the SSIM functions share into ``f``'s docstring."""
    f.__doc__ = f.__doc__.replace("    {inputs}\n", _INPUTS_DOC).replace("    {window}\n", _WINDOW_DOC)
    return f


@_doc
def ssim(x, y, *, data_range=None, channel_axis=None, win_size=11, sigma=1.5, gaussian=True, K1=0.01, K2=0.03,
         sample_covariance=False):
    """Mean SSIM of two dask arrays (2-D images or 3-D volumes), tile by tile.

    Parameters
    ----------
    {inputs}
    {window}

    Returns
    -------
    float
        Equal to `fastssim.ssim` of the arrays in memory to float rounding.

    Raises
    ------
    ValueError, TypeError
        As `fastssim.ssim` (a non-finite value is located by its global index).

    Examples
    --------
    >>> import numpy as np, dask.array as da, fastssim.dask
    >>> x = np.random.default_rng(0).integers(0, 256, (64, 64), dtype=np.uint8)
    >>> y = np.clip(x.astype(int) + 9, 0, 255).astype(np.uint8)
    >>> a = fastssim.dask.ssim(da.from_array(x, chunks=16), da.from_array(y, chunks=16))
    >>> abs(a - fastssim.ssim(x, y)) < 1e-6
    True
    """
    x, y, L, ca, spatial = _inputs(x, y, data_range, channel_axis, win_size, sigma, K1, K2)
    opts = _opts(L, ca, win_size, sigma, gaussian, K1, K2, sample_covariance)
    value = float(_level_means(x, y, spatial, opts)[:, 0].mean())
    if not math.isfinite(value):
        _raise_nonfinite(x, y, K1, K2)
    return value


def _downsample(a, spatial, dtype):
    """MS-SSIM's 2x2 (2x2x2) block means, an odd axis repeating its last sample: the engine's
    halving kernel on each block (`kernels.engine_ms.halve`, so the in-memory call's sums in its
    order), after an edge padding of odd axes and even chunks."""
    _, da = _dask()
    pad = [(0, a.shape[i] % 2) if i in spatial else (0, 0) for i in range(a.ndim)]
    if any(p[1] for p in pad):
        a = da.pad(a, pad, mode="edge")
    a = a.rechunk({i: max(2, a.chunks[i][0] + a.chunks[i][0] % 2) for i in spatial})
    chunks = tuple(tuple(c // 2 for c in a.chunks[i]) if i in spatial else a.chunks[i] for i in range(a.ndim))
    return a.map_blocks(_halve_block, tuple(spatial), np.dtype(dtype), dtype=dtype, chunks=chunks)


def _halve_block(b, spatial, dtype):
    """`_downsample` of one block of even spatial sides: its spatial axes last, the others one
    axis of planes."""
    nd = len(spatial)
    last = tuple(range(b.ndim - nd, b.ndim))
    moved = np.moveaxis(b, spatial, last)
    five = moved.reshape((1, -1) + (1,) * (3 - nd) + moved.shape[-nd:])
    out = halve(five, nd, dtype)
    return np.moveaxis(out.reshape(moved.shape[:-nd] + out.shape[-nd:]), last, spatial)


@_doc
def ms_ssim(x, y, *, data_range=None, weights=MS_SSIM_WEIGHTS, channel_axis=None, win_size=11, sigma=1.5,
            gaussian=True, K1=0.01, K2=0.03, sample_covariance=False):
    """Multi-scale SSIM of two dask arrays, each scale tile by tile.

    Parameters
    ----------
    {inputs}
    weights : sequence of float, optional
        One exponent per scale, as `fastssim.ms_ssim` (Wang's five by default).
    {window}

    Returns
    -------
    float
        Equal to `fastssim.ms_ssim` of the arrays in memory to float rounding.
    """
    x, y, L, ca, spatial = _inputs(x, y, data_range, channel_axis, win_size, sigma, K1, K2)
    levels = v.check_level_weights(weights)
    nd = len(spatial)
    shape5 = (1, 1) + (1,) * (3 - nd) + tuple(x.shape[i] for i in spatial)
    v.check_ms_extent(shape5, win_size, nd, len(levels))
    work = v.work_dtype(_proxy(x), _proxy(y))
    opts = _opts(L, ca, win_size, sigma, gaussian, K1, K2, sample_covariance)
    dask, _ = _dask()
    scales = []  # every scale's sums in one graph, computed at once: each halving is computed once
    for level in range(len(levels)):
        scales.append(_level_sums(x, y, spatial, opts, want_cs=scale_term(level, len(levels))[0]))
        if level < len(levels) - 1:
            x, y = _downsample(x, spatial, work), _downsample(y, spatial, work)
    value = 1.0
    for level, ((sums, count), w) in enumerate(zip(dask.compute(*scales), levels)):
        value = value * np.maximum((sums / count)[:, scale_term(level, len(levels))[1]], 0.0) ** w
    result = float(np.mean(value))
    if not math.isfinite(result):
        _raise_nonfinite(x, y, K1, K2)
    return result


@_doc
def ssim_map(x, y, *, mode="same", data_range=None, channel_axis=None, win_size=11, sigma=1.5, gaussian=True,
             K1=0.01, K2=0.03, sample_covariance=False):
    """The SSIM map as a lazy dask array, as `fastssim.ssim_map` computes it block by block.

    Parameters
    ----------
    {inputs}
    mode : {'same', 'valid'}, optional
        'same': the input's shape, edges mirrored; 'valid': the windows inside only.
    {window}

    Returns
    -------
    dask.array.Array
        float64, lazy: each block computed with its halo when asked for.
    """
    _, da = _dask()
    if mode not in ("same", "valid"):
        raise ValueError(f"mode must be 'same' or 'valid', got {mode!r}")
    x, y, L, ca, spatial = _inputs(x, y, data_range, channel_axis, win_size, sigma, K1, K2)
    r = win_size // 2
    merged = {i: max(win_size, max(x.chunks[i])) for i in spatial}  # a halo fits in any chunk
    x, y = x.rechunk(merged), y.rechunk(merged)
    depth = {i: (r if i in spatial else 0) for i in range(x.ndim)}
    opts = _opts(L, ca, win_size, sigma, gaussian, K1, K2, sample_covariance)
    from ..metrics.structural import ssim_map as numpy_map

    def block(xb, yb):
        return numpy_map(xb, yb, mode="valid", **opts)

    if mode == "same":
        return da.map_overlap(block, x, y, depth=depth, boundary="reflect", trim=False, dtype=np.float64,
                              chunks=x.chunks)
    chunks = []
    for i in range(x.ndim):
        c = list(x.chunks[i])
        if i in spatial:
            c[0] -= r
            c[-1] -= r
        chunks.append(tuple(c))
    return da.map_overlap(block, x, y, depth=depth, boundary="none", trim=False, dtype=np.float64,
                          chunks=tuple(chunks))


def mse(x, y):
    """Mean squared error of two dask arrays, in float64. As `fastssim.mse`.

    Parameters
    ----------
    x, y : dask.array.Array or array_like
        Of one shape, any chunking.

    Returns
    -------
    float
        The mean of ``(x - y) ** 2`` in float64.
    """
    _, da = _dask()
    x, y = da.asarray(x), da.asarray(y)
    px, py = v.check_pair(_proxy(x), _proxy(y))
    y = y.rechunk(x.chunks)
    value = float(da.mean((x.astype(np.float64) - y.astype(np.float64)) ** 2).compute())
    if not math.isfinite(value):
        _raise_nonfinite(x, y, 1, 1)
    return value


def psnr(x, y, *, data_range=None):
    """Peak signal-to-noise ratio of two dask arrays, in dB. As `fastssim.psnr`.

    Parameters
    ----------
    x, y : dask.array.Array or array_like
        Of one shape, any chunking.
    data_range : float or 'dtype', optional
        The range L (default: the integer dtype's); the rules that read the data are refused.

    Returns
    -------
    float
        ``10 log10(L^2 / MSE)``; infinite for identical arrays.
    """
    _, da = _dask()
    x, y = da.asarray(x), da.asarray(y)
    data_range = dr.check(data_range)
    if dr.needs_data(data_range):
        raise ValueError(f"data_range={data_range!r} reads the data; for dask arrays pass a number or 'dtype'")
    px, py = v.check_pair(_proxy(x), _proxy(y), range_given=data_range is not None)
    return psnr_from_mse(mse(x, y), dr.resolve(px, py, data_range))


__all__ = ["ssim", "ms_ssim", "ssim_map", "psnr", "mse"]
