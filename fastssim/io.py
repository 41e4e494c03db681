"""Reading images and volumes from files, for the batch scorer.

Each reader returns an ndarray in the file's own dtype, or raises
``ReadError`` with a message fit for an error row.
"""

import os
import struct
import zipfile

import numpy as np

try:  # optional: libspng decodes 8-bit PNG about twice as fast as imageio's Pillow, same pixels
    import pyspng
except ImportError:
    pyspng = None

PNG_DECODERS = ("auto", "imageio", "libspng")


def fast_png_for(workers, decoder="auto"):
    """Whether to decode 8-bit PNG with libspng for a pool of ``workers`` threads.

    pyspng holds the GIL while it decodes, so its decoding does not scale across
    threads, while Pillow's (imageio's) does. Measured here: one libspng decode of a
    512x512 RGB PNG takes 4.2 ms with 1 or 2 threads, one Pillow decode 8.8 ms with 1
    thread and 4.4 ms per image with 2. 'auto' takes libspng for up to two workers,
    where it overlaps with the GIL-free kernels (65 -> 98 pairs/s end to end on 2 cores),
    and Pillow beyond.
    """
    if decoder not in PNG_DECODERS:
        raise ValueError(f"png decoder must be one of {PNG_DECODERS}, got {decoder!r}")
    if decoder == "libspng" and pyspng is None:
        raise ValueError("the libspng decoder needs pyspng: pip install 'fastssim[fast]'")
    if decoder == "auto":
        return pyspng is not None and workers <= 2
    return decoder == "libspng"

#: Default cap on the pixels (voxels, times channels not counted) of one file.
MAX_PIXELS = 1 << 28  # 268 million: a 16384x16384 image

ALPHA_POLICIES = ("drop", "keep", "error")
VOLUME_EXTS = (".npy", ".npz")
TIFF_EXTS = (".tif", ".tiff")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".npy", ".npz")


class ReadError(Exception):
    """A file could not be turned into an image; the message says why."""


def _check_pixels(shape, max_pixels, path):
    spatial = shape[:-1] if len(shape) >= 3 and shape[-1] in (3, 4) else shape
    n = int(np.prod(spatial, dtype=np.int64))
    if n > max_pixels:
        raise ReadError(
            f"{os.path.basename(path)} has {n} pixels ({'x'.join(map(str, shape))}), over the cap of "
            f"{max_pixels}; raise --max-pixels if the file is trusted"
        )


def _read_numpy(path, max_pixels):
    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                if len(z.files) != 1:
                    raise ReadError(f"{os.path.basename(path)} holds {len(z.files)} arrays {z.files[:5]}; "
                                    "store exactly one array per .npz")
                arr = z[z.files[0]]
        else:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ReadError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ReadError(f"cannot read {os.path.basename(path)}: {e}") from None
    _check_pixels(arr.shape, max_pixels, path)
    return np.asarray(arr)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _read_png_fast(path, max_pixels):
    """8-bit grey, RGB, palette (expanded to RGB) or RGBA PNG through pyspng; None for
    any other PNG (16-bit, grey+alpha, 1-bit ...), which imageio then reads."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 33 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None  # imageio will say what is wrong with it
    width, height = struct.unpack(">II", data[16:24])
    depth, colour_type = data[24], data[25]
    if depth != 8 or colour_type not in (0, 2, 3, 6):
        return None
    channels = {0: (), 2: (3,), 3: (3,), 6: (4,)}[colour_type]
    _check_pixels((height, width) + channels, max_pixels, path)
    try:
        return pyspng.load(data)
    except RuntimeError as e:
        raise ReadError(f"cannot decode {os.path.basename(path)}: {e}") from None


def _read_imageio(path, max_pixels):
    import imageio.v3 as iio

    index = None if path.lower().endswith(TIFF_EXTS) else 0
    try:
        with iio.imopen(path, "r") as f:  # one open: the header is checked before decoding
            _check_pixels(f.properties(index=index).shape, max_pixels, path)
            arr = f.read(index=index)
    except ReadError:
        raise
    except Exception as e:  # imageio raises many types for bad files
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReadError(f"cannot decode {os.path.basename(path)}: {msg}") from None
    return np.asarray(arr)


def apply_alpha(arr, policy, path="image"):
    """Apply the alpha policy to an RGBA (or grey+alpha) image.

    ``drop`` scores colour only, ``keep`` scores alpha as one more channel,
    ``error`` refuses images with alpha.
    """
    if arr.ndim == 3 and arr.shape[-1] in (2, 4):
        if policy == "drop":
            return arr[..., :-1] if arr.shape[-1] == 4 else arr[..., 0]
        if policy == "error":
            raise ReadError(f"{os.path.basename(path)} has an alpha channel; choose --alpha drop or keep")
    return arr


def read_image(path, *, max_pixels=MAX_PIXELS, alpha="drop", fast_png=True):
    """Read one file as an ndarray.

    PNG, JPEG, BMP, TIFF (multi-page stacks become volumes), WebP through
    imageio; ``.npy`` and ``.npz`` (one array) through NumPy. Palette images
    come back expanded to RGB. With ``pyspng`` installed (``fastssim[fast]``),
    8-bit PNG is decoded by libspng instead, with the same pixels.

    Parameters
    ----------
    path : str
    max_pixels : int
        Files with more pixels (voxels) are refused before decoding.
    alpha : {'drop', 'keep', 'error'}
        What to do with an alpha channel.
    fast_png : bool
        Use libspng for 8-bit PNG when pyspng is installed (see `fast_png_for`).

    Raises
    ------
    ReadError
    """
    if not os.path.isfile(path):
        raise ReadError(f"file not found: {path}")
    arr = None
    if path.lower().endswith(VOLUME_EXTS):
        arr = _read_numpy(path, max_pixels)
    elif fast_png and pyspng is not None and path.lower().endswith(".png"):
        arr = _read_png_fast(path, max_pixels)
    if arr is None:
        arr = _read_imageio(path, max_pixels)
    if arr.ndim == 0 or arr.size == 0:
        raise ReadError(f"{os.path.basename(path)} holds no pixels (shape {arr.shape})")
    return apply_alpha(arr, alpha, path)
