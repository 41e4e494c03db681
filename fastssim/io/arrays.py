"""``.npy`` and ``.npz`` files: the header is read and checked before any data is read or
decompressed, so a small compressed file cannot expand past the pixel cap."""

import zipfile

import numpy as np
from numpy.lib import format as npformat

from .base import ReadError, check_dtype, check_pixels, name


def _header(f, path):
    """``(shape, fortran_order, dtype)`` from an open ``.npy`` stream."""
    version = npformat.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = npformat.read_array_header_1_0(f)
    elif version in ((2, 0), (3, 0)):
        shape, fortran, dtype = npformat.read_array_header_2_0(f)
    else:
        raise ReadError(f"{name(path)} has .npy format version {version}, which is not supported")
    if dtype.hasobject:
        raise ReadError(f"{name(path)} holds Python objects; fastssim reads numeric arrays only")
    check_dtype(dtype, path)
    if dtype.kind == "b":
        raise ReadError(f"{name(path)} holds a bool array, which has no intensity scale; save it as uint8")
    return shape, fortran, dtype


def _body(f, shape, fortran, dtype, path):
    count = int(np.prod(shape, dtype=object)) if shape else 1
    data = f.read(count * dtype.itemsize)
    if len(data) != count * dtype.itemsize:
        raise ReadError(f"{name(path)} is truncated: its header declares {'x'.join(map(str, shape))} "
                        f"{dtype}, the file holds {len(data)} of {count * dtype.itemsize} data bytes")
    arr = np.frombuffer(data, dtype=dtype, count=count)
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


def read_array(path, max_pixels):
    """The one array in a ``.npy`` or ``.npz`` file."""
    if path.lower().endswith(".npz"):
        with zipfile.ZipFile(path) as z:
            members = [m for m in z.infolist() if m.filename.endswith(".npy")]
            if len(z.infolist()) != 1 or len(members) != 1:
                names = [m.filename for m in z.infolist()][:5]
                raise ReadError(f"{name(path)} holds {len(z.infolist())} entries {names}; "
                                "store exactly one array per .npz")
            with z.open(members[0]) as f:
                shape, fortran, dtype = _header(f, path)
                check_pixels(shape, max_pixels, path)
                return _body(f, shape, fortran, dtype, path)
    with open(path, "rb") as f:
        shape, fortran, dtype = _header(f, path)
        check_pixels(shape, max_pixels, path)
        return _body(f, shape, fortran, dtype, path)
