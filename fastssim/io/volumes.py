"""Medical and scientific volumes: NIfTI (nibabel), NRRD (pynrrd) and HDF5 datasets (h5py), from
the ``fastssim[medical]`` extra. Each reader checks the shape its header declares against the
pixel cap before reading data, returns the data in its stored orientation, and attaches the voxel
spacing it records (``Spaced.spacing``) so that a pair whose spacings differ is an error row, and
the spacing is written in the row.

NRRD is read with pynrrd (pure Python, 23 kB) rather than SimpleITK (a ~50 MB wheel whose other
formats fastssim does not read yet); MetaImage (.mha/.mhd) is therefore not read.
"""

import numpy as np

from .base import ReadError, check_dtype, check_pixels, name

#: Extension -> (module the reader needs, the pip extra that installs it).
NEEDS = {".nii": ("nibabel", "medical"), ".nii.gz": ("nibabel", "medical"), ".nrrd": ("nrrd", "medical"),
         ".nhdr": ("nrrd", "medical"), ".h5": ("h5py", "medical"), ".hdf5": ("h5py", "medical")}
VOLUME_FORMAT_EXTS = tuple(NEEDS)
#: Separates an HDF5 file from the dataset inside it in a path: ``scan.h5::volumes/ct``.
KEY_SEP = "::"


class Spaced(np.ndarray):
    """An array with the voxel spacing its file records (``spacing``: one float per axis, or None)."""

    spacing = None


def with_spacing(arr, spacing):
    out = np.asarray(arr).view(Spaced)
    out.spacing = None if spacing is None else tuple(float(s) for s in spacing)
    return out


def _module(mod, path):
    import importlib

    try:
        return importlib.import_module(mod)
    except ImportError:
        raise ReadError(f"reading {name(path)} needs {mod}: pip install 'fastssim[medical]'") from None


def _volume(arr, path):
    if arr.ndim not in (2, 3):
        raise ReadError(f"{name(path)} holds a {arr.ndim}-D array of shape {arr.shape}; fastssim scores 2-D "
                        "images and 3-D volumes (split a time series or other 4-D data into volumes first)")
    if arr.size == 0:
        raise ReadError(f"{name(path)} holds no voxels (shape {arr.shape})")
    check_dtype(arr.dtype, path)
    return arr


def read_nifti(path, max_pixels):
    """A NIfTI-1/2 image (``.nii``, ``.nii.gz``): the data in its stored orientation, scaled by
    the header's slope and intercept when they are set (float64 then), spacing from pixdim."""
    nib = _module("nibabel", path)
    try:
        img = nib.load(path)
    except Exception as e:  # nibabel's many header errors
        raise ReadError(f"cannot read the NIfTI header of {name(path)}: {e}") from None
    check_pixels(tuple(img.shape), max_pixels, path)
    if len(img.shape) not in (2, 3):
        raise ReadError(f"{name(path)} holds a {len(img.shape)}-D image of shape {img.shape}; fastssim scores 2-D "
                        "images and 3-D volumes (split a time series into volumes first)")
    arr = _volume(np.asanyarray(img.dataobj), path)
    return with_spacing(arr, img.header.get_zooms()[:arr.ndim])


def read_nrrd(path, max_pixels):
    """An NRRD file (``.nrrd``, or ``.nhdr`` with its detached data): the array pynrrd returns
    (axes in the file's order), spacing from 'spacings' or the lengths of 'space directions'."""
    nrrd = _module("nrrd", path)
    try:
        header = nrrd.read_header(path)
    except Exception as e:  # pynrrd's NRRDError and friends
        raise ReadError(f"cannot read the NRRD header of {name(path)}: {e}") from None
    sizes = tuple(int(s) for s in header.get("sizes", ()))
    check_pixels(sizes, max_pixels, path)
    try:
        data, header = nrrd.read(path)
    except Exception as e:
        raise ReadError(f"cannot read the NRRD data of {name(path)}: {e}") from None
    arr = _volume(np.asarray(data), path)
    spacing = None
    if "spacings" in header:
        spacing = [float(s) for s in header["spacings"]]
    elif "space directions" in header:
        dirs = [d for d in header["space directions"] if d is not None and not np.isnan(np.asarray(d, float)).all()]
        spacing = [float(np.linalg.norm(np.asarray(d, float))) for d in dirs]
    return with_spacing(arr, spacing if spacing is not None and len(spacing) == arr.ndim else None)


def split_key(path):
    """``(file, key)`` of ``file.h5::key`` (key None without ``::``)."""
    if KEY_SEP in path:
        file, key = path.split(KEY_SEP, 1)
        return file, key
    return path, None


def read_hdf5(path, key, max_pixels):
    """The dataset ``key`` of an HDF5 file, or its only dataset when no key is given."""
    h5py = _module("h5py", path)
    try:
        f = h5py.File(path, "r")
    except Exception as e:
        raise ReadError(f"cannot open {name(path)} as HDF5: {e}") from None
    with f:
        if key is None:
            found = []
            f.visititems(lambda n, obj: found.append(n) if isinstance(obj, h5py.Dataset) else None)
            if len(found) != 1:
                raise ReadError(f"{name(path)} holds {len(found)} datasets {found[:5]}; name one as "
                                f"{name(path)}{KEY_SEP}KEY (in the manifest's paths)")
            key = found[0]
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise ReadError(f"{name(path)} has no dataset {key!r}")
        ds = f[key]
        check_pixels(tuple(ds.shape), max_pixels, path)
        check_dtype(ds.dtype, path)
        arr = _volume(ds[()], path)
        spacing = ds.attrs.get("spacing", ds.attrs.get("element_size_um"))
    return with_spacing(arr, spacing if spacing is not None and len(spacing) == arr.ndim else None)
