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

    import threading

    import numpy as np
    from numba.core import types as _nb_types
    from numba.np.numpy_support import as_dtype as _as_dtype
    from numba.cuda.simulator import kernelapi as _sim

    # The simulator gives a block's threads their shared arrays by a check-then-set on a dict
    # (`FakeCUDAShared.array`, keyed by the requesting source line), without a lock: two threads
    # of a block that ask at once can each make an array of their own, and the block then reads
    # memory nobody wrote. The short switch interval above makes that more likely. Suspected in
    # one CI failure (a NaN from overflowing garbage in `test_batch_slices_and_errors_metrics[cuda]`,
    # not reproduced locally). Here the request is atomic: the same arrays, by the same key.
    _sim_shared_array = _sim.FakeCUDAShared.array
    _sim_shared_lock = threading.Lock()

    def _atomic_shared_array(self, shape, dtype, alignment=None):
        if shape == 0 or alignment is not None:  # dynamic shared memory, or the simulator's refusal
            return _sim_shared_array(self, shape, dtype, alignment)
        caller = sys._getframe(1)
        key = (caller.f_code.co_filename, caller.f_lineno)
        with _sim_shared_lock:
            got = self._allocations.get(key)
            if got is None:
                np_dtype = _as_dtype(dtype) if isinstance(dtype, _nb_types.Type) else dtype
                got = self._allocations[key] = np.empty(shape, np_dtype)
        return got

    _sim.FakeCUDAShared.array = _atomic_shared_array

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


@pytest.fixture
def plans_made(monkeypatch):
    """A list that gets an entry for every `fastssim.kernels.ssim_plan.Plan` made (a call that runs
    kept calls makes none), this thread's kept calls let go first."""
    from fastssim.kernels import ssim_plan

    ssim_plan.forget()
    made = []
    init = ssim_plan.Plan.__init__

    def counted(self, *args, **kwargs):
        made.append(1)
        init(self, *args, **kwargs)
    monkeypatch.setattr(ssim_plan.Plan, "__init__", counted)
    return made
