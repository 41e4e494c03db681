"""Real test images and real distortions (noise, blur, JPEG).

MATLAB's reference output is committed in ``tests/data`` (see its README); the image it was
computed on is fetched into ``.cache/refdata`` by ``python .ci/fetch_test_data.py`` (its
copyright is unclear, so it is not redistributed); the colour and grey photographs are
scikit-image's public-domain ``astronaut``; the TID2013 pairs are read from
``../shared/refdata`` where it exists.
"""

import io
import pathlib

import imageio.v3 as iio
import numpy as np
import pytest
from scipy import ndimage

HERE = pathlib.Path(__file__).resolve().parent
#: Where reference files are looked for, in order: the repository's own, then the shared set.
REFDATA_DIRS = (HERE / "data", HERE.parent / ".cache" / "refdata", HERE.parents[1] / "shared" / "refdata")


def _cuda_importable():
    try:
        import numba.cuda  # noqa: F401 - numba-cuda, a test dependency; the simulator without a GPU
    except ImportError:
        return False
    return True


#: Backends every test body runs on: the CUDA backend on a GPU, or under Numba's simulator (set in
#: conftest) without one, on crops small enough for it (`fit`).
BACKENDS = ["cpu", "cuda"] if _cuda_importable() else ["cpu"]


def simulated(backend):
    """Whether ``backend`` runs under Numba's CUDA simulator (a Python thread per GPU thread)."""
    if backend != "cuda":
        return False
    from numba import config

    return bool(config.ENABLE_CUDASIM)


def fit(backend, *arrays, at=(200, 180), size=(30, 37), depth=11):
    """The inputs a test body scores on ``backend``: whole on the CPU and on a real GPU; under the
    simulator a crop: ``size`` pixels from ``at`` along the first two axes of images (grey, or
    channels last), and for ``ndim == 3`` arrays whose last axis is not 3 (volumes) also the first
    ``depth`` planes. The body computes its reference from the same crop, so it asserts the same."""
    if not simulated(backend):
        return arrays if len(arrays) > 1 else arrays[0]
    out = []
    for a in arrays:
        if a.ndim == 3 and a.shape[-1] != 3:  # a volume (D, H, W)
            a = a[:depth, :size[0], :size[1]]
        else:
            r0, r1 = (max(0, min(at[k], a.shape[k] - size[k])) for k in (0, 1))
            a = a[r0:r0 + size[0], r1:r1 + size[1]]
        out.append(np.ascontiguousarray(a))
    return tuple(out) if len(out) > 1 else out[0]


#: How to run the tests that compare with a peer library: what .ci/run installs where it can.
PEERS = ("pip install torch==2.13.0 pytorch_msssim torchmetrics kornia monai, then pip install --no-deps pyiqa "
         "(as .ci/run does; torch from a CPU wheel, not the multi-GB CUDA build)")


def need(module):
    """``module``, or a skip that says how to install it."""
    return pytest.importorskip(module, reason=f"{module} is not installed; to run this test: {PEERS}")


def refdata(*parts):
    for root in REFDATA_DIRS:
        path = root.joinpath(*parts)
        if path.exists():
            return path
    if parts and parts[0].startswith("tid2013"):  # never fetched: not ours to redistribute
        pytest.skip(f"TID2013 pairs ({'/'.join(parts)}) may not be redistributed: they are read only from "
                    f"{REFDATA_DIRS[-1]} (this project's machines); elsewhere these tests skip")
    pytest.skip(f"reference data {'/'.join(parts)} not found under {' or '.join(map(str, REFDATA_DIRS))}: "
                "`python .ci/fetch_test_data.py` fetches it (needs the network once)")


def read(*parts):
    return iio.imread(refdata(*parts))


def camera():
    """The cameraman that MATLAB's reference output was computed on (scikit-image < 0.18)."""
    return read("matlab-camera", "camera.png")


def colour():
    """512x512 RGB uint8 photograph (scikit-image's ``astronaut``, NASA, public domain)."""
    from skimage import data

    return data.astronaut()


def grey():
    """Its grey version, MATLAB ``rgb2gray`` rounded to uint8."""
    return (colour() @ [0.298936021293775, 0.587043074451121, 0.114020904255103] + 0.5).astype(np.uint8)


def heavy_noise(img):
    """Gaussian noise of sigma 50, clipped: a large distortion (SSIM about 0.2)."""
    return noise(img, 50.0, seed=7)


def brighter(img):
    """Every value raised by 48, clipped at 255: a large change of the mean alone."""
    return np.clip(img.astype(np.int16) + 48, 0, 255).astype(img.dtype)


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


def odd_batch():
    """Three distortions (JPEG 10, noise 25, flipped) of two crops of the colour photograph with odd
    sides: ``(clean, distorted)``, float64 (6, 3, 181, 203) in [0, 1], channels first (the drop-in
    tests' batch)."""
    xs, ys = [], []
    for crop in [(slice(37, 218), slice(101, 304)), (slice(300, 481), slice(0, 203))]:
        a = colour()[crop]
        for b in (jpeg(a, 10), noise(a, 25.0), np.ascontiguousarray(a[::-1])):
            xs.append(a.transpose(2, 0, 1))
            ys.append(b.transpose(2, 0, 1))
    return np.stack(xs) / 255, np.stack(ys) / 255


def grey_volume_pair():
    """A volume of shifted crops of the grey photograph (23 x 57 x 61) and its noisy copy:
    ``(clean, noisy)``, float64 in [0, 1], (1, 1, D, H, W)."""
    g = grey()
    vol = np.stack([g[100 + 3 * i:157 + 3 * i, 150 + 2 * i:211 + 2 * i] for i in range(23)])
    return vol[None, None] / 255, noise(vol, 15.0)[None, None] / 255


def preds_target(pair, dtype):
    """A ``(clean, distorted)`` pair of `odd_batch` or `grey_volume_pair` as torch tensors in
    the order metrics take them, ``(preds, target)``: the distorted one first."""
    import torch

    clean, distorted = pair
    return torch.from_numpy(distorted).to(dtype), torch.from_numpy(clean).to(dtype)

