"""Readers against independent decoders: every PNG kind (pypng writes and decodes the truth),
16-bit colour on a real image (OpenCV), TIFF kinds (tifffile, Pillow), and the checks made
before a file is read (caps, non-regular files, damaged data: always a ReadError)."""

import io
import os
import struct
import tracemalloc
import zlib

import cv2
import numpy as np
import png  # pypng: a pure-Python PNG writer and decoder, independent of libspng and Pillow
import pytest
import tifffile
from PIL import Image

import fastssim
from fastssim import io as fio
from fastssim.io import png as fpng



@pytest.fixture(params=["builtin", "libspng", "pillow"])
def png_decoder(request):
    """Every PNG decoder, preferred in turn (each falls back where it does not read a kind)."""
    if request.param == "libspng" and fio.pyspng is None:
        pytest.skip("pyspng is not installed")
    return request.param


def _pypng_truth(path, palette):
    """What the file holds, decoded by pypng: palette expanded, 1/2/4-bit grey scaled to 0-255,
    a tRNS colour key not made into alpha."""
    reader = png.Reader(filename=str(path))
    w, h, rows, info = reader.asDirect() if palette else reader.read()
    a = np.array([list(r) for r in rows]).reshape(h, w, info["planes"])
    depth = info["bitdepth"]
    if depth < 8:
        a = a * 255 // (2 ** depth - 1)
    a = a.astype(np.uint16 if depth == 16 else np.uint8)
    return a[..., 0] if info["planes"] == 1 else a


def _png_kinds():
    kinds = []
    for interlace in (False, True):
        for ct, planes, grey, alpha in ((0, 1, True, False), (2, 3, False, False), (4, 2, True, True),
                                        (6, 4, False, True)):
            for depth in ((1, 2, 4, 8, 16) if ct == 0 else (8, 16)):
                for trns in ((False, True) if ct in (0, 2) else (False,)):
                    kinds.append(("direct", ct, planes, grey, alpha, depth, trns, interlace))
        for depth in (1, 2, 4, 8):
            for trns in (False, True):
                kinds.append(("palette", 3, 1, False, False, depth, trns, interlace))
    return kinds


@pytest.mark.parametrize("kind", _png_kinds(), ids=lambda k: f"{k[0]}-ct{k[1]}-d{k[5]}-trns{int(k[6])}-i{int(k[7])}")
def test_every_png_kind_equals_pypng(tmp_path, kind, png_decoder):
    family, ct, planes, grey, alpha, depth, trns, interlace = kind
    rng = np.random.default_rng(ct * 100 + depth)
    h, w = 9, 13
    path = tmp_path / "k.png"
    if family == "palette":
        pal = [tuple(int(v) for v in rng.integers(0, 256, 4 if trns else 3)) for _ in range(2 ** depth)]
        writer = png.Writer(w, h, palette=pal, bitdepth=depth, interlace=interlace)
        data = rng.integers(0, 2 ** depth, (h, w))
    else:
        kw = dict(greyscale=grey, alpha=alpha, bitdepth=depth, interlace=interlace)
        if trns:
            kw["transparent"] = 1 if grey else (1, 2, 3)
        writer = png.Writer(w, h, **kw)
        data = rng.integers(0, 2 ** depth, (h, w * planes))
    with open(path, "wb") as f:
        writer.write(f, data.tolist())
    truth = _pypng_truth(path, family == "palette")
    got = fio.read_image(str(path), alpha="keep", png_decoder=png_decoder)
    assert got.dtype == truth.dtype and got.shape == truth.shape
    np.testing.assert_array_equal(got, truth)


def test_16bit_rgb_png_of_a_real_image_is_exact(tmp_path, rgb_img, png_decoder):
    """The campaign's first fault: 16-bit RGB read as its high bytes (MSE 0.125, not 1604.8)."""
    rng = np.random.default_rng(3)
    ref = rgb_img.astype(np.uint16) * 16 + rng.integers(0, 16, rgb_img.shape, dtype=np.uint16)  # 12-bit
    dist = np.clip(ref.astype(np.int32) + rng.normal(0, 40, ref.shape).astype(np.int32), 0, 4095).astype(np.uint16)
    for name, a in (("ref", ref), ("dist", dist)):
        assert cv2.imwrite(str(tmp_path / f"{name}.png"), a[..., ::-1])  # written by OpenCV (BGR)
    got = {n: fio.read_image(str(tmp_path / f"{n}.png"), png_decoder=png_decoder) for n in ("ref", "dist")}
    for n in ("ref", "dist"):
        independent = cv2.imread(str(tmp_path / f"{n}.png"), cv2.IMREAD_UNCHANGED)[..., ::-1]
        np.testing.assert_array_equal(got[n], independent)
    assert fastssim.mse(got["ref"], got["dist"]) == fastssim.mse(ref, dist)
    assert fastssim.ssim(got["ref"], got["dist"], data_range=4095, channel_axis=-1) == \
        fastssim.ssim(ref, dist, data_range=4095, channel_axis=-1)


def test_16bit_colour_png_without_libspng(tmp_path, monkeypatch, rgb_img):
    import png as pypng

    img = rgb_img[:20, :24].astype(np.uint16) * 257 + 3
    cv2.imwrite(str(tmp_path / "c.png"), img[..., ::-1])  # OpenCV writes BGR
    with open(tmp_path / "i.png", "wb") as f:
        pypng.Writer(24, 20, greyscale=False, bitdepth=16, interlace=True).write(f, img.reshape(20, -1))
    monkeypatch.setattr(fpng, "_spng", None)
    for decoder in ("pillow", "builtin"):  # Pillow would read 8 bits: the built-in decoder reads it exactly
        got = fio.read_image(str(tmp_path / "c.png"), png_decoder=decoder)
        assert got.dtype == np.uint16 and np.array_equal(got, img)
    with pytest.raises(fio.ReadError, match=r"i.png is a 16-bit interlaced RGB PNG, which Pillow reads as 8 bits; "
                                            r"install libspng .*fastssim\[fast\]"):
        fio.read_image(str(tmp_path / "i.png"))


def test_builtin_decoder_refuses_a_bad_filter_type(tmp_path):
    rows = np.arange(12, dtype=np.uint8).reshape(3, 4)
    raw = b"".join(bytes([f]) + r.tobytes() for f, r in zip((0, 7, 1), rows))  # filter type 7 on row 1
    body = struct.pack(">IIBBBBB", 4, 3, 8, 0, 0, 0, 0)
    data = fpng.SIGNATURE + _chunk(b"IHDR", body) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    (tmp_path / "f.png").write_bytes(data)
    with pytest.raises(fio.ReadError, match="corrupt PNG f.png: row 1 has filter type 7 \\(PNG defines 0-4\\)"):
        fio.read_image(str(tmp_path / "f.png"))


def test_tiff_kinds(tmp_path, rgb_img):
    rgb16 = rgb_img.astype(np.uint16) * 257
    tifffile.imwrite(tmp_path / "rgb16.tif", rgb16, photometric="rgb")
    tifffile.imwrite(tmp_path / "planar.tif", np.moveaxis(rgb16, -1, 0), photometric="rgb", planarconfig="separate")
    stack = np.stack([rgb_img[..., 0], rgb_img[..., 1]])
    tifffile.imwrite(tmp_path / "stack.tif", stack)
    np.testing.assert_array_equal(fio.read_image(str(tmp_path / "rgb16.tif")), rgb16)
    np.testing.assert_array_equal(fio.read_image(str(tmp_path / "planar.tif")), rgb16)
    np.testing.assert_array_equal(fio.read_image(str(tmp_path / "stack.tif")), stack)
    # palette and bilevel TIFF, written by Pillow: colours and 0/255, as Pillow converts them
    pal = Image.fromarray(rgb_img).convert("P")
    pal.save(tmp_path / "pal.tif")
    np.testing.assert_array_equal(fio.read_image(str(tmp_path / "pal.tif")), np.asarray(pal.convert("RGB")))
    bw = Image.fromarray(rgb_img[..., 0] > 128)
    bw.save(tmp_path / "bw.tif")
    got = fio.read_image(str(tmp_path / "bw.tif"))
    assert got.dtype == np.uint8 and set(np.unique(got)) == {0, 255}
    np.testing.assert_array_equal(got, np.asarray(bw.convert("L")))


def test_one_bit_png_is_grey_not_bool(tmp_path, cam, png_decoder):
    Image.fromarray(cam > 100).save(tmp_path / "bw.png")  # mode '1', bit depth 1
    got = fio.read_image(str(tmp_path / "bw.png"), png_decoder=png_decoder)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, np.where(cam > 100, 255, 0))


def test_npz_bomb_refused_before_decompressing(tmp_path):
    np.savez_compressed(tmp_path / "bomb.npz", a=np.zeros((2000, 2000), np.uint8))  # 4 MB in a few kB
    assert os.path.getsize(tmp_path / "bomb.npz") < 100_000
    tracemalloc.start()
    with pytest.raises(fio.ReadError, match=r"bomb.npz has 4000000 pixels \(2000x2000\), over the cap of 1000"):
        fio.read_image(str(tmp_path / "bomb.npz"), max_pixels=1000)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 1_000_000  # the 4 MB array was never made


def test_npy_header_checked_and_truncation_named(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((100, 100), np.float32))
    with pytest.raises(fio.ReadError, match=r"big.npy has 10000 pixels \(100x100\), over the cap of 50"):
        fio.read_image(str(tmp_path / "big.npy"), max_pixels=50)
    data = (tmp_path / "big.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-100])
    with pytest.raises(fio.ReadError, match=r"cut.npy is truncated: its header declares 100x100 float32, the file "
                                            r"holds 39900 of 40000 data bytes"):
        fio.read_image(str(tmp_path / "cut.npy"))
    np.save(tmp_path / "f.npy", np.asfortranarray(np.arange(12, dtype=np.uint16).reshape(3, 4)))
    np.testing.assert_array_equal(fio.read_image(str(tmp_path / "f.npy")), np.arange(12).reshape(3, 4))
    np.save(tmp_path / "mask.npy", np.zeros((20, 20), bool))
    with pytest.raises(fio.ReadError, match="mask.npy holds a bool array"):
        fio.read_image(str(tmp_path / "mask.npy"))


def test_sparse_files_refused_without_reading(tmp_path):
    """A small image's header followed by gigabytes (sparse): refused from its size alone."""
    buf = io.BytesIO()
    Image.fromarray(np.zeros((16, 16), np.uint8)).save(buf, format="PNG")
    data = buf.getvalue()
    for name, size, cap in (("huge.png", 4 << 30, fio.MAX_PIXELS), ("huge.jpg", 200 << 20, 1000)):
        with open(tmp_path / name, "wb") as f:
            f.write(data)
            f.truncate(size)
        tracemalloc.start()
        with pytest.raises(fio.ReadError, match="bytes"):
            fio.read_image(str(tmp_path / name), max_pixels=cap)
        assert tracemalloc.get_traced_memory()[1] < 1_000_000
        tracemalloc.stop()
    with pytest.raises(fio.ReadError, match=r"huge.png holds 4294967296 bytes for a 16x16 image"):
        fio.read_image(str(tmp_path / "huge.png"))


def test_non_regular_files_say_what_they_are(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")
    os.mkdir(tmp_path / "dir.png")
    os.symlink("/dev/zero", tmp_path / "zero.png")
    with pytest.raises(fio.ReadError, match=r"pipe.png is a FIFO \(named pipe\), not an image file"):
        fio.read_image(str(tmp_path / "pipe.png"))
    with pytest.raises(fio.ReadError, match=r"dir.png is a directory, not an image file"):
        fio.read_image(str(tmp_path / "dir.png"))
    with pytest.raises(fio.ReadError, match=r"zero.png is a device \(a link to /dev/zero\), not an image file"):
        fio.read_image(str(tmp_path / "zero.png"))
    with pytest.raises(fio.ReadError, match="file not found: .*gone.png"):
        fio.read_image(str(tmp_path / "gone.png"))
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(fio.ReadError, match=r"empty.png is empty \(0 bytes\)"):
        fio.read_image(str(tmp_path / "empty.png"))


def _chunk(ctype, body):
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def test_png_structure_checked_the_same_for_every_decoder(tmp_path, cam, png_decoder):
    buf = io.BytesIO()
    Image.fromarray(cam[:32, :32]).save(buf, format="PNG")
    good = buf.getvalue()
    bad_crc = bytearray(good)
    bad_crc[50] ^= 0xFF  # inside IDAT's data (it starts at byte 41)
    no_iend = good[:-12]
    unknown_critical = good[:33] + _chunk(b"ABCD", b"x") + good[33:]
    cases = {"crc.png": (bytes(bad_crc), "corrupt PNG crc.png: CRC mismatch in chunk b'IDAT' at byte 33"),
             "noend.png": (no_iend, "truncated PNG noend.png: it ends before IEND"),
             "crit.png": (unknown_critical, "PNG crit.png has critical chunk b'ABCD'")}
    for name, (data, msg) in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(fio.ReadError, match=msg.replace("(", r"\(").replace(")", r"\)")):
            fio.read_image(str(tmp_path / name), png_decoder=png_decoder)


def _filter_rows(img_bytes, bpp, ftype):
    """PNG-filter each row of ``img_bytes`` (uint8, rows x stride) with filter ``ftype``."""
    out = []
    prev = np.zeros(img_bytes.shape[1], np.int32)
    for row in img_bytes.astype(np.int32):
        left = np.concatenate([np.zeros(bpp, np.int32), row[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int32), prev[:-bpp]])
        if ftype == 0:
            pred = np.zeros_like(row)
        elif ftype == 1:
            pred = left
        elif ftype == 2:
            pred = prev
        elif ftype == 3:
            pred = (left + prev) // 2
        else:
            p = left + prev - upleft
            pa, pb, pc = abs(p - left), abs(p - prev), abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, prev, upleft))
        out.append(bytes([ftype]) + ((row - pred) % 256).astype(np.uint8).tobytes())
        prev = row
    return b"".join(out)


@pytest.mark.parametrize("ctype, channels", [(0, 1), (4, 2), (2, 3), (6, 4)])
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("ftype", [0, 1, 2, 3, 4, "mixed"])
def test_builtin_decoder_undoes_every_filter(tmp_path, rgb_img, ctype, channels, depth, ftype):
    base = np.concatenate([rgb_img[40:57, 60:83], rgb_img[100:117, 200:223, :1]], axis=-1)[..., :channels]
    img = base.astype(np.uint16) * 251 + 7 if depth == 16 else base
    img = np.ascontiguousarray(img if channels > 1 else img[..., 0])
    h, w = img.shape[:2]
    as_bytes = (img.astype(">u2") if depth == 16 else img).view(np.uint8).reshape(h, -1)
    bpp = channels * depth // 8
    if ftype == "mixed":  # a different filter on each row, as encoders choose
        raw = b"".join(_filter_rows(as_bytes[max(0, r - 1):r + 1], bpp, r % 5)[-(as_bytes.shape[1] + 1):]
                       if r else _filter_rows(as_bytes[:1], bpp, 0) for r in range(h))
    else:
        raw = _filter_rows(as_bytes, bpp, ftype)
    body = struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, 0)
    data = fpng.SIGNATURE + _chunk(b"IHDR", body) + _chunk(b"IDAT", zlib.compress(raw)) + _chunk(b"IEND", b"")
    (tmp_path / "f.png").write_bytes(data)
    got = fio.read_image(str(tmp_path / "f.png"), alpha="keep", png_decoder="builtin")
    assert got.dtype == img.dtype and np.array_equal(got, img)
    ref = fio.read_image(str(tmp_path / "f.png"), alpha="keep", png_decoder="libspng" if fio.pyspng else "pillow")
    assert np.array_equal(got, ref)


def test_jpeg_equals_pillow_on_real_images(tmp_path, rgb_img, cam):
    """simplejpeg (when installed) and Pillow give the same pixels, every quality and subsampling."""
    from fastssim.io import jpeg as fjpeg
    from fastssim.io.pillow import read_pillow

    if fjpeg.simplejpeg is None:
        pytest.skip("simplejpeg is not installed: JPEG goes to Pillow only")
    for quality in (10, 50, 95):
        for sub in (0, 1, 2):
            for i, img in enumerate((rgb_img, cam, rgb_img[:77, :131])):
                path = tmp_path / f"q{quality}-s{sub}-{i}.jpg"
                Image.fromarray(img).save(path, quality=quality, subsampling=sub)
                got = fio.read_image(str(path))
                ref = read_pillow(str(path), fio.MAX_PIXELS)
                assert got.dtype == ref.dtype and got.shape == ref.shape and np.array_equal(got, ref)
    Image.fromarray(rgb_img[:40, :40]).convert("CMYK").save(tmp_path / "cmyk.jpg")
    assert np.array_equal(fio.read_image(str(tmp_path / "cmyk.jpg")), read_pillow(str(tmp_path / "cmyk.jpg"), fio.MAX_PIXELS))
    data = (tmp_path / "q50-s2-0.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[:len(data) // 2])
    with pytest.raises(fio.ReadError, match="cut.jpg"):
        fio.read_image(str(tmp_path / "cut.jpg"))
    with pytest.raises(fio.ReadError, match="over the cap of 1000"):
        fio.read_image(str(tmp_path / "q50-s2-0.jpg"), max_pixels=1000)
