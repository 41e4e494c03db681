"""DICOM series: a directory of ``.dcm`` slices is one volume (pydicom, the ``fastssim[medical]``
extra). The headers are read first (no pixel data), the volume's size checked against the pixel
cap, the slices ordered by their position along the slice normal (``ImagePositionPatient`` on
the normal of ``ImageOrientationPatient``; ``InstanceNumber`` when positions are missing), the
pixel data stacked and rescaled by ``RescaleSlope``/``RescaleIntercept`` when they are not 1 and
0 (float64 then). Spacing: the distance between slice positions, then ``PixelSpacing``."""

import os

import numpy as np

from .base import ReadError, check_inside, check_pixels, check_referenced, name
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


def read_dicom_series(path, max_pixels, root=None):
    """The volume of the DICOM series in directory ``path`` (slices, rows, columns). Each slice
    is checked as a file the user named (a regular file; inside ``root`` when a link)."""
    pydicom = _module("pydicom", path)
    check_inside(path, root)
    files = sorted(os.path.join(path, f) for f in os.listdir(path)
                   if f.lower().endswith(DICOM_EXT) and not f.startswith("."))
    if not files:
        raise ReadError(f"{name(path)} is a directory without .dcm files, not an image or a DICOM series")
    for f in files:
        check_referenced(f, path, max_pixels, root)
    headers = []
    for f in files:
        try:
            headers.append(pydicom.dcmread(f, stop_before_pixels=True))
        except Exception as e:  # pydicom's InvalidDicomError and damaged files
            raise ReadError(f"cannot read the DICOM header of {name(path)}/{name(f)}: {e}") from None
    shapes = {(int(getattr(h, "Rows", 0)), int(getattr(h, "Columns", 0))) for h in headers}
    if len(shapes) != 1:
        raise ReadError(f"{name(path)}: its slices differ in size {sorted(shapes)}; a series has one slice size")
    rows, cols = shapes.pop()
    check_pixels((len(files), rows, cols), max_pixels, path)
    positions = [_position(h) for h in headers]
    if all(p is not None for p in positions):
        order = np.argsort(positions, kind="stable")
        steps = np.diff(np.sort(positions))
        if len(steps) and np.any(steps == 0):
            raise ReadError(f"{name(path)}: two slices share a position; a series has one slice per position")
        slice_gap = float(np.median(steps)) if len(steps) else None
    else:
        order = np.argsort([_instance(h, f, path) for h, f in zip(headers, files)], kind="stable")
        slice_gap = getattr(headers[0], "SliceThickness", None)
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
        slope = float(getattr(ds, "RescaleSlope", 1) or 1)
        intercept = float(getattr(ds, "RescaleIntercept", 0) or 0)
        if slope != 1 or intercept != 0:
            plane = plane.astype(np.float64) * slope + intercept
        planes.append(plane)
    if any(p.dtype != planes[0].dtype for p in planes):  # some slices rescaled, others not
        planes = [p.astype(np.float64) for p in planes]
    vol = np.stack(planes)
    pixel = getattr(headers[0], "PixelSpacing", None)
    spacing = None
    if pixel is not None and slice_gap is not None:
        spacing = (float(slice_gap), float(pixel[0]), float(pixel[1]))
    return with_spacing(vol, spacing)
