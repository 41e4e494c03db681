"""Count the instructions the CPU kernels execute per output pixel, under valgrind's callgrind:

    python benchmarks/instructions.py [WORKLOAD ...]

This machine is shared and has no hardware counters, so times move by tens of percent from run to
run; instruction counts do not (the same binary on the same input executes the same instructions
whatever the other core is doing). Each workload is scored once to warm up, then once and three
times between markers (calls to libc's ``getloadavg``, which nothing else calls, on which callgrind
dumps its counters), and (I(3) - I(1)) / 2 / pixels is printed: the kernel's instructions per pixel (per channel pixel for
colour, per voxel for volumes), the Python wrapper's fixed cost cancelled out.

valgrind 3.19 has no AVX-512, so the kernels are compiled for a Haswell-class AVX2 target here
(``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES``, set for the compiling run outside valgrind and the
counted run inside it, so that the counted run loads the disk cache instead of compiling under
valgrind, which takes minutes). The counts are therefore those of the AVX2 build: twice the vector
instructions of the AVX-512 code that runs natively on this machine, the same structure (loads per
multiply-add, gathers, scalar loops). Kernels run on one thread. Compare builds with
``PYTHONPATH=<checkout>``; the workloads use only the public API.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

TARGET = {
    "NUMBA_CPU_NAME": "haswell",
    "NUMBA_CPU_FEATURES": "+64bit,+avx,+avx2,+bmi,+bmi2,+cmov,+cx16,+cx8,+f16c,+fma,+fxsr,+lzcnt,+mmx,"
                          "+movbe,+popcnt,+sse,+sse2,+sse3,+sse4.1,+sse4.2,+ssse3,+xsave",
    "NUMBA_NUM_THREADS": "1",
}


def _pair(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random(shape, dtype=np.float32)
    y = np.clip(x + rng.normal(0.0, 0.05, shape).astype(np.float32), 0.0, 1.0)
    if dtype == np.uint8:
        return (x * 255).astype(np.uint8), (y * 255).astype(np.uint8)
    return x.astype(dtype), y.astype(dtype)


def _workloads():
    """Name -> (call, pixels per call). Calls use the public API only."""
    import fastssim as fs

    g32 = _pair((1024, 1024), np.float32)
    g8 = _pair((2048, 2048), np.uint8)
    rgb512 = _pair((8, 512, 512, 3), np.uint8)
    rgb64 = _pair((256, 64, 64, 3), np.uint8)
    vol = _pair((128, 128, 128), np.float32)
    return {
        "1024^2 float32": (lambda: fs.ssim(*g32, data_range=1.0), 1024 * 1024),
        "2048^2 uint8": (lambda: fs.ssim(*g8), 2048 * 2048),
        "8 x 512^2 RGB uint8 (batch)": (lambda: fs.ssim_batch(*rgb512, channel_axis=-1), 8 * 512 * 512 * 3),
        "256 x 64^2 RGB uint8 (batch)": (lambda: fs.ssim_batch(*rgb64, channel_axis=-1), 256 * 64 * 64 * 3),
        "128^3 float32": (lambda: fs.ssim(*vol, data_range=1.0), 128 ** 3),
        "MS-SSIM 1024^2 float32": (lambda: fs.ms_ssim(*g32, data_range=1.0), 1024 * 1024),
    }


def _worker(names):
    """Run inside valgrind: warm up, then 1 and 3 calls of each workload between markers."""
    marker = os.getloadavg
    work = _workloads()
    for name in names:
        work[name][0]()
    for name in names:
        call = work[name][0]
        for reps in (1, 3):
            marker()
            for _ in range(reps):
                call()
    marker()


def _totals(prefix):
    """Instruction totals of callgrind's dumps, in the order they were written."""
    parts = sorted((p for p in os.listdir(os.path.dirname(prefix)) if re.fullmatch(r"cg\.out\.\d+", p)),
                   key=lambda p: int(p.rsplit(".", 1)[1]))
    totals = []
    for part in parts:
        with open(os.path.join(os.path.dirname(prefix), part)) as fh:
            totals.append(int(re.search(r"^(?:totals|summary): (\d+)", fh.read(), re.M).group(1)))
    return totals


def main(names):
    work = _workloads()
    names = names or list(work)
    unknown = sorted(set(names) - set(work))
    if unknown:
        sys.exit(f"unknown workload(s) {unknown}; choose from {sorted(work)}")
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is not on PATH: install it (Debian: apt install valgrind) to count instructions")
    env = dict(os.environ, **TARGET)
    me = [sys.executable, os.path.abspath(__file__), "--worker", *names]
    # Compile (or load) outside valgrind for the counted target, so valgrind finds the disk cache.
    subprocess.run(me, env=env, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", "-q", f"--callgrind-out-file={prefix}",
                        "--dump-before=getloadavg", *me], env=env, check=True)
        totals = _totals(prefix)
    # Numbered dumps: start-up and warm-up, then per workload the 1-call and 3-call intervals (the
    # rest of the run is in the unnumbered file, not read).
    if len(totals) != 2 * len(names) + 1:
        sys.exit(f"expected {2 * len(names) + 1} callgrind dumps, got {len(totals)}: {totals}")
    print(f"{'workload':32s} {'instructions per pixel':>24s}")
    for i, name in enumerate(names):
        one, three = totals[1 + 2 * i], totals[2 + 2 * i]
        print(f"{name:32s} {(three - one) / 2 / work[name][1]:24.1f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        _worker(sys.argv[2:])
    else:
        main(sys.argv[1:])
