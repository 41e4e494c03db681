"""GPU SSIM throughput: fastssim's CUDA backend beside pytorch_msssim and torchmetrics.

Needs a real NVIDIA GPU (skipped otherwise, and under the simulator):

    pip install -e ".[cuda]" torch torchmetrics pytorch_msssim
    python -m pytest benchmarks/test_gpu_ssim.py -q -s

Every implementation computes Gaussian SSIM (11 taps, sigma 1.5) on data already on
the device; the host-to-device copy of NumPy input is timed on its own. Times are
medians of warm rounds, synchronised with the device.
"""

import os
import time

import numpy as np
import pytest

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    pytest.skip("GPU benchmarks need a real GPU, not the simulator", allow_module_level=True)
cuda = pytest.importorskip("numba.cuda")
if not cuda.is_available():
    pytest.skip("no CUDA GPU", allow_module_level=True)
torch = pytest.importorskip("torch")

import fastssim  # noqa: E402

FLOP_PER_PIXEL = 240  # separable 5-moment filter along two axes plus the formula


def _workloads():
    g = torch.Generator(device="cuda").manual_seed(0)
    yield "16 x 1024x1024 float32", torch.rand((16, 1, 1024, 1024), device="cuda", generator=g), 1.0, 2
    yield "8 x 4K RGB uint8", torch.randint(0, 256, (8, 3, 2160, 3840), device="cuda", generator=g,
                                             dtype=torch.uint8), 255.0, 2
    yield "256^3 float32 volume", torch.rand((1, 1, 256, 256, 256), device="cuda", generator=g), 1.0, 3
    yield "4096 x 64x64 float32", torch.rand((4096, 1, 64, 64), device="cuda", generator=g), 1.0, 2


def _time(f, rounds=10):
    f()
    torch.cuda.synchronize()
    ts = []
    for _ in range(rounds):
        torch.cuda.synchronize()
        t = time.perf_counter()
        f()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    return float(np.median(ts))


def test_gpu_throughput():
    from pytorch_msssim import ssim as pm_ssim
    from torchmetrics.functional.image import structural_similarity_index_measure as tm_ssim

    name = torch.cuda.get_device_name()
    dev = cuda.get_current_device()
    # FP32 peak: SMs x 128 FP32 lanes x 2 flop per FMA x boost clock (CLOCK_RATE is in kHz)
    peak = dev.MULTIPROCESSOR_COUNT * 128 * 2 * dev.CLOCK_RATE * 1e3
    print(f"\nGPU: {name}, FP32 peak {peak / 1e12:.1f} TFLOP/s")
    for label, x, L, nd in _workloads():
        noise = (torch.rand_like(x.float()) * 0.1 * L)
        y = (x.float() + noise).clamp(0, L).to(x.dtype)
        if nd == 2:
            # fastssim takes (N, C, H, W) as a batch with channel axis 0 of each pair
            def ours(x=x, y=y, L=L):
                return fastssim.ssim_batch(x, y, channel_axis=0, data_range=L, backend="cuda")
        else:
            def ours(x=x, y=y, L=L):
                return fastssim.ssim(x[0, 0], y[0, 0], data_range=L, backend="cuda")
        xf, yf = x.float(), y.float()
        peers = {
            "pytorch_msssim": lambda xf=xf, yf=yf, L=L: pm_ssim(xf, yf, data_range=L, size_average=False),
            "torchmetrics": lambda xf=xf, yf=yf, L=L: tm_ssim(xf, yf, data_range=L, reduction="none"),
        }
        pixels = x.numel() / (x.shape[1] if nd == 2 else 1)
        t = _time(ours)
        host = x.cpu().numpy()
        t_copy = _time(lambda host=host: cuda.to_device(host))
        print(f"{label:<24} fastssim {t * 1e3:8.2f} ms {x.numel() / t / 1e9:6.2f} Gpx/s "
              f"(host copy {t_copy * 1e3:.2f} ms), {x.numel() * FLOP_PER_PIXEL / t / peak:.1%} of FP32 peak")
        for peer, f in peers.items():
            try:
                tp = _time(f, rounds=3)
            except Exception as e:  # a peer that cannot run this shape (e.g. 3-D)
                print(f"{'':<24} {peer:<15} n/a ({type(e).__name__})")
                continue
            print(f"{'':<24} {peer:<15} {tp * 1e3:8.2f} ms   fastssim {tp / t:5.1f}x")
        assert pixels > 0
