"""JPEG, BMP, WebP (and PNG on request) through Pillow, with the declared size checked
before decoding. Modes are mapped to arrays as imageio does: palette to RGB(A), CMYK and
YCbCr to RGB, 1-bit to 0/255."""

import numpy as np

from .base import ReadError, as_intensity, check_pixels, name

_CONVERT = {"P": None, "PA": "RGBA", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB", "1": "L"}


def read_pillow(path, max_pixels):
    from PIL import Image

    try:
        with Image.open(path) as im:
            w, h = im.size
            check_pixels((h, w), max_pixels, path)
            if getattr(im, "n_frames", 1) > 1:
                raise ReadError(f"{name(path)} holds {im.n_frames} frames; fastssim reads still images "
                                "(store a volume as a multi-page TIFF or .npy)")
            if im.mode in _CONVERT:
                target = _CONVERT[im.mode] or ("RGBA" if "transparency" in im.info else "RGB")
                im = im.convert(target)
            arr = np.asarray(im)
    except ReadError:
        raise
    except Exception as e:  # Pillow raises many types for damaged files
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ReadError(f"cannot decode {name(path)}: {msg}") from None
    if arr.dtype.byteorder == ">":
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return as_intensity(arr)
