"""TIFF through tifffile, given the path (tifffile stops on IFD loops then; with a file object,
as imageio passes it, a self-referencing IFD made it loop forever). Multi-page stacks of one
page shape are volumes; the declared shape is checked before any strip is decoded."""

import os
import struct

import numpy as np

from .base import ReadError, as_intensity, check_dtype, check_pixels, name

#: tifffile's photometric code for palette images.
_PALETTE = 3


def _palette_rgb(index, colormap):
    """Palette indices to RGB through the colour map (16-bit in TIFF), as uint8 when the map
    holds 8-bit colours (scaled by 256 or 257 or not at all), else uint16."""
    cmap = np.asarray(colormap)
    if cmap.ndim != 2 or cmap.shape[0] != 3:
        raise ValueError(f"colour map of shape {cmap.shape}")
    if index.max(initial=0) >= cmap.shape[1]:
        raise ValueError(f"palette index {int(index.max())} beyond the {cmap.shape[1]} colours of the map")
    for scale in (1, 257, 256):
        if not (cmap % scale).any() and cmap.max() // scale <= 255:
            cmap = (cmap // scale).astype(np.uint8)
            break
    return np.moveaxis(cmap[:, index], 0, -1)


#: Most pages (IFDs) a TIFF may chain before it is refused.
MAX_PAGES = 1 << 16


def check_ifd_chain(path, max_pages=MAX_PAGES):
    """Walk the chain of IFDs (pages) by their offsets before tifffile does: a loop, an offset
    outside the file or an absurd tag count is refused. (Damaged chains made tifffile walk
    without end, the memory growing.)"""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(16)
        if len(head) < 8 or head[:2] not in (b"II", b"MM"):
            raise ReadError(f"{name(path)} is not a TIFF file (no II/MM byte-order mark)")
        bo = "<" if head[:2] == b"II" else ">"
        magic = struct.unpack(bo + "H", head[2:4])[0]
        if magic == 42:
            offset, count_fmt, entry, next_fmt = struct.unpack(bo + "I", head[4:8])[0], "H", 12, "I"
        elif magic == 43 and len(head) >= 16:
            offset, count_fmt, entry, next_fmt = struct.unpack(bo + "Q", head[8:16])[0], "Q", 20, "Q"
        else:
            raise ReadError(f"{name(path)} is not a TIFF file (version {magic})")
        seen = set()
        csize, nsize = struct.calcsize(count_fmt), struct.calcsize(next_fmt)
        while offset:
            if offset in seen:
                raise ReadError(f"damaged TIFF {name(path)}: its chain of pages loops back to byte {offset}")
            if len(seen) >= max_pages:
                raise ReadError(f"{name(path)} chains more than {max_pages} pages")
            seen.add(offset)
            if offset + csize > size:
                raise ReadError(f"damaged TIFF {name(path)}: page {len(seen)} starts at byte {offset}, "
                                f"past the end ({size} bytes)")
            f.seek(offset)
            count = struct.unpack(bo + count_fmt, f.read(csize))[0]
            end = offset + csize + count * entry
            if count == 0 or end + nsize > size:
                raise ReadError(f"damaged TIFF {name(path)}: page {len(seen)} at byte {offset} declares "
                                f"{count} tags")
            f.seek(end)
            offset = struct.unpack(bo + next_fmt, f.read(nsize))[0]


def read_tiff(path, max_pixels):
    import tifffile

    check_ifd_chain(path)
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.series:
                raise ReadError(f"{name(path)} holds no image")
            series = tif.series[0]
            check_pixels(series.shape, max_pixels, path)
            check_dtype(series.dtype, path)
            page = series.pages[0] if series.pages else None
            arr = series.asarray()
            axes = series.axes
            if page is not None and page.photometric == _PALETTE and page.colormap is not None:
                arr = _palette_rgb(arr, page.colormap)
                axes += "S"
    except ReadError:
        raise
    except Exception as e:  # tifffile raises many types for damaged files
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReadError(f"cannot decode {name(path)}: {why}") from None
    if "S" in axes and axes.index("S") != len(axes) - 1 and arr.ndim == len(axes):  # planar RGB
        arr = np.moveaxis(arr, axes.index("S"), -1)
    return as_intensity(np.asarray(arr))
