"""Medical and scientific volumes: NIfTI (nibabel), NRRD (pynrrd), HDF5 datasets (h5py) and zarr
arrays (zarr, OME-Zarr images included), from the ``fastssim[medical]`` extra; MetaImage
(``.mha``/``.mhd``, SimpleITK) from ``fastssim[itk]``. Each reader checks the shape its header
declares against the pixel cap before reading data, returns the data in its stored orientation,
and attaches the voxel spacing it records (``Spaced.spacing``) so that a pair whose spacings
differ is an error row, and the spacing is written in the row.

NRRD is read with pynrrd (pure Python, 23 kB) rather than SimpleITK, whose wheel is ~50 MB: the
``medical`` extra stays light, and only MetaImage, which no light library reads, needs SimpleITK.
"""

import numpy as np

from .base import ReadError, check_dtype, check_pixels, name

#: Extension -> (module the reader needs, the pip extra that installs it).
NEEDS = {".nii": ("nibabel", "medical"), ".nii.gz": ("nibabel", "medical"), ".nrrd": ("nrrd", "medical"),
         ".nhdr": ("nrrd", "medical"), ".h5": ("h5py", "medical"), ".hdf5": ("h5py", "medical"),
         ".zarr": ("zarr", "medical"), ".mha": ("SimpleITK", "itk"), ".mhd": ("SimpleITK", "itk")}
VOLUME_FORMAT_EXTS = tuple(NEEDS)
#: Containers of named arrays, where a path may name one: ``scan.h5::volumes/ct``, ``cells.zarr::0``.
KEYED_EXTS = (".h5", ".hdf5", ".zarr")
#: Separates an HDF5 file (zarr store) from the dataset (array) inside it in a path.
KEY_SEP = "::"


class Spaced(np.ndarray):
    """An array with the voxel spacing its file records (``spacing``: one float per axis, or None)."""

    spacing = None


def with_spacing(arr, spacing):
    out = np.asarray(arr).view(Spaced)
    out.spacing = None if spacing is None else tuple(float(s) for s in spacing)
    return out


def _module(mod, path, extra="medical"):
    import importlib

    try:
        return importlib.import_module(mod)
    except ImportError:
        raise ReadError(f"reading {name(path)} needs {mod}: pip install 'fastssim[{extra}]'") from None


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


def _zarr_arrays(group, zarr):
    """Paths of the arrays under a zarr group, depth first."""
    out = []
    for key, item in sorted(group.members(), key=lambda kv: kv[0]):
        if isinstance(item, zarr.Group):
            out += [f"{key}/{sub}" for sub in _zarr_arrays(item, zarr)]
        else:
            out.append(key)
    return out


def _ome_image(group, path):
    """``(array path, spacing per axis, axis names)`` of an OME-Zarr image's full resolution, or None
    when the group carries no OME 'multiscales' metadata."""
    attrs = dict(group.attrs)
    ms = attrs.get("multiscales") or (attrs.get("ome") or {}).get("multiscales")
    if not ms:
        return None
    first = ms[0]
    ds = first["datasets"][0]
    scale = None
    for t in list(first.get("coordinateTransformations") or []) + list(ds.get("coordinateTransformations") or []):
        if t.get("type") == "scale" and "scale" in t:
            scale = np.asarray(t["scale"], float) * (scale if scale is not None else 1.0)
    axes = [a["name"] if isinstance(a, dict) else str(a) for a in first.get("axes", [])]
    return ds["path"], scale, axes


def read_zarr(path, key, max_pixels):
    """An array of a zarr store (a ``.zarr`` directory): ``key``, the full resolution of an OME-Zarr
    image (its 'scale' as the spacing; time and channel axes of length 1 dropped), or the store's
    only array; spacing from a 'spacing' attribute otherwise."""
    zarr = _module("zarr", path)
    try:
        node = zarr.open(path, mode="r")
    except Exception as e:  # noqa: BLE001 - zarr's errors for what is not a store
        raise ReadError(f"cannot open {name(path)} as a zarr store: {e}") from None
    spacing, axes = None, []
    if isinstance(node, zarr.Group):
        if key is None:
            ome = _ome_image(node, path)
            if ome is not None:
                key, spacing, axes = ome
            else:
                found = _zarr_arrays(node, zarr)
                if len(found) != 1:
                    raise ReadError(f"{name(path)} holds {len(found)} arrays {found[:5]}; name one as "
                                    f"{name(path)}{KEY_SEP}KEY (in the manifest's paths)")
                key = found[0]
        try:
            node = node[key]
        except KeyError:
            raise ReadError(f"{name(path)} has no array {key!r}") from None
        if isinstance(node, zarr.Group):
            raise ReadError(f"{name(path)}{KEY_SEP}{key} is a group, not an array; name an array inside it")
    elif key is not None:
        raise ReadError(f"{name(path)} is a single array: it has no array {key!r} inside")
    check_pixels(tuple(node.shape), max_pixels, path)
    check_dtype(node.dtype, path)
    arr = node[...]
    if axes and len(axes) == arr.ndim:  # OME axes: drop time and channel axes of one entry
        keep = [i for i, a in enumerate(axes) if not (a in ("t", "c") and arr.shape[i] == 1)]
        extra = [axes[i] for i in keep if axes[i] in ("t", "c")]
        if extra:
            raise ReadError(f"{name(path)}: the OME-Zarr image has {len(extra)} axis(es) {extra} of more than one "
                            "entry; fastssim scores one 2-D or 3-D image: name one time point or channel's array")
        arr = arr[tuple(slice(None) if i in keep else 0 for i in range(arr.ndim))]
        spacing = None if spacing is None or len(spacing) != len(axes) else [spacing[i] for i in keep]
    elif spacing is None:
        spacing = node.attrs.get("spacing")
    arr = _volume(np.asarray(arr), path)
    return with_spacing(arr, spacing if spacing is not None and len(spacing) == arr.ndim else None)


def read_metaimage(path, max_pixels):
    """A MetaImage file (``.mha``, or ``.mhd`` with its raw data) through SimpleITK: the array in
    (z, y, x) order as SimpleITK gives it, the spacing reversed to match."""
    sitk = _module("SimpleITK", path, "itk")
    try:
        reader = sitk.ImageFileReader()
        reader.SetFileName(path)
        reader.ReadImageInformation()
    except Exception as e:  # noqa: BLE001 - SimpleITK raises RuntimeError for any bad header
        raise ReadError(f"cannot read the MetaImage header of {name(path)}: {_first_line(e)}") from None
    size = tuple(reversed(reader.GetSize()))
    check_pixels(size + ((reader.GetNumberOfComponents(),) if reader.GetNumberOfComponents() > 1 else ()),
                 max_pixels, path)
    if reader.GetNumberOfComponents() > 1:
        raise ReadError(f"{name(path)} has {reader.GetNumberOfComponents()} components per voxel; fastssim reads "
                        "scalar MetaImage volumes")
    try:
        img = reader.Execute()
    except Exception as e:  # noqa: BLE001
        raise ReadError(f"cannot read the MetaImage data of {name(path)}: {_first_line(e)}") from None
    arr = _volume(sitk.GetArrayFromImage(img), path)
    return with_spacing(arr, tuple(reversed(img.GetSpacing())))


def _first_line(e):
    text = str(e).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else type(e).__name__
