"""NRRD (``.nrrd``, or an ``.nhdr`` header with detached data), the ``fastssim[medical]`` extra.

pynrrd parses the header; the data are read here, because pynrrd reads a compressed payload
whole and inflates all of it (an NRRD whose ``data file`` is a gzip bomb, or ``/dev/zero``, grew
to gigabytes), and opens whatever file the header names. Here the data file must be a regular
file (inside ``--root`` when a run has one), and no more bytes are read or inflated than the
declared sizes need: a payload that inflates past them is refused as it inflates.
"""

import bz2
import os
import zlib

import numpy as np

from .base import ReadError, check_inside, check_pixels, check_referenced, name

#: Bytes read from a compressed payload at a time.
READ_BYTES = 1 << 20

_COMPRESSED = {"gzip": lambda: zlib.decompressobj(zlib.MAX_WBITS | 16), "gz": None,
               "bzip2": bz2.BZ2Decompressor, "bz2": None}
_COMPRESSED["gz"], _COMPRESSED["bz2"] = _COMPRESSED["gzip"], _COMPRESSED["bzip2"]
_TEXT = ("ascii", "text", "txt")


def _dtype(nrrd, header, path):
    try:
        return nrrd.reader._determine_datatype(header)  # the NRRD type names and 'endian', as pynrrd reads them
    except Exception as e:  # noqa: BLE001 - a missing or unknown 'type' or 'endian'
        raise ReadError(f"cannot read the NRRD header of {name(path)}: {e}") from None


def _data_file(header, path, max_pixels, root):
    """The detached data file the header names (checked), or None when the data follow it."""
    data = header.get("datafile", header.get("data file"))
    if data is None:
        return None
    data = str(data).strip()
    if data == "LIST" or len(data.split()) > 1:
        raise ReadError(f"{name(path)} spreads its data over several files ('data file: {data}'); fastssim reads "
                        "NRRD data from one file: join them (e.g. with unu) first")
    full = data if os.path.isabs(data) else os.path.join(os.path.dirname(path), data)
    check_referenced(full, path, max_pixels, root)
    return full


def _inflate(fh, encoding, skip, want, path):
    """``want`` bytes after the first ``skip`` (-1: the last ``want``) of the payload inflated from
    ``fh``, never holding much more than ``skip + want`` bytes."""
    decoder = _COMPRESSED[encoding]()
    limit = want + max(skip, 0)
    out, pending = bytearray(), b""
    while not decoder.eof:
        if not pending and getattr(decoder, "needs_input", True):  # bz2 may still hold output
            pending = fh.read(READ_BYTES)
            if not pending:
                break
        room = limit + 1 - len(out) if skip >= 0 else 4 * READ_BYTES
        try:
            out += decoder.decompress(pending, room)
        except (OSError, EOFError, zlib.error) as e:
            raise ReadError(f"{name(path)}: its {encoding} data cannot be inflated ({e})") from None
        pending = getattr(decoder, "unconsumed_tail", b"")
        if skip == -1:  # only the tail is wanted
            del out[:max(len(out) - want, 0)]
        elif len(out) > limit:
            raise ReadError(f"{name(path)}: its {encoding} data inflate to more than the {limit} bytes its header "
                            "declares (sizes x type); the file is damaged or not what its header says")
    if not decoder.eof:
        raise ReadError(f"{name(path)}: its {encoding} data end early (truncated file)")
    return bytes(out[skip:] if skip >= 0 else out)


def _payload(fh, header, encoding, nbytes, path, data_path):
    skip = int(header.get("byteskip", header.get("byte skip", 0)))
    lines = int(header.get("lineskip", header.get("line skip", 0)))
    if skip < -1 or lines < 0:
        raise ReadError(f"{name(path)}: invalid byte skip {skip} or line skip {lines}")
    for _ in range(lines):
        fh.readline(READ_BYTES)
    if encoding in _COMPRESSED:
        return _inflate(fh, encoding, skip, nbytes, data_path)
    if encoding in _TEXT:
        return fh.read()
    if encoding != "raw":
        raise ReadError(f"{name(path)}: NRRD encoding {header.get('encoding')!r} is not read (raw, gzip, bzip2, "
                        "ascii are)")
    if skip == -1:
        fh.seek(-nbytes, os.SEEK_END)
    else:
        fh.seek(skip, os.SEEK_CUR)
    return fh.read(nbytes)


def read_nrrd(path, max_pixels, root=None, module=None):
    """An NRRD file: the array in the file's axis order (pynrrd's default), spacing from
    'spacings' or the lengths of 'space directions'."""
    nrrd = module
    check_inside(path, root)
    with open(path, "rb") as fh:
        try:
            header = nrrd.read_header(fh)
        except Exception as e:  # noqa: BLE001 - pynrrd's NRRDError and friends
            raise ReadError(f"cannot read the NRRD header of {name(path)}: {e}") from None
        sizes = tuple(int(s) for s in header.get("sizes", ()))
        if not sizes or any(s < 1 for s in sizes) or int(header.get("dimension", len(sizes))) != len(sizes):
            raise ReadError(f"{name(path)}: its header declares sizes {sizes} for dimension "
                            f"{header.get('dimension')}; the file is damaged")
        check_pixels(sizes, max_pixels, path)
        dtype = _dtype(nrrd, header, path)
        n = int(np.prod(sizes, dtype=np.int64))
        encoding = str(header.get("encoding", "")).lower()
        data_path = _data_file(header, path, max_pixels, root)
        if data_path is None:
            raw = _payload(fh, header, encoding, n * dtype.itemsize, path, path)
        else:
            with open(data_path, "rb") as dfh:
                raw = _payload(dfh, header, encoding, n * dtype.itemsize, path, data_path)
    if encoding in _TEXT:
        try:
            data = np.array(raw.split()[:n + 1], dtype=np.float64).astype(dtype)
        except ValueError as e:
            raise ReadError(f"{name(path)}: its ascii data are not numbers ({e})") from None
    else:
        data = np.frombuffer(raw, dtype)
    if data.size != n:
        raise ReadError(f"{name(path)} holds {data.size} values where its header declares {n} "
                        f"({' x '.join(map(str, sizes))}); the file is truncated or damaged")
    data = data.reshape(sizes[::-1]).T  # pynrrd's default index order: the file's axes (x, y, z)
    return data, header
