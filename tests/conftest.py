"""Shared fixtures.

Without an NVIDIA GPU, the CUDA backend runs under Numba's simulator
(NUMBA_ENABLE_CUDASIM=1, set here before Numba is imported) with small thread
blocks, so that multi-block, halo and depth-chunk paths are exercised on small
inputs. On a machine with a GPU the same tests run on the hardware.
"""

import glob
import os

if not glob.glob("/dev/nvidia[0-9]*"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    import sys

    # The simulator runs a block's threads as Python threads while the launching thread polls
    # them in a loop: with Python's default 5 ms switch interval every hand-over of the GIL from
    # that loop waits out the interval. At 0.2 ms a 20x24 colour SSIM takes 0.79 s instead of 4.4
    # (0.05 ms: 0.77); the same numbers, only sooner.
    sys.setswitchinterval(2e-4)
    os.environ.setdefault("FASTSSIM_CUDA_TILE_H", "4")
    os.environ.setdefault("FASTSSIM_CUDA_TILE_W", "8")
    os.environ.setdefault("FASTSSIM_CUDA_DEPTH_CHUNK", "3")
    os.environ.setdefault("FASTSSIM_CUDA_REDUCE_THREADS", "32")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two test processes share the machine's cores: PyTorch's intra-op threads (one per core in
    # each process, spinning between operations) then contend with the other process and with
    # fastssim's kernels. One torch thread per process; fastssim's own thread policy ignores
    # torch's count outside a DataLoader worker, so its parallel kernels are tested as they are.
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass

import pytest  # noqa: E402

from images import BACKENDS, camera, colour


@pytest.fixture(scope="session")
def cam():
    return camera()


@pytest.fixture(scope="session")
def rgb_img():
    return colour()


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param
