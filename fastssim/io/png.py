"""PNG: the chunk structure is checked before any pixel is decoded, then fastssim's own decoder
(non-interlaced 8/16-bit: zlib, then the scanline filters undone by a compiled kernel without
the GIL), libspng (pyspng) or Pillow decodes, each only what it reads exactly.

The check (signature, IHDR, every chunk's CRC, PLTE for palette images, IDAT, IEND) makes the
outcome of a damaged file the same whichever decoder is chosen, and it reads the declared size
before the file is read, so a file cannot claim more pixels, or hold more bytes, than the cap
allows.

What each decoder returns, checked against an independent decoder in the tests:

- grey of 1, 2 or 4 bits: uint8 scaled to 0-255 (as libspng, Pillow and OpenCV expand them);
- grey, grey+alpha, RGB, RGBA of 8 or 16 bits: their own depth and channels (a tRNS colour
  key is not an alpha channel and is ignored);
- palette: expanded to RGB, or RGBA when the palette has transparency (tRNS).

Pillow reads 16-bit RGB, RGBA and grey+alpha as 8 bits, so those go to the built-in decoder
or libspng whichever decoder is chosen; interlaced ones without pyspng are refused, never
read wrong. The built-in decoder reuses the scanlines the image-data check inflates, so a PNG
is inflated once. libspng (as pyspng
calls it) applies no palette transparency, so palette images with tRNS go to Pillow.
"""

import struct
import zlib

import numpy as np

from .base import ReadError, check_pixels, name

try:  # optional: libspng decodes PNG about twice as fast as Pillow, and 16-bit colour exactly
    import pyspng
    from pyspng import _pyspng_c as _spng
except ImportError:
    pyspng = _spng = None

SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: Adam7 passes: (first column, first row, column step, row step).
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))

#: colour type -> (name, channels in the file, bit depths allowed)
COLOUR_TYPES = {0: ("grey", 1, (1, 2, 4, 8, 16)), 2: ("RGB", 3, (8, 16)), 3: ("palette", 1, (1, 2, 4, 8)),
                4: ("grey+alpha", 2, (8, 16)), 6: ("RGBA", 4, (8, 16))}


class Header:
    """What the IHDR and the chunk walk declare about a PNG."""

    def __init__(self, width, height, depth, colour_type, interlace, has_trns):
        self.width, self.height, self.depth, self.colour_type = width, height, depth, colour_type
        self.interlace, self.has_trns = interlace, has_trns

    @property
    def channels(self):
        """Channels of the decoded array (palette expanded)."""
        if self.colour_type == 3:
            return 4 if self.has_trns else 3
        return COLOUR_TYPES[self.colour_type][1]

    @property
    def shape(self):
        return (self.height, self.width) + ((self.channels,) if self.channels > 1 else ())

    @property
    def raw_bytes(self):
        """Bytes of the filtered scanlines: what the IDAT stream must inflate to, exactly."""
        pixel_bits = COLOUR_TYPES[self.colour_type][1] * self.depth
        passes = _ADAM7 if self.interlace else ((0, 0, 1, 1),)
        total = 0
        for x0, y0, dx, dy in passes:
            w = -(-(self.width - x0) // dx) if self.width > x0 else 0
            h = -(-(self.height - y0) // dy) if self.height > y0 else 0
            if w and h:
                total += h * (1 + (w * pixel_bits + 7) // 8)
        return total


def read_header(head, path):
    """Signature and IHDR from the first 33 bytes of a file."""
    if len(head) < 33 or head[:8] != SIGNATURE:
        raise ReadError(f"{name(path)} is not a PNG file (no PNG signature)")
    length, ctype = struct.unpack(">I4s", head[8:16])
    if ctype != b"IHDR" or length != 13:
        raise ReadError(f"corrupt PNG {name(path)}: the first chunk is not a 13-byte IHDR")
    if zlib.crc32(head[12:29]) != struct.unpack(">I", head[29:33])[0]:
        raise ReadError(f"corrupt PNG {name(path)}: CRC mismatch in IHDR")
    width, height, depth, ctype_, comp, filt, interlace = struct.unpack(">IIBBBBB", head[16:29])
    if not (0 < width < 2 ** 31 and 0 < height < 2 ** 31):
        raise ReadError(f"corrupt PNG {name(path)}: size {width}x{height}")
    if ctype_ not in COLOUR_TYPES or depth not in COLOUR_TYPES[ctype_][2]:
        raise ReadError(f"corrupt PNG {name(path)}: colour type {ctype_} with bit depth {depth}")
    if comp != 0 or filt != 0 or interlace not in (0, 1):
        raise ReadError(f"corrupt PNG {name(path)}: compression {comp}, filter {filt}, interlace {interlace}")
    return Header(width, height, depth, ctype_, interlace, False)


def check_chunks(data, header, path):
    """Walk every chunk: CRCs, order, PLTE for palette images, IDAT present, IEND last.

    Returns the ``(start, length)`` of each IDAT chunk's data."""
    pos, seen_idat, idat_done, has_plte = 8, False, False, False
    idat = []
    n = len(data)
    while True:
        if pos + 8 > n:
            raise ReadError(f"truncated PNG {name(path)}: it ends before IEND (at byte {pos} of {n})")
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 12 + length
        if length > 2 ** 31 - 1 or end > n:
            raise ReadError(f"truncated PNG {name(path)}: chunk {ctype!r} at byte {pos} runs past the end")
        if zlib.crc32(data[pos + 4:pos + 8 + length]) != struct.unpack(">I", data[end - 4:end])[0]:
            raise ReadError(f"corrupt PNG {name(path)}: CRC mismatch in chunk {ctype!r} at byte {pos}")
        if not all(65 <= c <= 90 or 97 <= c <= 122 for c in ctype):
            raise ReadError(f"corrupt PNG {name(path)}: invalid chunk type {ctype!r} at byte {pos}")
        if ctype == b"IHDR" and pos != 8:
            raise ReadError(f"corrupt PNG {name(path)}: a second IHDR at byte {pos}")
        if ctype == b"PLTE":
            has_plte = True
        elif ctype == b"tRNS":
            header.has_trns = True
        elif ctype == b"IDAT":
            if idat_done:
                raise ReadError(f"corrupt PNG {name(path)}: IDAT chunks are not consecutive")
            seen_idat = True
            idat.append((pos + 8, length))
        elif ctype == b"IEND":
            break
        elif ctype[0] & 0x20 == 0 and ctype != b"IHDR":  # an unknown critical chunk
            raise ReadError(f"PNG {name(path)} has critical chunk {ctype!r}, which no decoder here knows")
        if seen_idat and ctype != b"IDAT":
            idat_done = True
        pos = end
    if not seen_idat:
        raise ReadError(f"corrupt PNG {name(path)}: no image data (IDAT)")
    if header.colour_type == 3 and not has_plte:
        raise ReadError(f"corrupt PNG {name(path)}: a palette image without a palette (PLTE)")
    return idat


def check_image_data(data, idat, header, path, keep=False):
    """The IDAT stream must inflate, with a valid checksum, to exactly the scanlines the header
    declares, with nothing after it. (libspng skips the checksum and Pillow accepts a short
    stream: without this check a damaged file's fate would depend on the decoder.) Inflated in
    slices of 1 MiB; with ``keep``, the inflated scanlines are returned (uint8), else none kept."""
    z = zlib.decompressobj()
    want, got, trailing = header.raw_bytes, 0, 0
    raw = np.empty(want, np.uint8) if keep else None
    try:
        for start, length in idat:
            chunk = data[start:start + length]
            if z.eof:
                trailing += length
                continue
            while chunk and got <= want and not z.eof:
                piece = z.decompress(chunk, 1 << 20)
                if keep and got + len(piece) <= want:
                    raw[got:got + len(piece)] = np.frombuffer(piece, np.uint8)
                got += len(piece)
                chunk = z.unconsumed_tail
            trailing += len(z.unused_data) if z.eof else 0
            if got > want:
                break
    except zlib.error as e:
        raise ReadError(f"corrupt PNG {name(path)}: its compressed image data is damaged ({e})") from None
    if got > want:
        raise ReadError(f"corrupt PNG {name(path)}: its image data inflates to more than the {want} bytes "
                        f"a {header.width}x{header.height} image needs")
    if not z.eof or got != want:
        raise ReadError(f"corrupt PNG {name(path)}: its image data ends early ({got} of {want} bytes)")
    if trailing:
        raise ReadError(f"corrupt PNG {name(path)}: {trailing} bytes after the end of its compressed image data")
    return raw


def builtin_reads(header):
    """fastssim's own decoder (zlib, then ``png_filters.unfilter``) reads non-interlaced 8- and
    16-bit grey, grey+alpha, RGB and RGBA (a tRNS colour key is ignored, as by the others)."""
    return not header.interlace and header.depth in (8, 16) and header.colour_type in (0, 2, 4, 6)


def _builtin_decode(raw, header, path):
    from .png_filters import unfilter

    channels = COLOUR_TYPES[header.colour_type][1]
    bpp = channels * header.depth // 8
    stride = header.width * bpp
    out = np.empty(header.height * stride, np.uint8)
    bad = unfilter(raw, header.height, stride, bpp, out)
    if bad >= 0:
        raise ReadError(f"corrupt PNG {name(path)}: row {bad} has filter type {raw[bad * (stride + 1)]} "
                        "(PNG defines 0-4)")
    arr = out.view(">u2").astype(np.uint16) if header.depth == 16 else out
    return arr.reshape(header.shape)


DECODERS = ("builtin", "libspng", "pillow")


def _can(decoder, header):
    if decoder == "builtin":
        return builtin_reads(header)
    if decoder == "libspng":
        return _spng is not None and libspng_reads_exactly(header)
    return pillow_reads_exactly(header)


def choose_decoder(header, preferred, path):
    """The preferred decoder where it reads this kind of PNG exactly, else the first that does
    (built-in, libspng, Pillow)."""
    for d in (preferred,) + DECODERS:
        if _can(d, header):
            return d
    raise ReadError(f"{name(path)} is a 16-bit interlaced {COLOUR_TYPES[header.colour_type][0]} PNG, which Pillow "
                    "reads as 8 bits; install libspng to read it exactly: pip install 'fastssim[fast]'")


def _spng_decode(data, header):
    """libspng's output formats are G8, GA8, RGB8, RGBA8, GA16 and RGBA16; 16-bit grey and RGB
    come with an alpha channel added, and grey+alpha is decoded as RGBA (R = G = B = grey)."""
    ct, depth = header.colour_type, header.depth
    fmt = {0: "G8", 2: "RGB8", 3: "RGB8", 4: "RGBA8", 6: "RGBA8"}[ct]
    if depth == 16:
        fmt = "GA16" if ct == 0 else "RGBA16"
    arr = _spng.spng_decode_image_bytes(data, getattr(_spng, "SPNG_FMT_" + fmt))
    if ct == 4:
        return arr[..., [0, 3]]
    keep = COLOUR_TYPES[ct][1] if ct != 3 else 3
    return arr[..., 0] if keep == 1 else arr[..., :keep]


def libspng_reads_exactly(header):
    """libspng here applies no palette transparency (tRNS): those go to Pillow."""
    return not (header.colour_type == 3 and header.has_trns)


def _pillow_decode(data, header):
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        if im.mode == "P":
            im = im.convert("RGBA" if header.has_trns else "RGB")
        elif im.mode == "1":
            im = im.convert("L")  # 0/255, as the other decoders expand 1-bit grey
        arr = np.asarray(im)
    if arr.dtype.kind == "i" or arr.dtype.byteorder == ">":  # Pillow's 16-bit grey modes
        arr = arr.astype(np.uint16)
    return arr


def pillow_reads_exactly(header):
    """Pillow reads every PNG but 16-bit RGB, RGBA and grey+alpha exactly."""
    return not (header.depth == 16 and header.colour_type in (2, 4, 6))


def read_png(path, max_pixels, preferred="builtin"):
    """Check and decode one PNG file (its size was checked by the caller) with the ``preferred``
    decoder (from ``DECODERS``) where it reads the file's kind exactly."""
    with open(path, "rb") as f:
        header = read_header(f.read(33), path)
        check_pixels(header.shape, max_pixels, path)
        # A PNG holds its scanlines deflated: the file cannot be much larger than their raw size.
        limit = header.raw_bytes * 2 + (64 << 20)
        f.seek(0, 2)
        if f.tell() > limit:
            raise ReadError(f"{name(path)} holds {f.tell()} bytes for a {header.width}x{header.height} image; "
                            "not a PNG an encoder writes")
        f.seek(0)
        data = f.read()
    idat = check_chunks(data, header, path)  # also learns whether there is a tRNS chunk
    decoder = choose_decoder(header, preferred, path)
    raw = check_image_data(data, idat, header, path, keep=decoder == "builtin")
    try:
        if decoder == "builtin":
            arr = _builtin_decode(raw, header, path)
        elif decoder == "libspng":
            arr = _spng_decode(data, header)
        else:
            arr = _pillow_decode(data, header)
    except ReadError:
        raise
    except Exception as e:
        raise ReadError(f"cannot decode {name(path)}: {str(e).strip() or type(e).__name__}") from None
    if arr.shape != header.shape:
        raise ReadError(f"cannot decode {name(path)}: got shape {arr.shape}, the header declares {header.shape}")
    return arr
