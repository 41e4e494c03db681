"""Zhou Wang's original MATLAB ssim_index.m, reproduced (../shared/refdata/matlab-camera)."""

import numpy as np
import pytest

import fastssim
from images import camera, refdata, simulated


def noisy_camera():
    cam = camera()
    np.random.seed(5)  # legacy global seed, as the reference was made
    noisy = np.clip(cam + 20.0 * np.random.randn(*cam.shape), 0, 255).astype(np.uint8)
    return cam, noisy


#: ``ssim_index.m``'s published output for this pair (tests/data/README.md)
MSSIM_MATLAB = 0.327314295673357


def test_the_stored_output_is_the_published_number():
    stored = np.load(refdata("matlab-camera", "mssim_matlab_output.npz"))["mssim_matlab"]
    assert stored.shape == (1, 1) and float(stored[0, 0]) == pytest.approx(MSSIM_MATLAB, abs=1e-15)


def test_matlab_ssim_index(backend):
    if simulated(backend):
        pytest.skip("a published number of the whole 256x256 image: too large for Numba's CUDA simulator (a Python "
                    "thread per GPU thread); this body runs on the CUDA backend on a GPU")
    ref = MSSIM_MATLAB
    cam, noisy = noisy_camera()
    assert fastssim.ssim(cam, noisy, backend=backend) == pytest.approx(ref, abs=1e-5)
    assert fastssim.ssim(cam.astype(np.float64), noisy.astype(np.float64), data_range=255,
                         backend=backend) == pytest.approx(ref, abs=1e-7)
    assert fastssim.dssim(cam, noisy, backend=backend) == pytest.approx((1 - ref) / 2, abs=1e-5)
