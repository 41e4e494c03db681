"""Real test images (../shared/refdata) and real distortions (noise, blur, JPEG)."""

import io
import pathlib

import imageio.v3 as iio
import numpy as np
import pytest
from scipy import ndimage

REFDATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "refdata"

#: Backends every test body runs on. The CUDA backend joins when it exists.
BACKENDS = ["cpu"]


def refdata(*parts):
    path = REFDATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not found at {path}")
    return path


def read(*parts):
    return iio.imread(refdata(*parts))


def camera():
    return read("matlab-camera", "camera.png")


def jpeg(img, quality=20):
    """Round trip through a real JPEG encoder and decoder."""
    buf = iio.imwrite("<bytes>", img, extension=".jpg", quality=quality)
    return iio.imread(io.BytesIO(buf))


def noise(img, sigma, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(img.dtype)


def blur(img, sigma=2.0, channel_axis=None):
    sig = [sigma] * img.ndim
    if channel_axis is not None:
        sig[channel_axis] = 0
    return ndimage.gaussian_filter(img, sig).astype(img.dtype)


DISTORTIONS = {
    "noise": lambda im, ca=None: noise(im, 20.0),
    "blur": lambda im, ca=None: blur(im, 2.0, ca),
    "jpeg": lambda im, ca=None: jpeg(im, 20),
}


