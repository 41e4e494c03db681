"""DICOM series: a directory of ``.dcm`` slices is one volume (pydicom, the ``fastssim[medical]``
extra). The headers are read first (no pixel data), the volume's size checked against the pixel
cap, the slices ordered by their position along the slice normal (``ImagePositionPatient`` on
the normal of ``ImageOrientationPatient``; ``InstanceNumber`` when positions are missing), the
pixel data stacked and rescaled by ``RescaleSlope``/``RescaleIntercept`` when they are not 1 and
0 (float64 then). Spacing: the distance between slice positions, then ``PixelSpacing``."""

import os

import numpy as np

from .base import ReadError, check_inside, check_pixels, check_referenced, library_notes, name
from .volumes import _module, with_spacing

DICOM_EXT = ".dcm"


def is_series(path):
    """Whether ``path`` is a directory holding ``.dcm`` files (a DICOM series)."""
    try:
        return os.path.isdir(path) and any(f.lower().endswith(DICOM_EXT) and not f.startswith(".")
                                           for f in os.listdir(path))
    except OSError:
        return False


def _position(ds):
    pos = getattr(ds, "ImagePositionPatient", None)
    ori = getattr(ds, "ImageOrientationPatient", None)
    if pos is None or ori is None or len(ori) != 6:
        return None
    normal = np.cross(np.asarray(ori[:3], float), np.asarray(ori[3:], float))
    return float(np.dot(normal, np.asarray(pos, float)))


def _instance(h, f, path):
    value = getattr(h, "InstanceNumber", None)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ReadError(f"{name(path)}/{name(f)} has neither a slice position (ImagePositionPatient, "
                        f"ImageOrientationPatient) nor an InstanceNumber ({value!r}): the slices cannot be put in "
                        "order") from None


def _header(pydicom, f, path):
    """``(header, rows, columns, position, pixel spacing, slice thickness)`` of one slice: every
    field the series needs parsed here (pydicom parses values when they are first used), so that a
    damaged one is an error naming its slice."""
    try:
        h = pydicom.dcmread(f, stop_before_pixels=True)
        rows, cols = int(getattr(h, "Rows", 0) or 0), int(getattr(h, "Columns", 0) or 0)
        position = _position(h)
        pixel = getattr(h, "PixelSpacing", None)
        pixel = None if pixel is None or len(pixel) < 2 else (float(pixel[0]), float(pixel[1]))
        thickness = getattr(h, "SliceThickness", None)
        thickness = None if thickness in (None, "") else float(thickness)
    except Exception as e:  # noqa: BLE001 - pydicom's InvalidDicomError, damaged values of every kind
        raise ReadError(f"cannot read the DICOM header of {name(path)}/{name(f)}: {type(e).__name__}: "
                        f"{str(e).splitlines()[0] if str(e) else ''}") from None
    return h, rows, cols, position, pixel, thickness


def read_dicom_series(path, max_pixels, root=None):
    """The volume of the DICOM series in directory ``path`` (slices, rows, columns). Each slice
    is checked as a file the user named (a regular file; inside ``root`` when a link); pydicom's
    warnings go into the array's ``notes`` (the row's ``warning``), not on stderr."""
    with library_notes("pydicom") as said:
        vol = _series(path, max_pixels, root)
    vol.notes = tuple(dict.fromkeys(f"{name(path)}: {m}" for m in said))
    return vol


def _series(path, max_pixels, root):
    pydicom = _module("pydicom", path)
    check_inside(path, root)
    files = sorted(os.path.join(path, f) for f in os.listdir(path)
                   if f.lower().endswith(DICOM_EXT) and not f.startswith("."))
    if not files:
        raise ReadError(f"{name(path)} is a directory without .dcm files, not an image or a DICOM series")
    for f in files:
        check_referenced(f, path, max_pixels, root)
    slices = [_header(pydicom, f, path) for f in files]
    headers = [h for h, *_ in slices]
    shapes = {(r, c) for _, r, c, *_ in slices}
    if len(shapes) != 1:
        raise ReadError(f"{name(path)}: its slices differ in size {sorted(shapes)}; a series has one slice size")
    rows, cols = shapes.pop()
    check_pixels((len(files), rows, cols), max_pixels, path)
    positions = [p for _, _, _, p, _, _ in slices]
    if all(p is not None for p in positions):
        order = np.argsort(positions, kind="stable")
        steps = np.diff(np.sort(positions))
        if len(steps) and np.any(steps == 0):
            raise ReadError(f"{name(path)}: two slices share a position; a series has one slice per position")
        slice_gap = float(np.median(steps)) if len(steps) else None
    else:
        order = np.argsort([_instance(h, f, path) for h, f in zip(headers, files)], kind="stable")
        slice_gap = slices[0][5]
    planes = []
    for i in order:
        try:
            ds = pydicom.dcmread(files[i])
            plane = ds.pixel_array
        except Exception as e:  # compressed transfer syntaxes without their decoder, damaged data
            raise ReadError(f"cannot decode the pixel data of {name(path)}/{name(files[i])}: {e}") from None
        if plane.shape != (rows, cols):
            what = ("frames" if plane.ndim == 3 and int(getattr(ds, "NumberOfFrames", 1) or 1) > 1
                    else "colour samples" if plane.ndim == 3 else "dimensions")
            raise ReadError(f"{name(path)}/{name(files[i])} holds {what} of shape {plane.shape}, not one grey slice of "
                            f"{rows}x{cols}: a series is read as grey slices (score a multi-frame or colour DICOM "
                            "file on its own, converted)")
        try:
            slope = float(getattr(ds, "RescaleSlope", 1) or 1)
            intercept = float(getattr(ds, "RescaleIntercept", 0) or 0)
        except Exception as e:  # noqa: BLE001 - a damaged value
            raise ReadError(f"cannot read the rescale of {name(path)}/{name(files[i])}: "
                            f"{type(e).__name__}: {e}") from None
        if slope != 1 or intercept != 0:
            plane = plane.astype(np.float64) * slope + intercept
        planes.append(plane)
    if any(p.dtype != planes[0].dtype for p in planes):  # some slices rescaled, others not
        planes = [p.astype(np.float64) for p in planes]
    vol = np.stack(planes)
    pixel = slices[0][4]
    spacing = None
    if pixel is not None and slice_gap is not None:
        spacing = (float(slice_gap), *pixel)
    return with_spacing(vol, spacing)
