"""JPEG: simplejpeg (libjpeg-turbo, ``fastssim[fast]``) where it applies, else Pillow.

simplejpeg decodes grey and YCbCr/RGB JPEGs with the same library as Pillow's wheels and the
same settings (accurate DCT, smooth upsampling): the pixels are equal to Pillow's, tested on
real images at qualities 10-95 and 4:4:4, 4:2:2 and 4:2:0 subsampling, and it decodes about
twice as fast (less work around the library call). In strict mode a recoverable error
(a truncated file) is an error, as in Pillow. CMYK and other colour spaces go to Pillow.
"""

from .base import ReadError, check_pixels, name
from .pillow import read_pillow

try:  # optional
    import simplejpeg
except ImportError:
    simplejpeg = None

#: simplejpeg header colour space -> the colour space to decode into.
_TARGET = {"Gray": "GRAY", "YCbCr": "RGB", "RGB": "RGB"}


def read_jpeg(path, max_pixels):
    """Decode one JPEG file (its size was checked by the caller)."""
    if simplejpeg is None:
        return read_pillow(path, max_pixels)
    with open(path, "rb") as f:
        data = f.read()
    try:
        h, w, space, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return read_pillow(path, max_pixels)  # Pillow names what is wrong, or reads what libjpeg cannot
    check_pixels((h, w), max_pixels, path)
    target = _TARGET.get(space)
    if target is None:
        return read_pillow(path, max_pixels)
    try:
        arr = simplejpeg.decode_jpeg(data, colorspace=target, strict=True)
    except ValueError as e:
        raise ReadError(f"cannot decode {name(path)}: {str(e).strip() or 'damaged JPEG data'}") from None
    return arr[..., 0] if target == "GRAY" else arr
