"""Undoing PNG's scanline filters (None, Sub, Up, Average, Paeth: PNG specification, section 9),
compiled by Numba, without the GIL, so that PNG decoding scales across threads.

The inflating is zlib's (done once, while the image data is checked); this is the rest of
decoding a non-interlaced 8- or 16-bit PNG.
"""

import numba
import numpy as np

from ..config import JIT


@numba.njit(**JIT)
def unfilter(raw, height, stride, bpp, out):
    """Write the unfiltered scanlines of ``raw`` into ``out`` (uint8, ``height * stride``).

    Parameters
    ----------
    raw : uint8 array
        ``height`` rows of one filter-type byte followed by ``stride`` filtered bytes.
    bpp : int
        Bytes per complete pixel (at least 1): the distance to the "left" byte.

    Returns
    -------
    int
        -1, or the first row whose filter type is not 0-4.
    """
    for r in range(height):
        src = r * (stride + 1)
        f = raw[src]
        src += 1
        dst = r * stride
        up = dst - stride
        if f == 0:
            for i in range(stride):
                out[dst + i] = raw[src + i]
        elif f == 1:
            for i in range(stride):
                left = out[dst + i - bpp] if i >= bpp else 0
                out[dst + i] = (raw[src + i] + left) & 0xFF
        elif f == 2:
            for i in range(stride):
                above = out[up + i] if r > 0 else 0
                out[dst + i] = (raw[src + i] + above) & 0xFF
        elif f == 3:
            for i in range(stride):
                left = np.int32(out[dst + i - bpp]) if i >= bpp else np.int32(0)
                above = np.int32(out[up + i]) if r > 0 else np.int32(0)
                out[dst + i] = (raw[src + i] + ((left + above) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = np.int32(out[dst + i - bpp]) if i >= bpp else np.int32(0)
                b = np.int32(out[up + i]) if r > 0 else np.int32(0)
                c = np.int32(out[up + i - bpp]) if (r > 0 and i >= bpp) else np.int32(0)
                p = a + b - c
                pa = abs(p - a)
                pb = abs(p - b)
                pc = abs(p - c)
                if pa <= pb and pa <= pc:
                    pred = a
                elif pb <= pc:
                    pred = b
                else:
                    pred = c
                out[dst + i] = (raw[src + i] + pred) & 0xFF
        else:
            return r
    return -1


def unfilter_call():
    """``(unfilter, arguments)``: the one specialisation the built-in decoder uses (its arguments'
    types, for compiling it ahead: `fastssim.kernels.ahead`, ``fastssim compile``)."""
    rows = np.empty(0, np.uint8)
    return unfilter, (rows, 0, 0, 0, rows)

