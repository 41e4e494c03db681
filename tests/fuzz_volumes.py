"""The mutation fuzzer for the volume and video formats (``fuzz_readers.py`` covers the images):
real data written by each format's own library (NIfTI, NRRD attached and detached, HDF5,
MetaImage, a zarr store, a DICOM series, an H.264 MP4), one of an item's files mutated with
``fuzz_readers.mutate`` (headers, payloads, chunk files, slices), then read.

Promises checked on every input:
- `read_image` (for videos: opening the stream and decoding every frame) returns or raises
  `ReadError`, nothing else, within ``HANG_SECONDS``;
- an array that can be scored against its original gives a row or a ValueError/TypeError.

The pytest entry (``test_fuzz.py``) runs it for ``FASTSSIM_FUZZ_VOLUME_SECONDS`` (default 12). For
a long campaign::

    python tests/fuzz_readers.py --formats volumes --seconds 3600 --seed 7
"""

import os
import random
import shutil
import tempfile
import time

import numpy as np

from fuzz_readers import HANG_SECONDS, MAX_PIXELS, Findings, bounded, mutate


def _files_of(write):
    """The files ``write(directory)`` creates, as ``{relative path: bytes}``."""
    d = tempfile.mkdtemp(prefix="fastssim-fuzz-seed-")
    try:
        write(d)
        out = {}
        for dirpath, _, names in os.walk(d):
            for n in names:
                full = os.path.join(dirpath, n)
                with open(full, "rb") as f:
                    out[os.path.relpath(full, d)] = f.read()
        return out
    finally:
        shutil.rmtree(d, ignore_errors=True)


def corpus(image):
    """``{name: (path to read, {relative path: bytes})}``: a small volume cut from ``image`` (an
    8-bit grey photo) in every volume format whose library is installed, and an MP4 of it."""
    vol = np.stack([image[4 * i:4 * i + 24, 3 * i:3 * i + 28] for i in range(6)]).astype(np.uint16) * 200
    items = {}

    def add(name, read, write, module):
        try:
            __import__(module)
        except ImportError:
            return
        items[name] = (read, _files_of(write))

    def nifti(d, ext):
        import nibabel as nib

        nib.save(nib.Nifti1Image(vol, np.diag([1.0, 0.5, 0.5, 1.0])), os.path.join(d, "v" + ext))

    add("nii", "v.nii", lambda d: nifti(d, ".nii"), "nibabel")
    add("nii.gz", "v.nii.gz", lambda d: nifti(d, ".nii.gz"), "nibabel")

    def nrrd_file(d, enc, detached):
        import nrrd

        nrrd.write(os.path.join(d, "v.nhdr" if detached else "v.nrrd"), vol, {"encoding": enc},
                   detached_header=detached)

    add("nrrd-raw", "v.nrrd", lambda d: nrrd_file(d, "raw", False), "nrrd")
    add("nrrd-gzip", "v.nrrd", lambda d: nrrd_file(d, "gzip", False), "nrrd")
    add("nhdr-gzip", "v.nhdr", lambda d: nrrd_file(d, "gzip", True), "nrrd")

    def hdf5(d):
        import h5py

        with h5py.File(os.path.join(d, "v.h5"), "w") as f:
            f.create_dataset("v", data=vol, chunks=(2, 12, 14), compression="gzip")
            f["v"].attrs["spacing"] = [1.0, 0.5, 0.5]

    add("h5", "v.h5", hdf5, "h5py")

    def mha(d):
        import SimpleITK as sitk

        sitk.WriteImage(sitk.GetImageFromArray(vol), os.path.join(d, "v.mha"), True)

    add("mha", "v.mha", mha, "SimpleITK")

    def zarr_store(d):
        import zarr

        a = zarr.create_array(os.path.join(d, "v.zarr"), shape=vol.shape, chunks=(2, 12, 14), dtype=vol.dtype,
                              fill_value=0)
        a[...] = vol + 1

    add("zarr", "v.zarr", zarr_store, "zarr")

    def dicom(d):
        from pydicom.dataset import FileDataset, FileMetaDataset
        from pydicom.uid import ExplicitVRLittleEndian, generate_uid

        os.makedirs(os.path.join(d, "series"))
        for i, plane in enumerate(vol):
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
            meta.MediaStorageSOPInstanceUID = generate_uid()
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            path = os.path.join(d, "series", f"s{i}.dcm")
            ds = FileDataset(path, {}, file_meta=meta, preamble=b"\0" * 128)
            ds.Rows, ds.Columns = plane.shape
            ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
            ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
            ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
            ds.ImagePositionPatient = [0.0, 0.0, 2.0 * i]
            ds.PixelSpacing = [0.5, 0.5]
            ds.InstanceNumber = i + 1
            ds.PixelData = np.ascontiguousarray(plane).tobytes()
            ds.save_as(path, enforce_file_format=True)

    add("dicom", "series", dicom, "pydicom")

    def mp4(d):
        import av

        with av.open(os.path.join(d, "v.mp4"), "w") as c:
            s = c.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
            for i in range(4):
                grey = np.ascontiguousarray(image[2 * i:2 * i + 48, :64])
                frame = av.VideoFrame.from_ndarray(np.dstack([grey] * 3), format="rgb24")
                for pkt in s.encode(frame):
                    c.mux(pkt)
            for pkt in s.encode():
                c.mux(pkt)

    add("mp4", "v.mp4", mp4, "av")
    return items


def _read(path):
    """``read_image`` (for a video: its frames decoded) under ``fuzz_readers.bounded``."""
    from fastssim.io import is_video, read_image
    from fastssim.io.video import Video

    def read():
        if not is_video(path):
            return read_image(path, max_pixels=MAX_PIXELS)
        with Video(path, MAX_PIXELS) as v:
            return [f[0] for f in v.frames("yuv")][:1] or None

    return bounded(read)


def _write(root, files):
    shutil.rmtree(root, ignore_errors=True)
    for rel, data in files.items():
        full = os.path.join(root, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)


def check_one(work, name, read, files, original, findings):
    from fastssim.batch import score_arrays

    findings.counts["inputs"] += 1
    _write(work, files)
    box = _read(os.path.join(work, read))
    blob = b"".join(f"--- {rel}\n".encode() + data for rel, data in sorted(files.items()))
    if "hang" in box:
        findings.add("hang", name, blob, f"reading {name} still running after {HANG_SECONDS} s")
        return
    if "bad" in box:
        e = box["bad"]
        findings.add("exception", name, blob, f"reading {name} raised {type(e).__name__}: {e}")
        return
    arr = box.get("arr")
    if arr is None:
        findings.counts["refused"] += 1
        return
    findings.counts["decoded"] += 1
    arr = arr[0] if isinstance(arr, list) else np.asarray(arr)
    if original is not None and arr.shape == original.shape:
        try:
            kw = {"data_range": 1.0} if arr.dtype.kind == "f" or original.dtype.kind == "f" else {}
            score_arrays(np.asarray(original), arr, metrics=("ssim", "psnr", "mse"), **kw)
            findings.counts["scored"] += 1
        except (ValueError, TypeError):
            pass
        except Exception as e:  # noqa: BLE001
            findings.add("scorer", name, blob, f"score_arrays raised {type(e).__name__}: {e}")


def run(seconds, seed, image, keep_dir, max_inputs=None):
    """Fuzz the volume and video readers for ``seconds``; returns the Findings (``counts`` also
    has ``formats``: the items the installed libraries could write)."""
    rng = random.Random(seed)
    items = corpus(image)
    work = tempfile.mkdtemp(prefix="fastssim-fuzz-vol-")
    originals = {}
    for name, (read, files) in items.items():
        _write(os.path.join(work, "orig"), files)
        box = _read(os.path.join(work, "orig", read))
        arr = box.get("arr")
        if arr is None:
            raise RuntimeError(f"the unmutated {name} item was not read: {box}")
        originals[name] = arr[0] if isinstance(arr, list) else np.asarray(arr)
    findings = Findings(keep_dir)
    findings.counts["formats"] = len(items)
    names = sorted(items)
    pool = [data for _, files in items.values() for data in files.values()]
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline and (max_inputs is None or findings.counts["inputs"] < max_inputs):
            name = rng.choice(names)
            read, files = items[name]
            victim = rng.choice(sorted(files))
            mutated = dict(files)
            mutated[victim] = mutate(files[victim], rng, pool)
            if len(files) > 1 and rng.random() < 0.1:  # a lost file: a chunk, a slice, a data file
                del mutated[rng.choice(sorted(files))]
            check_one(os.path.join(work, "in"), name, read, mutated, originals[name], findings)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return findings
