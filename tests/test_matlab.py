"""Zhou Wang's original MATLAB ssim_index.m, reproduced (../shared/refdata/matlab-camera)."""

import numpy as np
import pytest

import fastssim
from images import camera, refdata


def noisy_camera():
    cam = camera()
    np.random.seed(5)  # legacy global seed, as the reference was made
    noisy = np.clip(cam + 20.0 * np.random.randn(*cam.shape), 0, 255).astype(np.uint8)
    return cam, noisy


def test_matlab_ssim_index(backend):
    ref = float(np.load(refdata("matlab-camera", "mssim_matlab_output.npz"))["mssim_matlab"][0, 0])
    cam, noisy = noisy_camera()
    assert fastssim.ssim(cam, noisy, backend=backend) == pytest.approx(ref, abs=1e-5)
    assert fastssim.ssim(cam.astype(np.float64), noisy.astype(np.float64), data_range=255,
                         backend=backend) == pytest.approx(ref, abs=1e-7)
    assert fastssim.dssim(cam, noisy, backend=backend) == pytest.approx((1 - ref) / 2, abs=1e-5)
