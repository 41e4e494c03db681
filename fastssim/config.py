"""JIT settings and tuning constants, in one place.

Every kernel takes its Numba options from here, never from literals of its own.

``fastmath`` leaves out ``nnan`` and ``ninf`` so that non-finite values still
propagate (the wrappers rely on a NaN result to report NaN/Inf input), and
leaves out ``arcp`` so that ``a / a`` stays exactly 1 (identical images score
exactly 1.0). ``reassoc`` lets the per-row float64 reductions vectorise;
``contract`` allows fused multiply-adds. ``error_model="numpy"`` drops Python's
division-by-zero checks, which would stop the pixel loops from vectorising.

Numba keys its disk cache on the file that defines each kernel, not on the files of the helpers
compiled into it: after editing this module or any kernel helper (``kernels/math.py``,
``kernels/cpu/load.py``, ``passes.py``, ...) in a source checkout, delete the ``__pycache__/*.nb*``
files under ``fastssim/``, or a kernel loaded from the cache still runs the old helper. (An
install or upgrade writes every source anew, which invalidates the whole cache.)
"""

import os
from typing import Any

#: Where the kernels may run: 'auto' (the GPU for GPU arrays and large host inputs, when one is
#: usable), 'cpu', 'cuda'. The one list: the API, the batch scorer and the CLI take it from here.
BACKENDS = ("auto", "cpu", "cuda")

#: Floating-point relaxations allowed in the CPU kernels.
FASTMATH = {"reassoc", "contract", "nsz"}

#: Cache compiled kernels on disk (``__pycache__`` beside the sources, or
#: ``NUMBA_CACHE_DIR``), so that a second process does not recompile.
CACHE = os.environ.get("FASTSSIM_NO_CACHE", "") == ""

#: A cold call that needs two kernels compiles the second in a helper Python process while this
#: process compiles the first (`kernels.ahead`); ``FASTSSIM_COMPILE_AHEAD=0`` compiles both here.
COMPILE_AHEAD = os.environ.get("FASTSSIM_COMPILE_AHEAD", "1") != "0"
#: Seconds a call waits for such a helper before compiling the kernel itself.
COMPILE_AHEAD_WAIT_S = float(os.environ.get("FASTSSIM_COMPILE_AHEAD_WAIT", "120"))

#: Options for serial kernels and for helpers called from the parallel kernels.
JIT: dict[str, Any] = dict(nogil=True, cache=CACHE, fastmath=FASTMATH, error_model="numpy")

#: Options for the parallel (prange) kernels.
JIT_PARALLEL: dict[str, Any] = dict(JIT, parallel=True)

#: Options for kernels whose sums keep the order they are written in (no ``reassoc``): MS-SSIM's
#: 2x2 means, whose vectorised loop was otherwise reassociated differently for channel-last and
#: planar rows (1-ulp differences, so that the two layouts' MS-SSIM differed by ~2e-7); in the
#: written order they equal the GPU's, which compiles without fast-math.
JIT_ORDERED: dict[str, Any] = dict(JIT, fastmath=FASTMATH - {"reassoc"})
JIT_ORDERED_PARALLEL: dict[str, Any] = dict(JIT_ORDERED, parallel=True)

# Task sizes depend on the shape only, never on the number of threads, so that results are
# bitwise the same whatever the thread count; the environment variables are for tuning runs.
#: Output rows per CPU task (2-D images).
BAND_H_2D = int(os.environ.get("FASTSSIM_BAND_H_2D", "128"))
#: Output columns per CPU task (2-D images): narrower bands measured slower (64-256 columns).
BAND_W_2D = int(os.environ.get("FASTSSIM_BAND_W_2D", "512"))
#: Output rows per CPU task (3-D volumes).
BAND_H_3D = int(os.environ.get("FASTSSIM_BAND_H_3D", "32"))
#: Output columns per CPU task (3-D volumes). Measured here (2 cores, float32): 32 x 256 gave
#: 190-198 / 212-214 Mvox/s at 128^3 / 256^3 against 191-193 / 169-171 for 32 x 128; 64 x 256
#: was a little faster still but leaves 128^3 only two tasks, too few for larger machines.
BAND_W_3D = int(os.environ.get("FASTSSIM_BAND_W_3D", "256"))
#: Output rows and columns per task of the fused gradient's 2-D passes (float64 rings of rows).
GRAD_BAND_H = int(os.environ.get("FASTSSIM_GRAD_BAND_H", "64"))
GRAD_BAND_W = int(os.environ.get("FASTSSIM_GRAD_BAND_W", "256"))
#: Bytes of derivative-map buffers the gradient keeps per thread for its next call (reused, not
#: allocated and page-faulted again: `kernels.engine_gradient._scratch_maps`); 64 MiB holds a
#: 2048^2 float32 gradient's.
GRAD_SCRATCH_BYTES = int(os.environ.get("FASTSSIM_GRAD_SCRATCH_BYTES", str(64 << 20)))
#: Plain SSIM and MS-SSIM calls: a thread keeps its last few kinds of call prepared (their kernel
#: calls, MS-SSIM's halved scales), for the next call of that kind and shape (`kernels.ssim_plan.give`):
#: at most this many kinds ...
KEPT_CALLS = int(os.environ.get("FASTSSIM_KEPT_CALLS", "4"))
#: ... holding at most this many bytes of outputs together (a 1024^2 float32 MS-SSIM's halves: 2.8 MB).
KEPT_CALL_BYTES = int(os.environ.get("FASTSSIM_KEPT_CALL_BYTES", str(8 << 20)))
#: Window rows per task of the grid kernel (ffmpeg's preset): its block sums are recomputed
#: once per band, so a band of 16 reads each pixel 17/16 times.
GRID_BAND = 16
#: Output rows per task of MS-SSIM's 2x2 means (the task's row buffer allocated once): 8 halved
#: the cost of a 512^2 float32 halving against a task per row (32 -> 16 us).
HALVE_ROWS = 8
#: Elements per task of the parallel error (MSE) reduction.
ERROR_CHUNK = 1 << 16

#: CUDA: output tile (rows, columns) of one thread block; one thread per output pixel.
CUDA_TILE = (int(os.environ.get("FASTSSIM_CUDA_TILE_H", "16")), int(os.environ.get("FASTSSIM_CUDA_TILE_W", "32")))
#: CUDA, 3-D: output planes per thread block (a block streams its planes once).
CUDA_DEPTH_CHUNK = int(os.environ.get("FASTSSIM_CUDA_DEPTH_CHUNK", "32"))
#: CUDA: threads per block of the error (MSE) reduction.
CUDA_REDUCE_THREADS = int(os.environ.get("FASTSSIM_CUDA_REDUCE_THREADS", "256"))
#: backend='auto' moves work to the GPU from this many pixels (voxels) per call.
AUTO_GPU_MIN_PIXELS = 1 << 22

#: Seconds between the plain progress lines of a batch run when stderr is not a terminal.
PROGRESS_EVERY = float(os.environ.get("FASTSSIM_PROGRESS_EVERY", "5"))

#: A run without --data-range warns when an integer image wider than 8 bits spans less than
#: this fraction of its dtype's range (e.g. 12-bit data in uint16: 1/16).
LOW_RANGE_FRACTION = 0.1

#: The batch scorer stacks decoded pairs of one shape and dtype and scores them in one call:
#: at most this many pairs per call ...
BATCH_PAIRS = int(os.environ.get("FASTSSIM_BATCH_PAIRS", "256"))
#: ... and at most this many bytes of decoded pairs waiting, over all shapes.
BATCH_BYTES = int(os.environ.get("FASTSSIM_BATCH_BYTES", str(64 << 20)))

#: Video pairs: frame pairs decoded ahead of the one being scored (each holds its planes).
VIDEO_FRAMES_AHEAD = int(os.environ.get("FASTSSIM_VIDEO_FRAMES_AHEAD", "4"))

#: A distributed run (Dask) cuts the pairs into chunks of this many: one task and one
#: committed part each (a few hundred keeps the scheduler's per-task cost small beside the work).
CHUNK_PAIRS = int(os.environ.get("FASTSSIM_CHUNK_PAIRS", "500"))
#: Seconds to wait for a Dask scheduler given by address before giving up.
SCHEDULER_CONNECT_SECONDS = float(os.environ.get("FASTSSIM_SCHEDULER_TIMEOUT", "10"))

#: Paired statistics: above this many pairs the confidence interval of a mean difference is the
#: normal (CLT) interval instead of the bootstrap's (whose cost is resamples x pairs); the two
#: agree to about 1% of the interval's width there (tested).
BOOTSTRAP_MAX_PAIRS = int(os.environ.get("FASTSSIM_BOOTSTRAP_MAX_PAIRS", "20000"))
