"""The CUDA kernels compile to PTX for a real GPU (sm_90, H100/H200) with numba-cuda's own
compiler, even on a machine without a GPU: typing, lowering and NVVM all run, which the
simulator does not check. Needs the CUDA toolkit's libnvvm and NVRTC; skipped without them.

Runs in a subprocess because the rest of the suite enables the simulator.
"""

import os
import subprocess
import sys
import textwrap

import pytest

SCRIPT = textwrap.dedent('''
    import sys
    try:
        from numba import cuda, types
        import numba.cuda.dispatcher as disp
        import numba.cuda.cudadrv.nvrtc as nvrtc
        from fastssim import _cuda
    except ImportError as e:
        print("SKIP", e); sys.exit(0)

    class Device:  # no GPU here: say which one to compile for
        compute_capability = (9, 0)
        id = 0

    if not hasattr(disp, "get_current_device") or not hasattr(nvrtc, "get_supported_ccs"):
        print("SKIP this numba-cuda compiles differently"); sys.exit(0)
    disp.get_current_device = lambda: Device()
    try:
        nvrtc.get_supported_ccs()
    except Exception as e:
        print("SKIP no CUDA toolkit (NVRTC/NVVM):", type(e).__name__); sys.exit(0)

    import re

    A = types.Array
    SHARED = r"\\.shared\\s+\\.align\\s+\\d+\\s+\\.b8\\s+\\S+\\[(\\d+)\\]"  # a block's static arrays: bytes
    # the usual window, and the largest with the tiles it gets (31 taps: float32 tiles of 8 rows)
    for k, work, dt in ((11, "float32", types.float32), (11, "float64", types.float64),
                        (31, "float32", types.float32), (31, "float64", types.float64)):
        itemsize = 4 if work == "float32" else 8
        th, tw = _cuda.tile_for(k, itemsize)
        for kd in (1, k):
            kern = _cuda.ssim_kernel(k, kd, th, tw, work)
            for inp in (types.uint8, types.uint16, types.float32, types.float64):
                if k == 31 and inp in (types.uint16, types.float64):
                    continue
                sig = (A(inp, 5, "A"), A(inp, 5, "A"), A(dt, 1, "C"), A(dt, 1, "C"), A(dt, 1, "C"),
                       types.int64, A(types.float64, 2, "C"), A(dt, 5, "C"), types.boolean,
                       A(types.uint8, 5, "C"), types.boolean)
                ptx, _ = cuda.compile_ptx(kern.py_func, sig, cc=(9, 0))
                assert ".entry" in ptx
                # the static shared memory the block declares is what the tile was sized by
                shared = sum(int(b) for b in re.findall(SHARED, ptx))
                assert shared == _cuda.shared_bytes(k, th, tw, itemsize), (k, work, shared)
                assert shared <= _cuda.SHARED_LIMIT, (k, work, shared)
    for inp in (types.uint8, types.uint16, types.float64):  # ffmpeg's grid of windows
        cuda.compile_ptx(_cuda._grid_ssim.py_func, (A(inp, 5, "A"), A(inp, 5, "A"), types.int64, types.int64,
                         types.float64, types.float64, A(types.float64, 4, "C")), cc=(9, 0))
    for dt in (types.float32, types.float64):
        cuda.compile_ptx(_cuda._downsample2.py_func, (A(dt, 5, "A"), types.boolean, A(dt, 5, "C")), cc=(9, 0))
    cuda.compile_ptx(_cuda.squared_error_kernel(256).py_func,
                     (A(types.uint8, 5, "A"), A(types.uint8, 5, "A"), A(types.float64, 1, "C")), cc=(9, 0))
    cuda.compile_ptx(_cuda.product_sums_kernel(256).py_func,
                     (A(types.uint16, 5, "A"), A(types.uint16, 5, "A"), A(types.float64, 2, "C")), cc=(9, 0))
    from fastssim import _cuda_gradient as g
    f64 = types.float64
    for inp, dt in ((types.uint8, types.float32), (types.float32, types.float32), (types.float64, types.float64)):
        x3, m3 = A(inp, 3, "A"), A(dt, 3, "C")
        cuda.compile_ptx(g._grad_maps_2d.py_func, (x3, x3, A(dt, 1, "C"), A(dt, 1, "C"), A(f64, 1, "C"),
                         A(f64, 1, "C"), A(f64, 1, "C"), types.boolean, m3, m3, m3, A(f64, 1, "C")), cc=(9, 0))
        cuda.compile_ptx(g._grad_back_2d.py_func, (x3, x3, A(dt, 1, "C"), A(dt, 1, "C"), A(f64, 1, "C"),
                         A(f64, 1, "C"), m3, m3, m3, f64, m3), cc=(9, 0))
    print("OK")
''')


def test_kernels_compile_to_ptx():
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_ENABLE_CUDASIM")}
    env.setdefault("CUDA_HOME", "/usr/local/cuda")
    r = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=900)
    if r.stdout.startswith("SKIP"):
        pytest.skip(r.stdout.strip())
    assert r.returncode == 0 and r.stdout.strip().endswith("OK"), r.stdout + r.stderr[-3000:]
