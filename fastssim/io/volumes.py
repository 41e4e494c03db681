"""Medical and scientific volumes: NIfTI (nibabel), NRRD (pynrrd), HDF5 datasets (h5py) and zarr
arrays (zarr, OME-Zarr images included), from the ``fastssim[medical]`` extra; MetaImage
(``.mha``/``.mhd``, SimpleITK) from ``fastssim[itk]``. Each reader checks the shape its header
declares against the pixel cap before reading data, returns the data in its stored orientation,
and attaches the voxel spacing it records (``Spaced.spacing``) so that a pair whose spacings
differ is an error row, and the spacing is written in the row.

NRRD is read with pynrrd (pure Python, 23 kB) rather than SimpleITK, whose wheel is ~50 MB: the
``medical`` extra stays light, and only MetaImage, which no light library reads, needs SimpleITK.
"""

import os

import numpy as np

from .base import ReadError, check_dtype, check_inside, check_pixels, check_referenced, library_notes, name

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
    #: what the reader said about the file that did not stop it being read (the row's warning)
    notes = ()


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
    the header's slope and intercept when they are set (float64 then), spacing from pixdim.
    nibabel's warnings about the header are kept in the array's ``notes`` (the row's
    ``warning``), not printed."""
    nib = _module("nibabel", path)
    with library_notes("nibabel") as said:
        out = _nifti(nib, path, max_pixels)
    out.notes = tuple(dict.fromkeys(f"{name(path)}: {m}" for m in said))
    return out


def _nifti(nib, path, max_pixels):
    try:
        img = nib.load(path)
    except Exception as e:  # nibabel's many header errors
        raise ReadError(f"cannot read the NIfTI header of {name(path)}: {e}") from None
    check_pixels(tuple(img.shape), max_pixels, path)
    if len(img.shape) not in (2, 3):
        raise ReadError(f"{name(path)} holds a {len(img.shape)}-D image of shape {img.shape}; fastssim scores 2-D "
                        "images and 3-D volumes (split a time series into volumes first)")
    offset = int(getattr(img.dataobj, "offset", 0) or 0)  # where the file's data start (header.get_data_offset
    # is that of the image's copy of the header)
    nbytes = int(np.prod(img.shape, dtype=np.int64)) * img.header.get_data_dtype().itemsize
    size = os.path.getsize(path)
    if not path.lower().endswith(".gz") and (offset < 0 or offset + nbytes > size):
        raise ReadError(f"{name(path)}: its header puts {nbytes} bytes of data at byte {offset}, past the end of "
                        f"the file ({size} bytes); the file is truncated or its header damaged")
    try:
        arr = _volume(np.asanyarray(img.dataobj), path)
    except (OSError, ValueError, EOFError, OverflowError) as e:
        raise ReadError(f"cannot read the NIfTI data of {name(path)}: {e}") from None
    return with_spacing(arr, img.header.get_zooms()[:arr.ndim])


def read_nrrd(path, max_pixels, root=None):
    """An NRRD file (``.nrrd``, or ``.nhdr`` with its detached data): the array in the file's axis
    order, spacing from 'spacings' or the lengths of 'space directions' (``nrrd_file``)."""
    from .nrrd_file import read_nrrd as read

    data, header = read(path, max_pixels, root, _module("nrrd", path))
    arr = _volume(np.asarray(data), path)
    spacing = None
    if "spacings" in header:
        spacing = [float(s) for s in header["spacings"]]
    elif "space directions" in header:
        dirs = [d for d in header["space directions"] if d is not None and not np.isnan(np.asarray(d, float)).all()]
        spacing = [float(np.linalg.norm(np.asarray(d, float))) for d in dirs]
    return with_spacing(arr, spacing if spacing is not None and len(spacing) == arr.ndim else None)


def split_key(path):
    """``(file, key)`` of ``file.h5::key`` (key None without ``::``). A path that exists as it
    is written is a file (key None), so a file whose name holds ``::`` is read as such."""
    if KEY_SEP in path and not os.path.lexists(path):
        file, key = path.split(KEY_SEP, 1)
        return file, key
    return path, None


def check_chunks(chunks, max_pixels, path):
    """Refuse a chunked store whose one chunk holds more values than the pixel cap: a chunk is
    decompressed whole, so its size, not the array's, is what reading allocates."""
    if not chunks:
        return
    n = int(np.prod([int(c) for c in chunks], dtype=object))
    if n > max_pixels:
        raise ReadError(f"{name(path)} stores its data in chunks of {'x'.join(map(str, chunks))} ({n} values), over "
                        f"the cap of {max_pixels}: reading one chunk would allocate that much whatever the array's "
                        "shape; rechunk it, or raise --max-pixels if the file is trusted")


def _hdf5_link(f, key, path, max_pixels, root, h5py, depth=0):
    """Check every link along ``key`` before it is followed: an external link's file as a file
    the user named (inside ``root``, regular), a soft link's target the same way."""
    if depth > 16:
        raise ReadError(f"{name(path)}: the links to {key!r} go round in a loop")
    node, walked = f, ""
    for part in [p for p in key.split("/") if p]:
        link = node.get(part, getlink=True) if isinstance(node, h5py.Group) else None
        if link is None:
            raise ReadError(f"{name(path)} has no dataset {key!r}")
        if isinstance(link, h5py.ExternalLink):
            target = link.filename if os.path.isabs(link.filename) else os.path.join(os.path.dirname(path),
                                                                                     link.filename)
            check_referenced(target, path, max_pixels, root)
        elif isinstance(link, h5py.SoftLink):
            _hdf5_link(f, link.path, path, max_pixels, root, h5py, depth + 1)
        walked += "/" + part
        node = f[walked]


def _hdf5_storage(ds, path, max_pixels, root):
    """Check the files a dataset's data live in besides this one: external raw storage (named
    from the working directory, as HDF5 opens them) and the sources of a virtual dataset."""
    for ext in ds.external or ():
        check_referenced(os.path.abspath(os.fsdecode(ext[0])), path, max_pixels, root)
    if ds.is_virtual:
        for src in ds.virtual_sources():
            if src.file_name != ".":
                target = src.file_name if os.path.isabs(src.file_name) else os.path.join(os.path.dirname(path),
                                                                                       src.file_name)
                check_referenced(target, path, max_pixels, root)


def read_hdf5(path, key, max_pixels, root=None):
    """The dataset ``key`` of an HDF5 file, or its only dataset when no key is given. The files
    its links and storage name are checked as the file itself is (``root``, regular files)."""
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
        _hdf5_link(f, key, path, max_pixels, root, h5py)
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise ReadError(f"{name(path)} has no dataset {key!r}")
        ds = f[key]
        check_pixels(tuple(ds.shape), max_pixels, path)
        check_dtype(ds.dtype, path)
        check_chunks(ds.chunks, max_pixels, path)
        _hdf5_storage(ds, path, max_pixels, root)
        arr = _volume(ds[()], path)
        spacing = ds.attrs.get("spacing", ds.attrs.get("element_size_um"))
    return with_spacing(arr, spacing if spacing is not None and len(spacing) == arr.ndim else None)


def _metaimage_files(path):
    """The data files a MetaImage header names (none for ``ElementDataFile = LOCAL``): one file,
    a ``LIST`` of files, or a numbered pattern ``name%03d.raw FIRST LAST STEP``."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 16).decode("latin-1")
    lines = head.splitlines()
    for i, line in enumerate(lines):
        tag, _, value = line.partition("=")
        if tag.strip() != "ElementDataFile":
            continue
        value = value.strip()
        if value.upper() == "LOCAL":
            return []
        if value.upper().startswith("LIST"):
            return [ln.strip() for ln in lines[i + 1:] if ln.strip()]
        words = value.split()
        if len(words) >= 3 and "%" in words[0]:
            try:
                first, last = int(words[1]), int(words[2])
                step = int(words[3]) if len(words) > 3 else 1
                return [words[0] % k for k in range(first, last + 1, step or 1)]
            except (ValueError, TypeError):
                raise ReadError(f"{name(path)}: cannot read its ElementDataFile pattern {value!r}") from None
        return [value]
    raise ReadError(f"{name(path)}: no ElementDataFile in its header; it is not a MetaImage file")


def read_metaimage(path, max_pixels, root=None):
    """A MetaImage file (``.mha``, or ``.mhd`` with its raw data) through SimpleITK: the array in
    (z, y, x) order as SimpleITK gives it, the spacing reversed to match. The data files the
    header names are checked first (regular files, inside ``root``)."""
    sitk = _module("SimpleITK", path, "itk")
    check_inside(path, root)
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
    for data in _metaimage_files(path):  # before SimpleITK opens them
        check_referenced(data if os.path.isabs(data) else os.path.join(os.path.dirname(path), data), path,
                         max_pixels, root)
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
