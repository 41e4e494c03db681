"""Row loading for the CPU SSIM kernel: a row segment of both images converted to the work dtype,
shifted, with the products the filters need; symmetric reflection for the 'same' map; float16
decoded exactly from its bit patterns (Numba's CPU target has no float16 type), so that no input
is converted whole before the kernel runs.

The images reach the kernel as numbers, not as typed arrays: ``(address, stride of N, C, D, H
in bytes, step along W in samples, dtype code)`` (`describe`). The kernel is then compiled once
for every input dtype and memory layout (one specialization per work dtype and option set, not
one per dtype, contiguity and writeability of each input), and only the row reader below
branches on the dtype, once per row; each of its branches views the row as an array of its
dtype, so the conversion loops vectorise as they did on typed arrays.
"""

import threading

import llvmlite.ir as llvmir
import numba
import numpy as np
from numba import carray, cfunc, njit, types
from numba.extending import intrinsic

from ... import config as cfg
from .passes import at

#: 2^112: scales a float16's exponent and mantissa, placed in a float32's fields, to its value
#: (the bias differs by 127 - 15); exact for normal and subnormal values alike.
_HALF_SCALE = 2.0 ** 112

#: The input dtypes the row readers read (float16 from its bit patterns).
ROW_DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64,
                                         np.float16))


@intrinsic
def _typed_pointer(typingctx, address, dtype):
    """A pointer to samples of ``dtype`` (a NumPy scalar type, or an array's ``dtype``) at byte
    ``address``."""
    if isinstance(dtype, types.NumberClass):
        pointer = types.CPointer(dtype.instance_type)
    elif isinstance(dtype, types.DType):
        pointer = types.CPointer(dtype.dtype)
    else:
        return None

    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], context.get_value_type(pointer))
    return pointer(address, dtype), codegen


@intrinsic
def _call_reader(typingctx, reader, address, step, count, out):
    """Call the row reader at address ``reader`` (a C function ``void(int64 address, int64 step,
    int64 count, work *out)``, see `reader_address`); ``out``: the byte address it writes to."""
    def codegen(context, builder, signature, args):
        i64 = llvmir.IntType(64)
        byte_pointer = llvmir.IntType(8).as_pointer()
        fnty = llvmir.FunctionType(llvmir.VoidType(), [i64, i64, i64, byte_pointer])
        fn = builder.inttoptr(args[0], fnty.as_pointer())
        builder.call(fn, [args[1], args[2], args[3], builder.inttoptr(args[4], byte_pointer)])
        return context.get_dummy_value()
    return types.void(types.int64, types.int64, types.int64, types.int64, types.int64), codegen


@intrinsic
def _float32_of_bits(typingctx, bits):
    """The float32 whose bit pattern is the uint32 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvmir.FloatType())
    return types.float32(types.uint32), codegen


@njit(**cfg.JIT)
def sym(i, n, mirror):
    """Index ``i`` (``-n <= i < 2n``) of an axis of length ``n`` extended by symmetric reflection
    (``mirror`` 0: the edge sample repeated, scipy's 'reflect', NumPy's 'symmetric'; 1: not
    repeated, PyTorch's and NumPy's 'reflect', for ``-n < i < 2n - 1``)."""
    if i < 0:
        return -i - 1 + mirror
    if i >= n:
        return 2 * n - 1 - i - mirror
    return i


@njit(inline="always", **cfg.JIT)
def _half_bits(v):
    """The float32 bit pattern of float16 bit pattern ``v`` (uint16), before scaling by 2^112."""
    h = np.uint32(v)
    sign_magnitude = ((h & np.uint32(0x8000)) << np.uint32(16)) | ((h & np.uint32(0x7FFF)) << np.uint32(13))
    # inf and NaN keep an all-ones exponent (no branch: the row loop vectorises)
    special = np.uint32(0x7F800000) * np.uint32((h & np.uint32(0x7C00)) == np.uint32(0x7C00))
    return sign_magnitude | special


@njit(inline="always", **cfg.JIT)
def _convert(a, step, count, out):
    """``out[j] = a[j * step]`` for ``j < count``, converted to ``out``'s dtype; a unit step
    by its own loop, which loads vectors."""
    if step == 1:
        for j in range(count):
            out[j] = a[j]
    else:
        for j in range(count):
            out[j] = a[np.uintp(j * step)]  # unsigned: Numba wraps negative indices


def _reader(dtype):
    """The row reader of integer or float ``dtype`` (a NumPy scalar type), compiled as a C function
    by `reader_address` the first time its dtype is scored, for the work dtype of ``out``:
    ``count`` samples ``step`` apart from byte ``address`` into ``out[:count]``. One function per
    dtype from this one definition: Numba's disk cache keys a function by its code and the
    values it closes over (``dtype``), so the readers' cache entries stay apart."""
    def read(address, step, count, out):
        _convert(carray(_typed_pointer(address, dtype), (count - 1) * step + 1), step, count, carray(out, count))
    return read


def _read_float16(address, step, count, out):
    """float16 bit patterns: each widened to a float32 pattern and scaled, exactly."""
    a = carray(_typed_pointer(address, np.uint16), (count - 1) * step + 1)
    o = carray(out, count)
    scale = np.float32(_HALF_SCALE)
    for j in range(count):
        o[j] = _float32_of_bits(_half_bits(a[np.uintp(j * step)])) * scale


_READERS = {np.dtype(t): _reader(t) for t in (np.uint8, np.uint16, np.int16, np.int32, np.float32, np.float64)}
_READERS[np.dtype(np.float16)] = _read_float16
_COMPILED: dict = {}  # (dtype, work dtype) -> the compiled reader (kept alive: its address is used)
_COMPILED_LOCK = threading.Lock()


def reader_address(dtype, work_dtype):
    """The address of the C function that reads rows of ``dtype`` into ``work_dtype``, compiled
    (or loaded from the disk cache) on first use: a new input dtype costs this small function,
    not another specialization of the kernel."""
    key = (dtype, work_dtype)
    function = _COMPILED.get(key)
    if function is None:
        with _COMPILED_LOCK:
            function = _COMPILED.get(key)
            if function is None:
                sig = types.void(types.int64, types.int64, types.int64, types.CPointer(numba.from_dtype(work_dtype)))
                options = {k: v for k, v in cfg.JIT.items() if k != "nogil"}
                function = _COMPILED[key] = cfunc(sig, **options)(_READERS[np.dtype(dtype)])
    return function.address


#: Numbers per image in the kernels' descriptions (`describe`).
IMAGE_FIELDS = 9


def descriptions(count):
    """An empty int64 array for the descriptions of ``count`` images (`describe`), one row each;
    the kernels take them as one array, which Numba's dispatcher reads at once."""
    return np.empty((count, IMAGE_FIELDS), np.int64)


def describe(a, work_dtype, row):
    """Write the kernel's description of the 5-D host array ``a`` to ``row`` (`descriptions`): its
    address, the strides of its first four axes in bytes, the step of its last axis in samples,
    the sample size, the address of its row reader into ``work_dtype``, and 1 when its rows can
    be read in place as ``work_dtype`` (that dtype, a unit step; `row_view`), else 0. Returns
    ``a``, or a C-contiguous copy (described instead) where the readers cannot take ``a`` as it
    lies: a negative or fractional step along W, data or strides not aligned to the sample size
    (rare views). The array returned must stay alive while the kernel runs (the caller holds
    it)."""
    size = a.itemsize
    s0, s1, s2, s3, s4 = a.strides
    address = a.__array_interface__["data"][0]
    if s4 < 0 or (s0 % size) or (s1 % size) or (s2 % size) or (s3 % size) or (s4 % size) or (address % size):
        a = np.ascontiguousarray(a)
        s0, s1, s2, s3, s4 = a.strides
        address = a.__array_interface__["data"][0]
    row[:] = (address, s0, s1, s2, s3, s4 // size, size, reader_address(a.dtype, work_dtype),
              a.dtype == work_dtype and s4 == size)
    return a


@njit(inline="always", **cfg.JIT)
def _row_address(image, n, c, d, h):
    return image[0] + n * image[1] + c * image[2] + d * image[3] + h * image[4]


@njit(**cfg.JIT)
def row_view(image, n, c, d, h, count, like):
    """Row ``(n, c, d, h)`` of ``image`` as an array of ``count`` samples of ``like``'s dtype, in
    place: only where `describe` marked the image so (``image[8]``)."""
    return carray(_typed_pointer(_row_address(image, n, c, d, h), like.dtype), count)


@njit(inline="always", **cfg.JIT)
def row_at(image, n, c, d, h, first, count, like):
    """`row_view`'s samples ``first .. first + count - 1``, inlined (a C-contiguous array of ``like``'s
    type, as a row buffer is, so that the caller's code after it is typed once)."""
    return carray(_typed_pointer(_row_address(image, n, c, d, h) + first * image[6], like.dtype), count)


@njit(**cfg.JIT)
def read_row(image, n, c, d, h, first, count, out, o):
    """Samples ``first .. first + count - 1`` of row ``(n, c, d, h)`` of ``image`` (`describe`)
    into ``out[o:o + count]``, converted to its dtype by the image's row reader."""
    step = image[5]
    address = _row_address(image, n, c, d, h) + first * step * image[6]
    if count > 0:
        _call_reader(image[7], address, step, count, out.ctypes.data + o * out.itemsize)


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
    """Row segment of both images (`describe`), shifted, with ``x^2 + y^2`` and ``(x - y)^2``."""
    read_row(x, n, c, d, h, w0, lin, xr, 0)
    read_row(y, n, c, d, h, w0, lin, yr, 0)
    _shift_products(xr, yr, lin, shx, shy, ss, dd)


@njit(**cfg.JIT)
def _read_padded(image, W, n, c, d, h, lo, lin, j0, j1, mirror, out):
    """Columns ``lo .. lo + lin - 1`` of a row of ``W`` extended by symmetric reflection: those
    inside the image (output ``j0 .. j1 - 1``) read as one segment, the at most ``pad`` beyond
    each edge copied from it through the reflected index when the segment holds every reflected
    column (always for a reflection no wider than the window's radius), else read one by one.
    (Reading every edge sample alone through the reader, or a loop that may call the reader per
    sample, cost 11-17% of a 'same' SSIM at 256^2.)"""
    read_row(image, n, c, d, h, lo + j0, j1 - j0, out, j0)
    # the farthest reflected columns: of output 0 on the left, of output lin - 1 on the right
    inside = (j0 == 0 or sym(lo, W, mirror) - lo < j1) and (j1 == lin or sym(lo + lin - 1, W, mirror) - lo >= j0)
    if inside:
        for j in range(j0):
            out[j] = out[sym(lo + j, W, mirror) - lo]
        for j in range(j1, lin):
            out[j] = out[sym(lo + j, W, mirror) - lo]
        return
    for j in range(j0):
        read_row(image, n, c, d, h, sym(lo + j, W, mirror), 1, out, j)
    for j in range(j1, lin):
        read_row(image, n, c, d, h, sym(lo + j, W, mirror), 1, out, j)


@njit(inline="always", **cfg.JIT)
def _load_row_padded(x, y, W, n, c, d, h, w0, lin, pad, mirror, shx, shy, xr, yr, ss, dd):
    """`_load_row` of the images extended sideways by ``pad`` columns of symmetric reflection
    (``w0`` counts from the extended row's start; ``W``: the images' width)."""
    lo = w0 - pad  # the image column of output column 0 (negative on the left edge)
    j0 = min(max(0, -lo), lin)
    j1 = max(min(lin, W - lo), j0)
    _read_padded(x, W, n, c, d, h, lo, lin, j0, j1, mirror, xr)
    _read_padded(y, W, n, c, d, h, lo, lin, j0, j1, mirror, yr)
    _shift_products(xr, yr, lin, shx, shy, ss, dd)


@njit(inline="always", **cfg.JIT)
def load_row(x, y, shape, n, c, d, h, w0, lin, pad, pd, mirror, shx, shy, xr, yr, ss, dd):
    """Row ``h`` of plane ``d``, columns ``w0 .. w0 + lin - 1`` of the images (`describe`; both of
    ``shape``, N, C, D, H, W) extended by ``pad`` samples of symmetric reflection on each side
    (``pd`` along D: ``pad`` for volumes, 0 for images; every index in extended coordinates;
    ``mirror``: the edge sample not repeated, see `sym`),
    converted to the work dtype of ``xr``, shifted by ``shx``/``shy``, with the sum of the
    squares and the squared difference."""
    if pad == 0:
        _load_row(x, y, n, c, d, h, w0, lin, shx, shy, xr, yr, ss, dd)
    else:
        _load_row_padded(x, y, shape[4], n, c, sym(d - pd, shape[2], mirror), sym(h - pad, shape[3], mirror), w0,
                         lin, pad, mirror, shx, shy, xr, yr, ss, dd)
