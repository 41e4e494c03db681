"""NIfTI, NRRD and HDF5 volumes: written by their own libraries, read back exactly, scored with
their voxel spacing, and every bad case an error row or a refusal that says what to do."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import fastssim
from fastssim.io import ReadError, missing_extras, read_image
from images import camera, noise

nib = pytest.importorskip("nibabel", reason="the [medical] extra (nibabel) is not installed")
nrrd = pytest.importorskip("nrrd", reason="the [medical] extra (pynrrd) is not installed")
h5py = pytest.importorskip("h5py", reason="the [medical] extra (h5py) is not installed")


def _volume(seed=0):
    """A (12, 64, 72) uint16 volume of camera crops, and a noisy copy."""
    cam = camera().astype(np.uint16) * 64
    vol = np.stack([cam[10 * i:10 * i + 64, 7 * i:7 * i + 72] for i in range(12)])
    rng = np.random.default_rng(seed)
    dist = np.clip(vol + rng.normal(0, 900, vol.shape), 0, 65535).astype(np.uint16)
    return vol, dist


def _nifti(path, arr, zooms=(1.0, 0.5, 0.5), slope=None, inter=None):
    img = nib.Nifti1Image(arr, np.diag(list(zooms[:3]) + [1.0]))
    img.header.set_zooms(zooms)
    if slope is not None:
        img.header.set_slope_inter(slope, inter)
    nib.save(img, str(path))


def test_nifti_read_exactly_with_spacing_and_scaling(tmp_path):
    vol, _ = _volume()
    _nifti(tmp_path / "a.nii.gz", vol, zooms=(2.0, 0.7, 0.7))
    got = read_image(str(tmp_path / "a.nii.gz"))
    assert got.dtype == np.uint16 and np.array_equal(got, vol) and got.spacing == pytest.approx((2.0, 0.7, 0.7))
    # stored as int16 with a slope and an intercept: the scaled values, float
    raw = (vol // 4).astype(np.int16)
    _nifti(tmp_path / "s.nii", raw, slope=0.5, inter=-10.0)
    got = read_image(str(tmp_path / "s.nii"))
    np.testing.assert_allclose(got, raw * 0.5 - 10.0, rtol=0, atol=1e-12)
    # 4-D (a time series): refused with the reason
    _nifti(tmp_path / "t.nii", np.zeros((4, 8, 8, 3), np.uint8), zooms=(1, 1, 1, 1))
    with pytest.raises(ReadError, match=r"t.nii holds a 4-D image of shape \(4, 8, 8, 3\); .*split a time series"):
        read_image(str(tmp_path / "t.nii"))
    with pytest.raises(ReadError, match="over the cap"):
        read_image(str(tmp_path / "a.nii.gz"), max_pixels=1000)
    (tmp_path / "bad.nii").write_bytes(b"not a nifti header at all" * 20)
    with pytest.raises(ReadError, match="cannot read the NIfTI header of bad.nii"):
        read_image(str(tmp_path / "bad.nii"))


def test_nrrd_and_hdf5(tmp_path):
    vol, _ = _volume()
    nrrd.write(str(tmp_path / "a.nrrd"), vol, {"spacings": [2.0, 0.5, 0.5]})
    got = read_image(str(tmp_path / "a.nrrd"))
    assert np.array_equal(got, vol) and got.spacing == (2.0, 0.5, 0.5)
    with h5py.File(tmp_path / "one.h5", "w") as f:
        f.create_dataset("ct", data=vol).attrs["spacing"] = [2.0, 0.5, 0.5]
    got = read_image(str(tmp_path / "one.h5"))
    assert np.array_equal(got, vol) and got.spacing == (2.0, 0.5, 0.5)
    with h5py.File(tmp_path / "two.h5", "w") as f:
        f.create_dataset("scans/ct", data=vol)
        f.create_dataset("scans/mask", data=vol > 100)
    with pytest.raises(ReadError, match=r"two.h5 holds 2 datasets .*name one as two.h5::KEY"):
        read_image(str(tmp_path / "two.h5"))
    assert np.array_equal(read_image(str(tmp_path / "two.h5") + "::scans/ct"), vol)
    with pytest.raises(ReadError, match="two.h5 has no dataset 'scans/pet'"):
        read_image(str(tmp_path / "two.h5") + "::scans/pet")
    with pytest.raises(ReadError, match="applies to HDF5 files and zarr stores only"):
        read_image(str(tmp_path / "a.nrrd") + "::x")


def test_missing_extra_is_named(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda m, *a: None if m == "nibabel" else real(m, *a))
    assert missing_extras(["a/x.nii.gz", "b/y.png", "c/z.nii"]) == {
        ".nii.gz": ".nii.gz files need nibabel: pip install 'fastssim[medical]'",
        ".nii": ".nii files need nibabel: pip install 'fastssim[medical]'"}
    monkeypatch.setitem(sys.modules, "nibabel", None)  # installed but not importable
    with pytest.raises(ReadError, match=r"reading x.nii needs nibabel: pip install 'fastssim\[medical\]'"):
        from fastssim.io.volumes import read_nifti
        read_nifti("x.nii", 100)


def test_scored_with_spacing_and_mismatches_as_rows(tmp_path):
    (tmp_path / "ref").mkdir()
    (tmp_path / "dist").mkdir()
    vols = []
    for i in range(3):
        vol, dist = _volume(seed=i)
        vols.append((vol, dist))
        _nifti(tmp_path / "ref" / f"s{i}.nii.gz", vol, zooms=(2.0, 0.5, 0.5))
        # the third distorted volume was resampled: another spacing
        _nifti(tmp_path / "dist" / f"s{i}.nii.gz", dist, zooms=(2.0, 0.5, 0.5) if i < 2 else (1.0, 0.5, 0.5))
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "fastssim.cli", "score", str(tmp_path / "ref"), str(tmp_path / "dist"),
                        "-o", str(out), "--metrics", "ssim,psnr", "--quiet"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 1, r.stderr  # one pair could not be scored
    df = pd.read_parquet(out).sort_values("ref")
    assert list(df.status) == ["ok", "ok", "error"]
    for i, row in enumerate(df.itertuples()):
        if i < 2:
            assert list(row.spacing) == pytest.approx([2.0, 0.5, 0.5])
            assert row.ssim == pytest.approx(fastssim.ssim(*vols[i]), abs=1e-6)
            assert row.psnr == pytest.approx(fastssim.psnr(*vols[i]), abs=1e-9)
        else:
            assert "voxel spacing differs: ref (2.0, 0.5, 0.5) vs dist (1.0, 0.5, 0.5)" in row.error
    got = json.loads(subprocess.run([sys.executable, "-m", "fastssim.cli", "report", str(out), "--format", "json"],
                                    capture_output=True, text=True, timeout=300).stdout)
    assert got["methods"][0]["ok"] == 2 and got["methods"][0]["error"] == 1


def test_manifest_with_hdf5_keys(tmp_path):
    vol, dist = _volume()
    with h5py.File(tmp_path / "study.h5", "w") as f:
        f.create_dataset("ref", data=vol)
        f.create_dataset("recon_a", data=dist)
        f.create_dataset("recon_b", data=noise(vol, 3000.0).astype(np.uint16))
    pd.DataFrame({"ref": ["study.h5::ref", "study.h5::ref"], "dist": ["study.h5::recon_a", "study.h5::recon_b"],
                  "method": ["a", "b"]}).to_csv(tmp_path / "pairs.csv", index=False)
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "fastssim.cli", "score", "--manifest", str(tmp_path / "pairs.csv"),
                        "-o", str(out), "--metrics", "ssim", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(out).set_index("method")
    assert df.loc["a", "ssim"] == pytest.approx(fastssim.ssim(vol, dist), abs=1e-6)
    assert df.loc["b", "ssim"] < df.loc["a", "ssim"]


def _dicom_series(directory, vol, spacing=(2.5, 0.8, 0.8), slope=1.0, intercept=0.0, shuffle=True):
    """Write ``vol`` (slices, rows, cols; uint16) as one .dcm file per slice with pydicom, file
    names in a shuffled order (the reader must order by position)."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid
    directory.mkdir(parents=True)
    order = np.random.default_rng(3).permutation(len(vol)) if shuffle else np.arange(len(vol))
    for k, i in enumerate(order):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(str(directory / f"img{k:03d}.dcm"), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.Rows, ds.Columns = vol.shape[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, -40.0 + spacing[0] * int(i)]
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.InstanceNumber = int(i) + 1
        if slope != 1.0 or intercept != 0.0:
            ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.PixelData = np.ascontiguousarray(vol[i]).tobytes()
        ds.save_as(str(directory / f"img{k:03d}.dcm"), enforce_file_format=True)
    return pydicom


def test_dicom_series(tmp_path):
    vol, dist = _volume()
    _dicom_series(tmp_path / "ref" / "case1", vol)
    got = read_image(str(tmp_path / "ref" / "case1"))
    assert got.dtype == np.uint16 and np.array_equal(got, vol)  # ordered by position, not file name
    assert got.spacing == pytest.approx((2.5, 0.8, 0.8))
    _dicom_series(tmp_path / "ct", vol // 2, slope=2.0, intercept=-1024.0)
    np.testing.assert_array_equal(read_image(str(tmp_path / "ct")), (vol // 2).astype(np.float64) * 2 - 1024)
    _dicom_series(tmp_path / "dist" / "case1", dist)
    # the same tree layout scored by the CLI: each series directory is one volume
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "fastssim.cli", "score", str(tmp_path / "ref"), str(tmp_path / "dist"),
                        "-o", str(out), "--metrics", "ssim", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    row = pd.read_parquet(out).iloc[0]
    assert row.ref == "case1" and row.ssim == pytest.approx(fastssim.ssim(vol, dist), abs=1e-6)
    assert list(row.spacing) == pytest.approx([2.5, 0.8, 0.8])
    # two series as one pair on the command line
    r = subprocess.run([sys.executable, "-m", "fastssim.cli", "score", str(tmp_path / "ref" / "case1"),
                        str(tmp_path / "dist" / "case1"), "--json"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ssim"] == pytest.approx(fastssim.ssim(vol, dist), abs=1e-6)
    # a damaged slice and a slice of another size: read errors naming the file
    (tmp_path / "ct" / "zz.dcm").write_bytes(b"\0" * 200)
    with pytest.raises(ReadError, match="cannot read the DICOM header of ct/zz.dcm"):
        read_image(str(tmp_path / "ct"))
    _dicom_series(tmp_path / "mixed", vol[:3])
    _dicom_series(tmp_path / "small", vol[:1, :32, :32])
    import shutil
    shutil.copy(next((tmp_path / "small").glob("*.dcm")), tmp_path / "mixed" / "odd.dcm")
    with pytest.raises(ReadError, match=r"mixed: its slices differ in size \[\(32, 32\), \(64, 72\)\]"):
        read_image(str(tmp_path / "mixed"))


def test_dicom_without_pydicom_is_refused_up_front(tmp_path, monkeypatch):
    import importlib.util

    vol, _ = _volume()
    _dicom_series(tmp_path / "s", vol[:2])
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda m, *a: None if m == "pydicom" else real(m, *a))
    assert missing_extras([str(tmp_path / "s")]) == {
        "series": "DICOM series (directories of .dcm files) need pydicom: pip install 'fastssim[medical]'"}


def test_zarr_stores_plain_nested_and_ome(tmp_path):
    zarr = pytest.importorskip("zarr", reason="the [medical] extra (zarr) is not installed")
    vol, dist = _volume()
    z = zarr.open_array(str(tmp_path / "one.zarr"), mode="w", shape=vol.shape, dtype=vol.dtype, chunks=(4, 32, 32))
    z[...] = vol
    z.attrs["spacing"] = [2.0, 0.5, 0.5]
    got = read_image(str(tmp_path / "one.zarr"))
    assert np.array_equal(got, vol) and got.spacing == (2.0, 0.5, 0.5)
    g = zarr.open_group(str(tmp_path / "two.zarr"), mode="w")
    g.create_array("scans/ct", data=vol)
    g.create_array("scans/mr", data=dist)
    with pytest.raises(ReadError, match=r"two.zarr holds 2 arrays \['scans/ct', 'scans/mr'\]; name one as "
                                        r"two.zarr::KEY"):
        read_image(str(tmp_path / "two.zarr"))
    assert np.array_equal(read_image(str(tmp_path / "two.zarr") + "::scans/mr"), dist)
    with pytest.raises(ReadError, match="two.zarr has no array 'scans/pet'"):
        read_image(str(tmp_path / "two.zarr") + "::scans/pet")
    with pytest.raises(ReadError, match=r"two.zarr::scans is a group, not an array"):
        read_image(str(tmp_path / "two.zarr") + "::scans")
    with pytest.raises(ReadError, match="over the cap"):
        read_image(str(tmp_path / "two.zarr") + "::scans/ct", max_pixels=1000)
    # OME-Zarr (NGFF 0.4): the full resolution, its scale as the spacing, t and c of one entry dropped
    ome = zarr.open_group(str(tmp_path / "cells.zarr"), mode="w")
    ome.create_array("0", data=vol[None, None])
    ome.create_array("1", data=vol[None, None, :, ::2, ::2])
    axes = [{"name": "t", "type": "time"}, {"name": "c", "type": "channel"}] + [
        {"name": a, "type": "space", "unit": "micrometer"} for a in "zyx"]
    ome.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [
        {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1, 3.0, 0.25, 0.25]}]},
        {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [1, 1, 3.0, 0.5, 0.5]}]}]}]
    got = read_image(str(tmp_path / "cells.zarr"))
    assert np.array_equal(got, vol) and got.spacing == (3.0, 0.25, 0.25)
    two = zarr.open_group(str(tmp_path / "multi.zarr"), mode="w")
    two.create_array("0", data=np.stack([vol, vol])[None])
    two.attrs["multiscales"] = [{"version": "0.4", "axes": axes, "datasets": [{"path": "0"}]}]
    with pytest.raises(ReadError, match=r"multi.zarr: the OME-Zarr image has 1 axis\(es\) \['c'\] of more than one"):
        read_image(str(tmp_path / "multi.zarr"))
    with pytest.raises(ReadError, match="a dataset key .* applies to HDF5 files and zarr stores only"):
        read_image(str(tmp_path / "x.npy") + "::a")
    # stores in trees are one item each: scored as a CLI run, spacing in the rows
    for side, arr in (("ref", vol), ("dist", dist)):
        zarr.open_array(str(tmp_path / side / "s.zarr"), mode="w", shape=arr.shape, dtype=arr.dtype)[...] = arr
    r = subprocess.run([sys.executable, "-m", "fastssim.cli", "score", tmp_path / "ref", tmp_path / "dist", "-o",
                        tmp_path / "out", "--quiet"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    df = pd.read_parquet(tmp_path / "out")
    assert list(df["ref"]) == ["s.zarr"]
    assert df["ssim"][0] == pytest.approx(fastssim.ssim(vol, dist), abs=1e-12)


def test_metaimage_mha_and_mhd(tmp_path):
    sitk = pytest.importorskip("SimpleITK", reason="the [itk] extra (SimpleITK) is not installed")
    vol, _ = _volume()
    img = sitk.GetImageFromArray(vol)
    img.SetSpacing((0.5, 0.7, 2.0))  # x, y, z
    sitk.WriteImage(img, str(tmp_path / "a.mha"))
    sitk.WriteImage(img, str(tmp_path / "b.mhd"))  # header + b.raw (or .zraw)
    for f in ("a.mha", "b.mhd"):
        got = read_image(str(tmp_path / f))
        assert got.dtype == np.uint16 and np.array_equal(got, vol) and got.spacing == (2.0, 0.7, 0.5)
    with pytest.raises(ReadError, match="over the cap"):
        read_image(str(tmp_path / "a.mha"), max_pixels=1000)
    (tmp_path / "bad.mha").write_text("ObjectType = Image\nNDims = banana\n")
    with pytest.raises(ReadError, match="cannot read the MetaImage header of bad.mha"):
        read_image(str(tmp_path / "bad.mha"))
    vec = sitk.GetImageFromArray(np.zeros((4, 5, 6, 3), np.uint8), isVector=True)
    sitk.WriteImage(vec, str(tmp_path / "v.mha"))
    with pytest.raises(ReadError, match="v.mha has 3 components per voxel"):
        read_image(str(tmp_path / "v.mha"))
    assert missing_extras([tmp_path / "a.mha"]) == {}
