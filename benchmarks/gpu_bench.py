"""The measurements of the one-shot GPU check (``gpu_check.py``): SSIM forward and
forward+backward, a volume and MS-SSIM, fastssim beside the peers installed there, and the
scoring command against decoding alone. Each returns ``{"rows": [...]}`` for the results file.

On a GPU the tensors live on the device and every timing is a median of synchronised warm rounds
within the stage's time; under the simulator (the rehearsal) the same code runs on tiny CPU
tensors, to show that only the hardware can fail on the day (there fastssim's forward goes through
the simulated CUDA kernels, its forward+backward through the CPU path that CPU tensors take).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def _torch():
    import torch

    return torch, ("cuda" if torch.cuda.is_available() else "cpu")


def workloads(tiny):
    """``(label, shape, kind)``: kind 'ssim' (2-D batches), 'volume' (one 3-D volume), 'ms_ssim'."""
    if tiny:  # the simulator runs each GPU thread as a Python thread: a few windows each
        return [("SSIM 2 x 16x16 float32", (2, 1, 16, 16), "ssim"),
                ("SSIM 1 x 16x16 RGB float32", (1, 3, 16, 16), "ssim"),
                ("SSIM 12^3 float32 volume", (1, 1, 12, 12, 12), "volume"),
                ("MS-SSIM (2 scales) 1 x 24x24 float32", (1, 1, 24, 24), "ms_ssim")]
    return [("SSIM 16 x 1024x1024 float32", (16, 1, 1024, 1024), "ssim"),
            ("SSIM 8 x 1080p RGB float32", (8, 3, 1080, 1920), "ssim"),
            ("SSIM 256^3 float32 volume", (1, 1, 256, 256, 256), "volume"),
            ("MS-SSIM 16 x 1024x1024 float32", (16, 1, 1024, 1024), "ms_ssim")]


def _timer(torch, device, seconds, rounds=10):
    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def measure(f):
        f()  # warm: compiles, allocates
        sync()
        times, end = [], time.monotonic() + seconds
        while len(times) < rounds and (len(times) < 2 or time.monotonic() < end):
            t = time.perf_counter()
            f()
            sync()
            times.append(time.perf_counter() - t)
        return float(np.median(times))

    return measure


def _implementations(torch, kind, tiny=False):
    """{name: (forward, forward_backward or None)} of every implementation installed (MS-SSIM:
    two scales when ``tiny``, for images the simulator can filter in seconds)."""
    import fastssim
    import fastssim.torch as ft

    w = {"weights": (0.5, 0.5)} if tiny else {}
    impls = {}
    if kind == "volume":
        impls["fastssim"] = (lambda x, y: fastssim.ssim(x[0, 0], y[0, 0], data_range=1.0, backend="cuda"),
                             lambda x, y: ft.ssim(x, y, data_range=1.0).backward())
    elif kind == "ms_ssim":
        impls["fastssim"] = (lambda x, y: fastssim.ms_ssim_batch(x, y, channel_axis=0, data_range=1.0,
                                                                 backend="cuda", **w),
                             lambda x, y: ft.ms_ssim(x, y, data_range=1.0, **w).backward())
    else:
        impls["fastssim"] = (lambda x, y: fastssim.ssim_batch(x, y, channel_axis=0, data_range=1.0, backend="cuda"),
                             lambda x, y: ft.ssim(x, y, data_range=1.0).backward())
    try:
        import pytorch_msssim as pm

        f, kw = (pm.ms_ssim, w) if kind == "ms_ssim" else (pm.ssim, {})
        impls["pytorch_msssim"] = (lambda x, y, f=f, kw=kw: f(x, y, data_range=1.0, size_average=False, **kw),
                                   lambda x, y, f=f, kw=kw: f(x, y, data_range=1.0, **kw).backward())
    except ImportError as e:
        impls["pytorch_msssim"] = e
    try:
        from torchmetrics.functional.image import (multiscale_structural_similarity_index_measure as tm_ms,
                                                   structural_similarity_index_measure as tm_ssim)

        f, kw = (tm_ms, {"betas": w["weights"]} if w else {}) if kind == "ms_ssim" else (tm_ssim, {})
        impls["torchmetrics"] = (lambda x, y, f=f, kw=kw: f(x, y, data_range=1.0, reduction="none", **kw),
                                 lambda x, y, f=f, kw=kw: f(x, y, data_range=1.0, **kw).backward())
    except ImportError as e:
        impls["torchmetrics"] = e
    if kind == "ssim":
        try:
            from fused_ssim import fused_ssim  # 11-tap Gaussian, sigma 1.5, data range 1

            impls["fused-ssim"] = (lambda x, y: fused_ssim(x, y, padding="valid", train=False),
                                   lambda x, y: fused_ssim(x, y, padding="valid", train=True).backward())
        except ImportError as e:
            impls["fused-ssim"] = e
    return impls


def run(tiny=False, seconds=60.0, progress=None):
    """Forward and forward+backward of each workload for every implementation installed;
    ``progress(data)`` is told the rows so far after each one."""
    torch, device = _torch()
    gen = torch.Generator(device=device).manual_seed(0)
    rows = []
    loads = workloads(tiny)
    per = seconds / len(loads) / 8  # each workload times up to 4 implementations x 2 modes
    measure = _timer(torch, device, per)
    for label, shape, kind in loads:
        x = torch.rand(shape, device=device, generator=gen)
        y = (x + 0.1 * torch.rand(shape, device=device, generator=gen)).clamp(0, 1)
        pixels = x.numel() / (shape[1] if kind != "volume" else 1)
        ours = {}
        for name, impl in _implementations(torch, kind, tiny).items():
            if isinstance(impl, Exception):
                rows.append({"workload": label, "impl": name, "error": f"not installed: {impl}"})
                continue
            for mode, f in zip(("forward", "forward+backward"), impl):
                row = {"workload": label, "impl": name, "mode": mode}
                try:
                    if mode == "forward":
                        t = measure(lambda f=f: f(x, y))
                    else:
                        yg = y.clone().requires_grad_()
                        t = measure(lambda f=f, yg=yg: f(x, yg))
                except Exception as e:  # noqa: BLE001 - a peer that cannot run this shape: said, not fatal
                    row["error"] = f"{type(e).__name__}: {str(e)[:200]}"
                    rows.append(row)
                    if progress is not None:
                        progress({"device": device, "rows": rows})
                    continue
                row.update(ms=round(t * 1e3, 3), gpx_s=round(pixels / t / 1e9, 3))
                if name == "fastssim":
                    ours[mode] = t
                elif mode in ours:
                    row["fastssim_speedup"] = round(t / ours[mode], 2)
                rows.append(row)
                if progress is not None:
                    progress({"device": device, "rows": rows})
    return {"device": device, "rows": rows}


def _pngs(root, n, size):
    import imageio.v3 as iio

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    os.makedirs(os.path.join(root, "ref"))
    os.makedirs(os.path.join(root, "dist"))

    def one(i):
        ref = np.roll(base, i, axis=1)
        noise = rng.integers(-12, 13, ref.shape) if i % 2 else 0
        iio.imwrite(os.path.join(root, "ref", f"{i:05d}.png"), ref)
        iio.imwrite(os.path.join(root, "dist", f"{i:05d}.png"), np.clip(ref.astype(int) + noise, 0, 255).astype(np.uint8))

    with ThreadPoolExecutor(os.cpu_count()) as pool:
        list(pool.map(one, range(n)))


def score_run(tiny=False):
    """``fastssim score --backend cuda`` over PNG pairs, against decoding the same files alone."""
    from fastssim.io import read_image

    n, size = (2, 16) if tiny else (2000, 256)  # tiny: the simulator runs a thread per GPU thread
    work = tempfile.mkdtemp(prefix="fastssim-gpu-score-")
    try:
        _pngs(work, n, size)
        files = sorted(os.listdir(os.path.join(work, "ref")))
        t = time.perf_counter()
        with ThreadPoolExecutor(os.cpu_count()) as pool:
            list(pool.map(lambda f: (read_image(os.path.join(work, "ref", f)),
                                     read_image(os.path.join(work, "dist", f))), files))
        decode = time.perf_counter() - t
        cmd = [sys.executable, "-m", "fastssim.cli", "score", os.path.join(work, "ref"), os.path.join(work, "dist"),
               "--backend", "cuda", "--metrics", "ssim,psnr", "--quiet"]
        warm = subprocess.run(cmd + ["-o", os.path.join(work, "warm")], capture_output=True, text=True)
        if warm.returncode:
            raise RuntimeError(f"fastssim score exited {warm.returncode}: {warm.stderr.strip()[-1500:]}")
        t = time.perf_counter()
        r = subprocess.run(cmd + ["-o", os.path.join(work, "out")], capture_output=True, text=True)
        scored = time.perf_counter() - t
        if r.returncode:
            raise RuntimeError(f"fastssim score exited {r.returncode}: {r.stderr.strip()[-1500:]}")
        import pandas as pd

        df = pd.read_parquet(os.path.join(work, "out"))
        ok = int((df.status == "ok").sum())
        return {"rows": [{"pairs": n, "size": f"{size}x{size} RGB PNG", "rows_ok": ok,
                          "decode_pairs_s": round(n / decode, 1), "score_cuda_pairs_s": round(n / scored, 1),
                          "score_vs_decode": round(decode / scored, 3),
                          "note": "the score time includes the command's start-up (kernels cached by the warm run)"}]}
    finally:
        shutil.rmtree(work, ignore_errors=True)
