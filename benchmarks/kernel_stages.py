"""Time each stage of the CPU SSIM kernel on its own, one thread, in a compiled loop:

    python benchmarks/kernel_stages.py [ROW_LENGTH [TAPS [uniform]]]

Each stage is called many times on one task row (512 columns by default, float32, 11 Gaussian taps;
``512 7 uniform`` for scikit-image's default window) and its
time per output pixel is printed, with cycles at an assumed 3 GHz for scale (this machine has no
hardware counters to read). Used for the README's "where the CPU time goes".
"""

import sys
import time

import numpy as np
from numba import njit

from fastssim import config as cfg
from fastssim.kernels.cpu import load as _cpu_load, passes as _cpu_passes
from fastssim.kernels.math import MOMENTS, window_weights

_filter_row, _combine_ssim2 = _cpu_passes._filter_row, _cpu_passes._combine_ssim2
_combine_ssim, _formula_row = _cpu_passes._combine_ssim, _cpu_passes._formula_row
_combine_ssim4, _combine, _combine2 = _cpu_passes._combine_ssim4, _cpu_passes._combine, _cpu_passes._combine2
_load_row = _cpu_load._load_row


@njit(**cfg.JIT)
def _w_pass(src, w, dst, n, reps):
    for _ in range(reps):
        _filter_row(src, w, dst, n, None)


@njit(**cfg.JIT)
def _h_pass_two_rows(ring, w, n, consts, out, out2, vbuf, reps):
    t = 0.0
    cols = np.empty(1)  # column sums of interleaved channels' cs (unused for one image per row)
    for r in range(reps):
        t += _combine_ssim2(ring, w, r, 0, n, consts, np.float32(0.5), np.float32(0.5), out, out2, vbuf, cols)[0]
    return t


@njit(**cfg.JIT)
def _h_pass_four_rows(ring, w, n, consts, outs, vbuf, reps):
    t = 0.0
    cols = np.empty(1)
    for r in range(reps):
        t += _combine_ssim4(ring, w, r, 0, n, consts, np.float32(0.5), np.float32(0.5), outs, 4, vbuf, cols)[0]
    return t


@njit(**cfg.JIT)
def _h_pass_one_row(ring, w, n, consts, out, vbuf, reps):
    t = 0.0
    cols = np.empty(1)
    for r in range(reps):
        t += _combine_ssim(ring, w, r, 0, n, consts, np.float32(0.5), np.float32(0.5), out, vbuf, cols)[0]
    return t


@njit(**cfg.JIT)
def _h_pass_into_planes(ring, w, n, planes, reps):
    for r in range(reps):
        _combine(ring, w, r, 0, n, planes, r % 12, r % 32)


@njit(**cfg.JIT)
def _h_pass_into_planes_pairs(ring, w, n, planes, reps):
    for r in range(reps):
        _combine2(ring, w, r, 0, n, planes, r % 12, 2 * (r % 16))


@njit(**cfg.JIT)
def _formula(vbuf, n, consts, out, reps):
    t = 0.0
    cols = np.empty(1)
    for _ in range(reps):
        t += _formula_row(vbuf, n, consts, np.float32(0.5), np.float32(0.5), out, cols)[0]
    return t


@njit(**cfg.JIT)
def _load(images, n, xr, yr, ss, dd, reps, w0=0):
    # w0 an argument, as in the kernel (a literal lets LLVM prove what the kernel cannot)
    for r in range(reps):
        _load_row(images[0], images[1], 0, 0, 0, r % 64, w0, n + 10, np.float32(0.5), np.float32(0.5), xr, yr, ss,
                  dd)


def _described(x5, y5):
    """The kernel's description of two 5-D arrays (`_cpu_load.describe`), float32 work; the caller
    keeps the arrays alive."""
    images = _cpu_load.descriptions(2)
    for i, a in enumerate((x5, y5)):
        assert _cpu_load.describe(a, np.dtype(np.float32), images[i]) is a
    return images


def main(n=512, taps=11, gaussian=True):
    rng = np.random.default_rng(0)
    w = tuple(np.float32(v) for v in window_weights(taps, 1.5, gaussian))
    f32 = np.float32
    src, dst = rng.random(n + 10, dtype=f32), np.empty(n, f32)
    # rings as the kernel holds them: a row is the four moments side by side (MOMENTS * n + 24)
    ring = rng.random((12, 1, MOMENTS * n + 24), dtype=f32) * f32(0.1) + f32(0.5)
    ring4 = rng.random((14, 1, MOMENTS * n + 24), dtype=f32) * f32(0.1) + f32(0.5)  # the 2-D ring
    planes = np.empty((12, 32, MOMENTS * n + 24), f32)  # 3-D: the ring of planes, 32 rows
    vbuf, out, out2 = np.empty((1, 4, MOMENTS * n), f32), np.empty(n, f32), np.empty(n, f32)
    outs = np.empty((4, n), f32)
    rows = [rng.random(n + 10, dtype=f32) for _ in range(MOMENTS)]
    # the kernel's eight constants (`kernels.cpu.ssim.ssim_sums`): C1, C2, cov_norm, cs_floor, want_cs, shift,
    # eps, mirror (five, as before, left eps to whatever followed the array)
    consts = {cs: np.array([1e-4, 9e-4, 1.0, -np.inf, cs, 1, 0, 0], f32) for cs in (0, 1)}
    x5 = rng.random((1, 1, 1, 64, n + 10), dtype=f32)
    u8 = (x5 * 255).astype(np.uint8)
    y5, u8d = x5.copy(), u8.copy()  # held while the stages run: the kernel reads them by address
    reps = int(20000 * 512 / n)
    stages = [
        ("load, shift, products (float32)", _load, (_described(x5, y5), n, *rows), 1),
        ("load, shift, products (uint8)", _load, (_described(u8, u8d), n, *rows), 1),
        ("four filters along W", _w_pass, (src, w, dst, n), MOMENTS),
        ("four filters along H into planes, one row", _h_pass_into_planes, (ring, w, n, planes), 1),
        ("four filters along H into planes, two rows (3-D)", _h_pass_into_planes_pairs, (ring, w, n, planes), 0.5),
        ("four filters along H, one row", _h_pass_one_row, (ring, w, n, consts[0], out, vbuf), 1),
        ("four filters along H, two rows", _h_pass_two_rows, (ring, w, n, consts[0], out, out2, vbuf), 0.5),
        ("four filters along H, four rows", _h_pass_four_rows, (ring4, w, n, consts[0], outs, vbuf), 0.25),
        ("formula + sums (SSIM)", _formula, (vbuf[0, 0], n, consts[0], out, reps), 1),
        # the contrast-structure loop writes its terms over the first moment's row, to sum them (as in the
        # kernel): its repetitions after the first read those, at the same cost
        ("formula + sums (+ MS-SSIM's cs)", _formula, (vbuf[0, 0], n, consts[1], out, reps), 1),
    ]
    vbuf[:] = ring[0, 0, 0]
    for name, fn, args, per in stages:
        args = args[:-1] if fn is _formula else args
        fn(*args, 10)
        t = time.perf_counter()
        fn(*args, reps)
        ns = (time.perf_counter() - t) / reps / n * 1e9 * per
        print(f"{name:48s} {ns:6.3f} ns/px  ({ns * 3:5.2f} cycles at 3 GHz)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 512, int(sys.argv[2]) if len(sys.argv) > 2 else 11,
         sys.argv[3:4] != ["uniform"])
