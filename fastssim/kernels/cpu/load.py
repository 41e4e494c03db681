"""Row loading for the CPU SSIM kernel: a row segment of both images converted to the work dtype,
shifted, with the products the filters need; symmetric reflection for the 'same' map; float16
decoded exactly from its bit patterns (Numba's CPU target has no float16 type), so that no input
is converted whole before the kernel runs.
"""

import numpy as np
from numba import njit, types
from numba.extending import overload

from ... import config as cfg
from .passes import at

#: 2^112: scales a float16's exponent and mantissa, placed in a float32's fields, to its value
#: (the bias differs by 127 - 15); exact for normal and subnormal values alike.
_HALF_SCALE = 2.0 ** 112


@njit(**cfg.JIT)
def sym(i, n):
    """Index ``i`` (``-n <= i < 2n``) of an axis of length ``n`` extended by symmetric reflection
    (the edge sample repeated: scipy's 'reflect', NumPy's 'symmetric')."""
    if i < 0:
        return -i - 1
    if i >= n:
        return 2 * n - 1 - i
    return i


def _half_bits(v):
    """The float32 bit pattern of float16 bit pattern ``v``, before scaling by 2^112."""


@overload(_half_bits)
def _half_bits_impl(v):
    if isinstance(v, types.Integer):
        def impl(v):
            h = np.uint32(v)
            sign_magnitude = ((h & np.uint32(0x8000)) << np.uint32(16)) | ((h & np.uint32(0x7FFF)) << np.uint32(13))
            # inf and NaN keep an all-ones exponent (no branch: the row loop vectorises)
            special = np.uint32(0x7F800000) * np.uint32((h & np.uint32(0x7C00)) == np.uint32(0x7C00))
            return sign_magnitude | special
        return impl

    def never(v):  # compiled for the other input dtypes, never run for them
        return np.uint32(0)
    return never


@njit(**cfg.JIT)
def _shift_products(xr, yr, lin, shx, shy, ss, dd):
    """Shift the loaded rows in place (``shx``, ``shy``: numbers, or rows for interleaved channels,
    see `_cpu_passes.at`) and form ``x^2 + y^2`` and ``(x - y)^2`` (`kernels.math.ssim_terms` needs the
    squares only as their sum)."""
    for j in range(lin):
        a = xr[j] - at(shx, j)
        b = yr[j] - at(shy, j)
        xr[j] = a
        yr[j] = b
        e = a - b
        ss[j] = a * a + b * b
        dd[j] = e * e


@njit(**cfg.JIT)
def _load_row(x, y, n, c, d, h, w0, lin, shx, shy, xr, yr, ss, dd):
    """Row segment of both images, shifted, with ``x^2 + y^2`` and ``(x - y)^2``.

    The rows are sliced first: indexing ``x[n, c, d, h, w0 + j]`` element by element made every
    load a gather (Numba wraps negative indices, and LLVM cannot prove ``w0 + j >= 0`` when ``w0``
    is computed), about 1 ns per pixel; a slice indexed by the loop counter loads vectors."""
    xs = x[n, c, d, h, w0:w0 + lin]
    ys = y[n, c, d, h, w0:w0 + lin]
    for j in range(lin):
        xr[j] = xs[j]
        yr[j] = ys[j]
    _shift_products(xr, yr, lin, shx, shy, ss, dd)


@njit(**cfg.JIT)
def _load_row_padded(x, y, n, c, d, h, w0, lin, pad, shx, shy, xr, yr, ss, dd):
    """`_load_row` of the images extended sideways by ``pad`` columns of symmetric reflection
    (``w0`` counts from the extended row's start): the columns inside the image are copied
    between slices, as `_load_row` does, and only those beyond its edges (``pad`` at most on
    each side) go through the reflected index."""
    W = x.shape[4]
    xrow = x[n, c, d, h]
    yrow = y[n, c, d, h]
    lo = w0 - pad  # the image column of output column 0 (negative on the left edge)
    j0 = min(max(0, -lo), lin)
    j1 = max(min(lin, W - lo), j0)
    for j in range(j0):
        k = sym(lo + j, W)
        xr[j] = xrow[k]
        yr[j] = yrow[k]
    xs = xrow[lo + j0:lo + j1]
    ys = yrow[lo + j0:lo + j1]
    xo = xr[j0:j1]
    yo = yr[j0:j1]
    for j in range(j1 - j0):
        xo[j] = xs[j]
        yo[j] = ys[j]
    for j in range(j1, lin):
        k = sym(lo + j, W)
        xr[j] = xrow[k]
        yr[j] = yrow[k]
    _shift_products(xr, yr, lin, shx, shy, ss, dd)


@njit(**cfg.JIT)
def _load_row_half(x, y, n, c, d, h, w0, lin, pad, shx, shy, xr, yr, ss, dd, bits):
    """`_load_row_padded` for float16 samples given as their uint16 bit patterns: each widened to
    a float32 pattern in ``bits`` (length ``2 * lin``), read back as float32 and scaled, exactly."""
    W = x.shape[4]
    xrow = x[n, c, d, h]
    yrow = y[n, c, d, h]
    lo = w0 - pad  # as in `_load_row_padded`: slices inside the image, reflection beyond
    j0 = min(max(0, -lo), lin)
    j1 = max(min(lin, W - lo), j0)
    for j in range(j0):
        k = sym(lo + j, W)
        bits[j] = _half_bits(xrow[k])
        bits[lin + j] = _half_bits(yrow[k])
    xs = xrow[lo + j0:lo + j1]
    ys = yrow[lo + j0:lo + j1]
    bx = bits[j0:j1]
    by = bits[lin + j0:lin + j1]
    for j in range(j1 - j0):
        bx[j] = _half_bits(xs[j])
        by[j] = _half_bits(ys[j])
    for j in range(j1, lin):
        k = sym(lo + j, W)
        bits[j] = _half_bits(xrow[k])
        bits[lin + j] = _half_bits(yrow[k])
    f = bits.view(np.float32)
    scale = np.float32(_HALF_SCALE)
    for j in range(lin):
        xr[j] = f[j] * scale
        yr[j] = f[lin + j] * scale
    _shift_products(xr, yr, lin, shx, shy, ss, dd)


@njit(**cfg.JIT)
def load_row(x, y, n, c, d, h, w0, lin, pad, pd, half, shx, shy, xr, yr, ss, dd, bits):
    """Row ``h`` of plane ``d``, columns ``w0 .. w0 + lin - 1`` of the images extended by ``pad``
    samples of symmetric reflection on each side (``pd`` along D: ``pad`` for volumes, 0 for
    images; every index in extended coordinates), converted to the work dtype of ``xr``, shifted
    by ``shx``/``shy``, with the sum of the squares and the squared difference; ``half``:
    float16 bit patterns, or None: the branch is then pruned when compiling (the test is on the
    argument itself, as Numba needs), and only float16 input compiles its loader."""
    if half is not None:
        _load_row_half(x, y, n, c, sym(d - pd, x.shape[2]), sym(h - pad, x.shape[3]), w0, lin, pad, shx, shy, xr,
                       yr, ss, dd, bits)
    elif pad == 0:
        _load_row(x, y, n, c, d, h, w0, lin, shx, shy, xr, yr, ss, dd)
    else:
        _load_row_padded(x, y, n, c, sym(d - pd, x.shape[2]), sym(h - pad, x.shape[3]), w0, lin, pad, shx, shy,
                         xr, yr, ss, dd)
