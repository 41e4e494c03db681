"""zarr stores (a ``.zarr`` directory; zarr-python, the ``fastssim[medical]`` extra): one array,
an OME-Zarr image's full resolution, or the store's only array.

Before zarr opens anything, every file of the store is checked (regular files only, links
inside ``--root``); a chunk the array needs and the store lacks is an error unless asked for
(``missing_chunks='fill'``), and so is a chunk larger than the pixel cap.
"""

import itertools
import os
import stat

import numpy as np

from .base import ReadError, check_dtype, check_inside, check_pixels, name
from .volumes import KEY_SEP, _module, _volume, check_chunks, with_spacing

#: What a missing chunk is: an error naming it, or the array's fill value.
MISSING_CHUNKS = ("error", "fill")


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


def _store_files(path, root):
    """The files of the store ``path`` (relative paths), each checked before zarr opens any:
    regular (a FIFO or a device would block the read), inside ``root`` when a link."""
    files = set()
    for dirpath, dirnames, filenames in os.walk(path):
        for f in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            full = os.path.join(dirpath, f)
            check_inside(full, root, path)
            if os.path.isdir(full):
                continue  # a linked directory inside the root: walked as the store's own
            st = os.stat(full) if os.path.exists(full) else None
            if st is None or not stat.S_ISREG(st.st_mode):
                raise ReadError(f"{name(path)}: {os.path.relpath(full, path)} is not a regular file (a FIFO, a device "
                                "or a broken link); a zarr store holds files only")
            files.add(os.path.relpath(full, path).replace(os.sep, "/"))
    return files


def _missing_chunks(node, files, path):
    """``(missing keys, number of chunks)`` of the array ``node``: the stored chunks (shards)
    its shape and chunk grid need that are not among the store's ``files``."""
    grid = getattr(node, "shards", None) or node.chunks
    counts = [-(-int(s) // int(c)) for s, c in zip(node.shape, grid)]
    prefix = f"{node.path}/" if node.path else ""
    missing = [key for key in (node.metadata.encode_chunk_key(coords)
                               for coords in itertools.product(*map(range, counts)))
               if prefix + key not in files]
    return missing, int(np.prod(counts, dtype=np.int64))


def read_zarr(path, key, max_pixels, root=None, missing_chunks="error"):
    """An array of a zarr store (a ``.zarr`` directory): ``key``, the full resolution of an OME-Zarr
    image (its 'scale' as the spacing; time and channel axes of length 1 dropped), or the store's
    only array; spacing from a 'spacing' attribute otherwise.

    A chunk the array's grid needs and the store lacks is an error (naming it), unless
    ``missing_chunks`` is 'fill': zarr writes no chunk that holds only the fill value (its
    default ``write_empty_chunks=False``), but a deleted or lost chunk looks the same, and
    reading it as the fill value would score made-up data.
    """
    zarr = _module("zarr", path)
    check_inside(path, root)
    files = _store_files(path, root)
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
    check_chunks(node.chunks, max_pixels, path)
    if missing_chunks != "fill":
        lost, total = _missing_chunks(node, files, path)
        if lost:
            where = f"{node.path}/" if node.path else ""
            raise ReadError(f"{name(path)}: {len(lost)} of the {total} chunks of {where or 'its array'} are missing "
                            f"(e.g. {where}{lost[0]}); zarr leaves out chunks that hold only the fill value when it "
                            "writes, but a lost chunk looks the same: if the store was written so, pass "
                            f"--missing-chunks fill to read them as the fill value ({node.fill_value})")
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
