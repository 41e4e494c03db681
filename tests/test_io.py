"""Readers: every PNG kind gives imageio's pixels, whichever decoder reads it."""

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from fastssim import io as fio


def _files(tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "grey8": rng.integers(0, 256, (20, 30), dtype=np.uint8),
        "rgb8": rng.integers(0, 256, (20, 30, 3), dtype=np.uint8),
        "rgba8": rng.integers(0, 256, (20, 30, 4), dtype=np.uint8),
        "grey16": rng.integers(0, 65536, (20, 30), dtype=np.uint16),
        "greyalpha8": rng.integers(0, 256, (20, 30, 2), dtype=np.uint8),
    }
    for name, a in arrays.items():
        iio.imwrite(tmp_path / f"{name}.png", a)
    Image.fromarray(arrays["rgb8"]).convert("P").save(tmp_path / "palette.png")
    return list(arrays) + ["palette"]


@pytest.fixture(params=["libspng", "imageio"])
def decoder(request, monkeypatch):
    """Each reader test runs on both PNG decoders."""
    if request.param == "libspng" and fio.pyspng is None:
        pytest.skip("pyspng is not installed")
    if request.param == "imageio":
        monkeypatch.setattr(fio, "pyspng", None)
    return request.param


def test_png_kinds_equal_imageio(tmp_path, decoder):
    for name in _files(tmp_path):
        path = str(tmp_path / f"{name}.png")
        got = fio.read_image(path, alpha="keep")
        ref = iio.imread(path)
        assert got.dtype == ref.dtype and got.shape == ref.shape, name
        np.testing.assert_array_equal(got, ref, err_msg=name)
    assert fio.read_image(str(tmp_path / "palette.png")).shape == (20, 30, 3)  # expanded


def test_truncated_and_oversized_png(tmp_path, decoder):
    data = iio.imwrite("<bytes>", np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8),
                       extension=".png")
    (tmp_path / "t.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(fio.ReadError, match="truncated PNG t.png: chunk b'IDAT' at byte 33 runs past the end"):
        fio.read_image(str(tmp_path / "t.png"))
    (tmp_path / "big.png").write_bytes(data)
    with pytest.raises(fio.ReadError, match=r"big.png has 4096 pixels \(64x64x3\), over the cap of 1000"):
        fio.read_image(str(tmp_path / "big.png"), max_pixels=1000)


def test_decoder_choice(monkeypatch):
    monkeypatch.setattr(fio, "pyspng", object())
    assert fio.png_decoder_for() == fio.png_decoder_for("builtin") == "builtin"
    assert fio.png_decoder_for("libspng") == "libspng" and fio.png_decoder_for("imageio") == "pillow"
    monkeypatch.setattr(fio, "pyspng", None)
    with pytest.raises(ValueError, match="the libspng decoder needs pyspng"):
        fio.png_decoder_for("libspng")
    with pytest.raises(ValueError, match="png decoder must be one of"):
        fio.png_decoder_for("stb")
