"""TIFF through tifffile, given the path (tifffile stops on IFD loops then; with a file object,
as imageio passes it, a self-referencing IFD made it loop forever). Multi-page stacks of one
page shape are volumes; the declared shape is checked before any strip is decoded."""

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


def read_tiff(path, max_pixels):
    import tifffile

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
        raise ReadError(f"cannot decode {name(path)}: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}") from None
    if "S" in axes and axes.index("S") != len(axes) - 1 and arr.ndim == len(axes):  # planar RGB
        arr = np.moveaxis(arr, axes.index("S"), -1)
    return as_intensity(np.asarray(arr))
