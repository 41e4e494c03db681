"""Reading images and volumes from files, for the batch scorer.

Each reader returns an ndarray in the file's own dtype, or raises ``ReadError`` with a
message fit for an error row; no other exception leaves `read_image`. Before a file is
opened it must be a regular file no larger than the pixel cap allows, and before any
pixel is decoded the size its header declares is checked against the cap.

One module per family: ``png`` (built-in, libspng or Pillow, chunk checks; ``png_filters`` the
compiled scanline filters), ``jpeg`` (simplejpeg or Pillow), ``tiff`` (tifffile), ``pillow``
(BMP, WebP, and what the others hand over), ``arrays`` (.npy, .npz), ``volumes`` (NIfTI, NRRD,
HDF5 datasets; ``dicom``: directories of DICOM slices; the ``[medical]`` extra; with their voxel
spacing), ``video`` (frame by frame through PyAV, the ``[video]`` extra).
"""

import os

from .arrays import read_array
from .base import MAX_PIXELS, ReadError, check_file, name
from .jpeg import read_jpeg
from .pillow import read_pillow
from .png import pyspng, read_png
from .tiff import read_tiff
from .dicom import is_series, read_dicom_series
from .video import VIDEO_EXTS, is_video
from .volumes import (KEY_SEP, KEYED_EXTS, NEEDS, VOLUME_FORMAT_EXTS, read_hdf5, read_metaimage, read_nifti,
                      read_nrrd, split_key)
from .zarr_store import MISSING_CHUNKS, read_zarr

__all__ = ["read_image", "ReadError", "MAX_PIXELS", "png_decoder_for", "other_png_decoder", "apply_alpha",
           "IMAGE_EXTS", "missing_extras", "ALPHA_POLICIES", "PNG_DECODERS", "MISSING_CHUNKS"]

#: ``--png-decoder`` choices: 'auto' is the built-in decoder; 'imageio' is the old name of 'pillow'.
PNG_DECODERS = ("auto", "builtin", "libspng", "pillow", "imageio")

ALPHA_POLICIES = ("drop", "keep", "error")
VOLUME_EXTS = (".npy", ".npz")
TIFF_EXTS = (".tif", ".tiff")
#: Every extension a run looks for (videos are paired with videos and decoded as streams).
IMAGE_EXTS = ((".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".npy", ".npz") + VOLUME_FORMAT_EXTS
              + VIDEO_EXTS)


def missing_extras(paths):
    """``{extension: message}`` for the files among ``paths`` whose reader's library is not
    installed (checked before a run starts, so that it is refused rather than every row failing)."""
    import importlib.util

    out = {}
    for p in paths:
        if is_series(p) and "series" not in out and importlib.util.find_spec("pydicom") is None:
            out["series"] = "DICOM series (directories of .dcm files) need pydicom: pip install 'fastssim[medical]'"
        lower = split_key(os.fspath(p))[0].lower()
        if is_video(lower) and "video" not in out and importlib.util.find_spec("av") is None:
            out["video"] = "video files need PyAV: pip install 'fastssim[video]'"
        for ext, (mod, extra) in NEEDS.items():
            if lower.endswith(ext) and ext not in out and importlib.util.find_spec(mod) is None:
                out[ext] = f"{ext} files need {mod}: pip install 'fastssim[{extra}]'"
    return out


def png_decoder_for(decoder="auto"):
    """The PNG decoder a run asks for, checked: 'builtin', 'libspng' or 'pillow'.

    Measured here (2 cores, 512x512 RGB PNG, the image-data check included): the built-in
    decoder inflates once (the check's inflate is reused) and undoes the filters in a
    compiled kernel without the GIL, so it scales across threads; libspng holds the GIL;
    Pillow inflates a second time. 'auto' is therefore the built-in decoder, which falls back
    to libspng (else Pillow) for the kinds it does not read: palette, 1/2/4-bit grey, interlaced.
    """
    if decoder not in PNG_DECODERS:
        raise ValueError(f"png decoder must be one of {', '.join(PNG_DECODERS[:4])}, got {decoder!r}")
    if decoder == "libspng" and pyspng is None:
        raise ValueError("the libspng decoder needs pyspng: pip install 'fastssim[fast]'")
    return {"auto": "builtin", "imageio": "pillow"}.get(decoder, decoder)


def other_png_decoder():
    """The fastest PNG decoder besides the built-in one: libspng where pyspng is installed, else
    Pillow (for the kinds of PNG that one does not read exactly, the built-in decoder all the same)."""
    return "libspng" if pyspng is not None else "pillow"


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


def read_image(path, *, max_pixels=MAX_PIXELS, alpha="drop", png_decoder="builtin", root=None,
               missing_chunks="error"):
    """Read one file as an ndarray.

    PNG (libspng or Pillow), JPEG, BMP, WebP (Pillow), TIFF (tifffile; multi-page stacks
    become volumes); ``.npy`` and ``.npz`` (one array) through NumPy's format reader.
    Palette images come back expanded to RGB (RGBA with transparency), 1-, 2- and 4-bit
    grey scaled to uint8 0-255, 16-bit images as uint16.

    Parameters
    ----------
    path : str
    max_pixels : int
        Files with more pixels (voxels) are refused before decoding, and so are files
        larger than such an image could be.
    alpha : {'drop', 'keep', 'error'}
        What to do with an alpha channel.
    png_decoder : {'builtin', 'libspng', 'pillow'}
        The PNG decoder to prefer where it reads the file's kind exactly (see
        `png_decoder_for`).
    root : str, optional
        A directory every file the reader opens must resolve inside (links followed): the file,
        and the files it names (an NRRD or MetaImage data file, HDF5 external links, storage and
        virtual sources, DICOM slices, zarr chunks). Whatever the root, each such file must be a
        regular file within the size cap.
    missing_chunks : {'error', 'fill'}
        A chunk a zarr array needs that its store lacks: an error naming it, or the fill value.

    Raises
    ------
    ReadError
        For anything that keeps the file from being an image: missing, not a regular
        file, over the caps, damaged, or a kind no reader here decodes exactly.
    """
    path, key = split_key(os.fspath(path))
    if is_series(path):
        return _decoded(lambda: read_dicom_series(path, max_pixels, root), path)
    if is_video(path):
        raise ReadError(f"{name(path)} is a video: it is read frame by frame, paired with another video")
    lower = path.rstrip("/").lower()
    if key is not None and not lower.endswith(KEYED_EXTS):
        raise ReadError(f"{name(path)}{KEY_SEP}{key}: a dataset key ('{KEY_SEP}KEY') applies to HDF5 files and "
                        "zarr stores only")
    if lower.endswith(".zarr"):
        if not os.path.exists(path):
            raise ReadError(f"file not found: {path}")
        return _decoded(lambda: read_zarr(path, key, max_pixels, root, missing_chunks), path)
    check_file(path, max_pixels)
    arr = _decoded(lambda: _dispatch(path, lower, key, max_pixels, png_decoder, root), path)
    if getattr(arr, "spacing", None) is not None or lower.endswith(VOLUME_FORMAT_EXTS):
        return arr  # the medical readers check their own data and carry the spacing
    if arr.ndim == 0 or arr.size == 0:
        raise ReadError(f"{name(path)} holds no pixels (shape {arr.shape})")
    return apply_alpha(arr, alpha, path)


def _dispatch(path, lower, key, max_pixels, png_decoder, root):
    """The reader of ``path``'s kind, by extension."""
    if lower.endswith((".nii", ".nii.gz")):
        return read_nifti(path, max_pixels)
    if lower.endswith((".nrrd", ".nhdr")):
        return read_nrrd(path, max_pixels, root)
    if lower.endswith((".h5", ".hdf5")):
        return read_hdf5(path, key, max_pixels, root)
    if lower.endswith((".mha", ".mhd")):
        return read_metaimage(path, max_pixels, root)
    if lower.endswith(VOLUME_EXTS):
        return read_array(path, max_pixels)
    if lower.endswith(".png"):
        return read_png(path, max_pixels, png_decoder)
    if lower.endswith(TIFF_EXTS):
        return read_tiff(path, max_pixels)
    if lower.endswith((".jpg", ".jpeg")):
        return read_jpeg(path, max_pixels)
    return read_pillow(path, max_pixels)


def _decoded(read, path):
    """``read()``, any failure of the library's but a ReadError reported as the file's."""
    try:
        return read()
    except ReadError:
        raise
    except Exception as e:  # noqa: BLE001
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise ReadError(f"cannot decode {name(path)}: {type(e).__name__}" + (f": {msg}" if msg else "")) from None
