"""Faults in the volume and video formats found by the fault campaign of issue 33 (items 3, 5-9):
files that name other files (NRRD data files, MetaImage element files, HDF5 external links,
storage and virtual sources, DICOM slices, zarr chunks) are read only inside ``--root`` and only
when they are regular files; compressed payloads and chunks cannot allocate past the pixel cap;
a zarr chunk that is missing is an error unless asked for; single-pair mode honours
``--pair-timeout``; every message names the file."""

import bz2
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import fastssim
from fastssim.batch import Job
from fastssim.batch.pairs import Pair
from fastssim.io import ReadError, read_image

from test_cli import cli
from test_volumes_io import _dicom_series, _nifti, _volume

nrrd = pytest.importorskip("nrrd", reason="the [medical] extra (pynrrd) is not installed")
h5py = pytest.importorskip("h5py", reason="the [medical] extra (h5py) is not installed")
zarr = pytest.importorskip("zarr", reason="the [medical] extra (zarr) is not installed")


def _small():
    vol, dist = _volume()
    return np.ascontiguousarray(vol[:3, :20, :24]), np.ascontiguousarray(dist[:3, :20, :24])


def _scorable():
    """(12, 32, 40): large enough for the 3-D window."""
    vol, dist = _volume()
    return np.ascontiguousarray(vol[:, :32, :40]), np.ascontiguousarray(dist[:, :32, :40])


# ---------------------------------------------------------------- NRRD: the data read here, bounded

@pytest.mark.parametrize("encoding", ["raw", "gzip", "bzip2", "ascii"])
@pytest.mark.parametrize("detached", [False, True])
def test_nrrd_data_equal_pynrrd(tmp_path, encoding, detached):
    """The reader that replaced pynrrd's data read gives pynrrd's array, attached or detached."""
    vol, _ = _small()
    path = tmp_path / ("a.nhdr" if detached else "a.nrrd")
    nrrd.write(str(path), vol, {"encoding": encoding, "spacings": [2.0, 0.5, 0.7]}, detached_header=detached)
    want, _ = nrrd.read(str(path))
    got = read_image(str(path))
    assert got.dtype == want.dtype and got.shape == want.shape and np.array_equal(got, want)
    assert got.spacing == (2.0, 0.5, 0.7)


@pytest.mark.parametrize("encoding, pack", [("raw", lambda b: b), ("gzip", gzip.compress), ("bzip2", bz2.compress)])
def test_nrrd_byte_and_line_skips(tmp_path, encoding, pack):
    vol, _ = _small()
    data = vol.astype("<u2").tobytes()
    (tmp_path / "d.bin").write_bytes(b"first line\nsecond\n" + pack(b"\x07" * 5 + data))
    head = (f"NRRD0004\ntype: uint16\ndimension: 3\nsizes: 24 20 3\nendian: little\nencoding: {encoding}\n"
            "line skip: 2\nbyte skip: {skip}\ndata file: d.bin\n\n")
    if encoding == "raw":
        (tmp_path / "e.bin").write_bytes(b"junk" * 10 + data)
        (tmp_path / "tail.nhdr").write_text(head.replace("line skip: 2\n", "").replace("{skip}", "-1")
                                            .replace("d.bin", "e.bin"))
        assert np.array_equal(read_image(str(tmp_path / "tail.nhdr")), vol.T)
    (tmp_path / "a.nhdr").write_text(head.replace("{skip}", "5"))
    assert np.array_equal(read_image(str(tmp_path / "a.nhdr")), vol.T)


def test_nrrd_gzip_bomb_refused_without_inflating_it(tmp_path):
    bomb = gzip.compress(b"\0" * (200 << 20), compresslevel=9)  # 200 MB of zeros in about 200 kB
    (tmp_path / "bomb.nrrd").write_bytes(b"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4 4 4\nencoding: gzip\n\n"
                                         + bomb)
    tracemalloc.start()
    try:
        with pytest.raises(ReadError, match="bomb.nrrd: its gzip data inflate to more than the 64 bytes its header"):
            read_image(str(tmp_path / "bomb.nrrd"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # pynrrd held the whole payload and all it inflated to


def test_nrrd_truncated_and_multi_file(tmp_path):
    vol, _ = _small()
    nrrd.write(str(tmp_path / "a.nrrd"), vol, {"encoding": "gzip"})
    raw = (tmp_path / "a.nrrd").read_bytes()
    (tmp_path / "t.nrrd").write_bytes(raw[:len(raw) - 40])
    with pytest.raises(ReadError, match="t.nrrd: its gzip data end early"):
        read_image(str(tmp_path / "t.nrrd"))
    (tmp_path / "l.nhdr").write_text("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4 4 2\nencoding: raw\n"
                                     "data file: x%d.raw 1 2 1\n\n")
    with pytest.raises(ReadError, match=r"l.nhdr spreads its data over several files"):
        read_image(str(tmp_path / "l.nhdr"))


def _fifo(path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    os.mkfifo(path)
    return path


def _header_naming(tmp_path, target, encoding="raw"):
    (tmp_path / "x.nhdr").write_text(f"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 4 4 4\nencoding: {encoding}\n"
                                     f"data file: {target}\n\n")
    return str(tmp_path / "x.nhdr")


@pytest.mark.parametrize("target, what", [("/dev/zero", "a device"), ("fifo", "a FIFO"), ("/", "a directory")])
def test_nrrd_data_file_that_is_not_a_file(tmp_path, target, what):
    if target == "fifo":
        target = _fifo(tmp_path / "fifo")
    header = _header_naming(tmp_path, target, encoding="gzip")
    t0 = time.monotonic()
    with pytest.raises(ReadError, match=f"x.nhdr refers to a file that cannot be read: .* is {what}"):
        read_image(header)
    assert time.monotonic() - t0 < 5  # refused, never opened (a FIFO would block, /dev/zero never end)


# ---------------------------------------------------------------- files outside --root

def _outside_and_root(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    return root, outside


def test_nrrd_and_metaimage_data_files_outside_the_root(tmp_path):
    root, outside = _outside_and_root(tmp_path)
    vol, _ = _small()
    vol.astype(np.uint8).tofile(outside / "x.raw")
    for name, header in (("abs.nhdr", f"data file: {outside / 'x.raw'}"), ("rel.nhdr", "data file: ../outside/x.raw")):
        (root / name).write_text(f"NRRD0004\ntype: uint8\ndimension: 3\nsizes: 24 20 3\nencoding: raw\n{header}\n\n")
        assert np.array_equal(read_image(str(root / name)), vol.astype(np.uint8).T)  # no root: read
        with pytest.raises(ReadError, match=f"{name} refers to .*x.raw, which resolves to {outside / 'x.raw'}, "
                                            f"outside the root {root}"):
            read_image(str(root / name), root=str(root))
    sitk = pytest.importorskip("SimpleITK", reason="the [itk] extra (SimpleITK) is not installed")
    img = sitk.GetImageFromArray(vol)
    sitk.WriteImage(img, str(root / "m.mhd"))
    header = (root / "m.mhd").read_text()
    data_name = [ln.split("=")[1].strip() for ln in header.splitlines() if ln.startswith("ElementDataFile")][0]
    assert np.array_equal(read_image(str(root / "m.mhd"), root=str(root)), vol)  # its own data file: read
    shutil.move(root / data_name, outside / data_name)
    (root / "m.mhd").write_text(header.replace(f"ElementDataFile = {data_name}",
                                               f"ElementDataFile = {outside / data_name}"))
    assert np.array_equal(read_image(str(root / "m.mhd")), vol)
    with pytest.raises(ReadError, match=f"m.mhd refers to .*, outside the root {root}"):
        read_image(str(root / "m.mhd"), root=str(root))
    _fifo(root / "f.raw")
    (root / "f.mhd").write_text(header.replace(f"ElementDataFile = {data_name}", "ElementDataFile = f.raw"))
    with pytest.raises(ReadError, match="f.mhd refers to a file that cannot be read: .*f.raw is a FIFO"):
        read_image(str(root / "f.mhd"))


def test_hdf5_links_storage_and_virtual_sources_outside_the_root(tmp_path, monkeypatch):
    root, outside = _outside_and_root(tmp_path)
    vol, _ = _small()
    with h5py.File(outside / "o.h5", "w") as f:
        f["data"] = vol
    with h5py.File(root / "link.h5", "w") as f:
        f["v"] = h5py.ExternalLink(str(outside / "o.h5"), "/data")
        f["soft"] = h5py.SoftLink("/v")
    for key in ("v", "soft"):
        assert np.array_equal(read_image(f"{root / 'link.h5'}::{key}"), vol)
        with pytest.raises(ReadError, match=f"link.h5 refers to .*o.h5, which resolves to .*, outside the root {root}"):
            read_image(f"{root / 'link.h5'}::{key}", root=str(root))
    vol.tofile(outside / "ext.raw")
    monkeypatch.chdir(root)  # HDF5 opens external storage from the working directory
    with h5py.File(root / "ext.h5", "w") as f:
        f.create_dataset("x", shape=vol.shape, dtype=vol.dtype, external=[(str(outside / "ext.raw"), 0, vol.nbytes)])
    assert np.array_equal(read_image(str(root / "ext.h5")), vol)
    with pytest.raises(ReadError, match=f"ext.h5 refers to .*ext.raw, which resolves to .*, outside the root {root}"):
        read_image(str(root / "ext.h5"), root=str(root))
    layout = h5py.VirtualLayout(shape=vol.shape, dtype=vol.dtype)
    layout[:] = h5py.VirtualSource(str(outside / "o.h5"), "data", shape=vol.shape)
    with h5py.File(root / "vds.h5", "w") as f:
        f.create_virtual_dataset("v", layout)
    assert np.array_equal(read_image(str(root / "vds.h5")), vol)
    with pytest.raises(ReadError, match=f"vds.h5 refers to .*o.h5, which resolves to .*, outside the root {root}"):
        read_image(str(root / "vds.h5"), root=str(root))
    _fifo(root / "pipe.raw")
    with h5py.File(root / "fifo.h5", "w") as f:
        f.create_dataset("x", shape=(4, 4), dtype="u1", external=[("pipe.raw", 0, 16)])
    with pytest.raises(ReadError, match="fifo.h5 refers to a file that cannot be read: .*pipe.raw is a FIFO"):
        read_image(str(root / "fifo.h5"))


def test_dicom_slices_linked_out_of_the_root_or_not_files(tmp_path):
    root, outside = _outside_and_root(tmp_path)
    vol, _ = _small()
    _dicom_series(root / "s", vol)
    assert np.array_equal(read_image(str(root / "s"), root=str(root)), vol)
    victim = sorted(os.listdir(root / "s"))[0]
    shutil.move(root / "s" / victim, outside / victim)
    os.symlink(outside / victim, root / "s" / victim)
    assert np.array_equal(read_image(str(root / "s")), vol)
    with pytest.raises(ReadError, match=f"s refers to .*{victim}, which resolves to .*, outside the root {root}"):
        read_image(str(root / "s"), root=str(root))
    _fifo(root / "s" / "zz.dcm")
    t0 = time.monotonic()
    with pytest.raises(ReadError, match="s refers to a file that cannot be read: .*zz.dcm is a FIFO"):
        read_image(str(root / "s"))
    assert time.monotonic() - t0 < 5


def test_manifest_run_refuses_a_data_file_outside_root_as_an_error_row(tmp_path):
    root, outside = _outside_and_root(tmp_path)
    vol, dist = _small()
    for name, arr in (("ref", vol), ("ok", dist), ("far", dist)):
        arr.astype(np.uint8).tofile((outside if name == "far" else root) / f"{name}.raw")
        (root / f"{name}.nhdr").write_text("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 24 20 3\nencoding: raw\n"
                                           f"data file: {(outside if name == 'far' else root) / f'{name}.raw'}\n\n")
    pd.DataFrame({"ref": ["ref.nhdr", "ref.nhdr"], "dist": ["ok.nhdr", "far.nhdr"]}).to_csv(root / "m.csv", index=False)
    r = cli("score", "--manifest", root / "m.csv", "-o", tmp_path / "out", "--quiet", "--metrics", "ssim")
    assert r.returncode == 1, r.stderr
    df = pd.read_parquet(tmp_path / "out").set_index("dist")
    assert df.loc["ok.nhdr", "status"] == "ok"
    assert df.loc["far.nhdr", "status"] == "error"
    assert f"far.nhdr refers to {outside / 'far.raw'}, which resolves to" in df.loc["far.nhdr", "error"]
    assert f"outside the root {root}" in df.loc["far.nhdr", "error"]


# ---------------------------------------------------------------- zarr: missing chunks, chunk sizes, files

def _store(path, vol, chunks=(4, 16, 16), **kw):
    a = zarr.create_array(str(path), shape=vol.shape, chunks=chunks, dtype=vol.dtype, fill_value=0, **kw)
    a[...] = vol
    return a


def test_zarr_missing_chunk_is_an_error_naming_it_unless_fill_is_asked(tmp_path):
    vol, _ = _scorable()
    vol = vol + 1  # no chunk holds only the fill value
    _store(tmp_path / "a.zarr", vol)
    assert np.array_equal(read_image(str(tmp_path / "a.zarr")), vol)
    os.remove(tmp_path / "a.zarr" / "c" / "1" / "0" / "2")
    with pytest.raises(ReadError, match=r"a.zarr: 1 of the 18 chunks of its array are missing \(e.g. c/1/0/2\); .*"
                                        r"pass --missing-chunks fill to read them as the fill value \(0\)"):
        read_image(str(tmp_path / "a.zarr"))
    got = read_image(str(tmp_path / "a.zarr"), missing_chunks="fill")
    want = vol.copy()
    want[4:8, 0:16, 32:40] = 0
    assert np.array_equal(got, want)
    job = Job(str(tmp_path), {None: str(tmp_path)}, metrics="ssim")
    shutil.copytree(tmp_path / "a.zarr", tmp_path / "b.zarr")
    row = job(Pair(None, "a.zarr", "b.zarr"))
    assert row["status"] == "error" and "a.zarr: 1 of the 18 chunks" in row["error"]
    filled = Job(str(tmp_path), {None: str(tmp_path)}, metrics="ssim", missing_chunks="fill")(
        Pair(None, "a.zarr", "b.zarr"))
    assert filled["status"] == "ok" and filled["ssim"] == 1.0


def test_zarr_written_without_empty_chunks_and_the_command(tmp_path):
    """zarr leaves out a chunk of fill values when it writes: an error by default (it cannot be told
    from a lost chunk), read exactly with --missing-chunks fill."""
    vol, dist = _scorable()
    vol[:4, :16, :16] = 0
    _store(tmp_path / "r.zarr", vol)
    _store(tmp_path / "d.zarr", vol)
    assert not os.path.exists(tmp_path / "r.zarr" / "c" / "0" / "0" / "0")
    r = cli("score", tmp_path / "r.zarr", tmp_path / "d.zarr", "--json")
    assert r.returncode == 1 and "of the 18 chunks of its array are missing" in r.stdout + r.stderr
    r = cli("score", tmp_path / "r.zarr", tmp_path / "d.zarr", "--json", "--missing-chunks", "fill")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ssim"] == 1.0
    assert np.array_equal(read_image(str(tmp_path / "r.zarr"), missing_chunks="fill"), vol)


def test_chunks_over_the_pixel_cap_are_refused_before_reading(tmp_path):
    """A chunk is decompressed whole, so a chunk over the cap is refused from the metadata alone,
    whatever the array's shape. At the default cap (2**28) the stores declare 16x8000x8000 chunks
    but hold none (a written one would allocate 1 GB here, in the test); at a cap of 100,000 a
    16x40x48 volume really written in 16x100x100 chunks is refused, and read when the cap allows."""
    small = np.ones((16, 40, 48), np.uint8)
    zarr.create_array(str(tmp_path / "big.zarr"), shape=small.shape, chunks=(16, 8000, 8000), dtype="u1",
                      fill_value=0)
    with h5py.File(tmp_path / "big.h5", "w") as f:
        f.create_dataset("x", shape=small.shape, dtype="u1", chunks=(16, 8000, 8000), maxshape=(None, None, None))
    z = zarr.create_array(str(tmp_path / "mid.zarr"), shape=small.shape, chunks=(16, 100, 100), dtype="u1",
                          fill_value=0)
    z[...] = small
    with h5py.File(tmp_path / "mid.h5", "w") as f:
        f.create_dataset("x", data=small, chunks=(16, 100, 100), maxshape=(None, None, None), compression="gzip")
    for path in ("big.zarr", "big.h5"):
        with pytest.raises(ReadError, match=rf"{path} stores its data in chunks of 16x8000x8000 \(1024000000 values\), "
                                            "over the cap of 268435456"):
            read_image(str(tmp_path / path))
    for path in ("mid.zarr", "mid.h5"):
        with pytest.raises(ReadError, match=rf"{path} stores its data in chunks of 16x100x100 \(160000 values\), "
                                            "over the cap of 100000: .*raise --max-pixels if the file is trusted"):
            read_image(str(tmp_path / path), max_pixels=100_000)
        assert np.array_equal(read_image(str(tmp_path / path), max_pixels=160_000), small)  # when trusted


def test_zarr_chunk_files_that_are_not_files_or_outside_the_root(tmp_path):
    root, outside = _outside_and_root(tmp_path)
    vol, _ = _small()
    _store(root / "a.zarr", vol + 1)
    chunk = root / "a.zarr" / "c" / "0" / "0" / "0"
    shutil.move(chunk, outside / "chunk")
    os.symlink(outside / "chunk", chunk)
    assert np.array_equal(read_image(str(root / "a.zarr")), vol + 1)
    with pytest.raises(ReadError, match=f"a.zarr refers to .*c/0/0/0, which resolves to .*, outside the root {root}"):
        read_image(str(root / "a.zarr"), root=str(root))
    os.remove(chunk)
    _fifo(chunk)
    t0 = time.monotonic()
    with pytest.raises(ReadError, match="a.zarr: c/0/0/0 is not a regular file"):
        read_image(str(root / "a.zarr"))
    assert time.monotonic() - t0 < 5


# ---------------------------------------------------------------- single-pair mode, messages, minor

def test_single_pair_mode_honours_pair_timeout(tmp_path):
    """A read that never returns (stood in for by a reader that sleeps) ends at --pair-timeout
    in single-pair mode too, as an error with its reason (exit 1), not a hang."""
    vol, dist = _small()
    np.save(tmp_path / "a.npy", vol)
    np.save(tmp_path / "b.npy", dist)
    code = ("import sys, time; import fastssim.batch.score as s; s.Job.read = lambda self, p, *a: time.sleep(120); "
            "from fastssim.cli import main; sys.exit(main(sys.argv[1:]))")
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-c", code, "score", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                        "--json", "--pair-timeout", "2"], capture_output=True, text=True, timeout=100)
    assert time.monotonic() - t0 < 60
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "error" and out["error"].startswith("gave up after 2 s")


def test_nifti_offset_past_the_end_and_warnings_in_the_row(tmp_path):
    vol, dist = _scorable()
    _nifti(tmp_path / "a.nii", vol)
    raw = bytearray((tmp_path / "a.nii").read_bytes())
    raw[108:112] = np.float32(1e12).tobytes()  # vox_offset
    (tmp_path / "far.nii").write_bytes(bytes(raw))
    with pytest.raises(ReadError, match=r"far.nii: its header puts 30720 bytes of data at byte \d+, past the end"):
        read_image(str(tmp_path / "far.nii"))
    raw = bytearray((tmp_path / "a.nii").read_bytes())
    raw[252:254] = np.int16(7).tobytes()  # qform_code 7: not a NIfTI code, nibabel warns
    (tmp_path / "w.nii").write_bytes(bytes(raw))
    _nifti(tmp_path / "d.nii", dist)
    r = cli("score", tmp_path / "w.nii", tmp_path / "d.nii", "--json", "--data-range", "65535")
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if not line.startswith("compiling SSIM kernels")]  # a cold cache
    assert said == ["warning: w.nii: qform_code 7 not valid; setting to 0"]  # once, said as fastssim says things
    df_dir = tmp_path / "t"
    df_dir.mkdir()
    for name in ("w.nii", "d.nii"):
        shutil.copy(tmp_path / name, df_dir / name)
    pd.DataFrame({"ref": ["w.nii"], "dist": ["d.nii"]}).to_csv(df_dir / "m.csv", index=False)
    r = cli("score", "--manifest", df_dir / "m.csv", "-o", tmp_path / "out", "--data-range", "65535", "--quiet")
    assert r.returncode == 0 and "qform" not in r.stderr, r.stderr
    assert pd.read_parquet(tmp_path / "out").warning[0] == "w.nii: qform_code 7 not valid; setting to 0"


def test_dicom_multi_frame_and_unordered_slices_are_named(tmp_path):
    pydicom = pytest.importorskip("pydicom")
    vol, _ = _small()
    _dicom_series(tmp_path / "s", vol, shuffle=False)
    first = sorted(os.listdir(tmp_path / "s"))[0]
    ds = pydicom.dcmread(tmp_path / "s" / first)
    ds.NumberOfFrames = 2
    ds.PixelData = np.ascontiguousarray(np.stack([vol[0], vol[1]])).tobytes()
    ds.save_as(tmp_path / "s" / first)
    with pytest.raises(ReadError, match=rf"s/{first} holds frames of shape \(2, 20, 24\), not one grey slice of "
                                        "20x24"):
        read_image(str(tmp_path / "s"))
    _dicom_series(tmp_path / "u", vol, shuffle=False)
    for f in os.listdir(tmp_path / "u"):
        ds = pydicom.dcmread(tmp_path / "u" / f)
        del ds.ImagePositionPatient
        ds.InstanceNumber = ""
        ds.save_as(tmp_path / "u" / f)
    with pytest.raises(ReadError, match=r"u/img000.dcm has neither a slice position .* nor an InstanceNumber"):
        read_image(str(tmp_path / "u"))


def test_damaged_mp4_header_is_a_read_error_naming_the_file(tmp_path):
    av = pytest.importorskip("av", reason="the [video] extra (PyAV) is not installed")
    with av.open(str(tmp_path / "v.mp4"), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")
            for pkt in s.encode(frame):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    raw = (tmp_path / "v.mp4").read_bytes()
    entry = raw.index(b"avc1", raw.index(b"stsd"))  # the sample entry's codec tag, not the brand
    (tmp_path / "bad.mp4").write_bytes(raw[:entry] + b"\0\0\0\0" + raw[entry + 4:])
    r = cli("score", tmp_path / "v.mp4", tmp_path / "bad.mp4", "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["status"] == "error" and out["error"].startswith("bad.mp4: no decoder for its video stream")
    assert "AttributeError" not in r.stdout + r.stderr


def test_manifest_row_with_a_nul_byte_is_its_own_error_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    vol, dist = _small()
    np.save(tmp_path / "a.npy", vol[0])
    np.save(tmp_path / "b.npy", dist[0])
    pq.write_table(pa.table({"ref": ["a.npy", "a.npy"], "dist": ["b.npy", "b\0.npy"]}), tmp_path / "m.parquet")
    r = cli("score", "--manifest", tmp_path / "m.parquet", "-o", tmp_path / "out", "--quiet", "--metrics", "ssim")
    assert r.returncode == 1, r.stderr
    df = pd.read_parquet(tmp_path / "out").set_index("dist")
    assert df.loc["b.npy", "status"] == "ok"
    assert df.loc["b\0.npy", "status"] == "error" and "holds a NUL byte" in df.loc["b\0.npy", "error"]


def test_a_file_whose_name_holds_the_key_separator(tmp_path):
    vol, dist = _small()
    np.save(tmp_path / "x::y.npy", vol[0])
    np.save(tmp_path / "d.npy", dist[0])
    r = cli("score", tmp_path / "x::y.npy", tmp_path / "d.npy", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ssim"] == pytest.approx(fastssim.ssim(vol[0], dist[0]), abs=1e-12)
    with h5py.File(tmp_path / "v.h5", "w") as f:
        f["a"], f["b"] = vol, dist
    assert np.array_equal(read_image(f"{tmp_path / 'v.h5'}::b"), dist)  # the key still works


def test_dask_arrays_with_unknown_chunks_are_refused_with_the_fix():
    da = pytest.importorskip("dask.array")
    import fastssim.dask

    x = da.from_array(np.random.default_rng(0).random((64, 64)), chunks=16)
    x = x[x[:, 0] > 0.2]
    with pytest.raises(ValueError, match=r"x has unknown chunk sizes \(shape \(nan, 64\)\).*compute_chunk_sizes"):
        fastssim.dask.ssim(x, x, data_range=1.0)
