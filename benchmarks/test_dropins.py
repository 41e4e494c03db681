"""The drop-ins against the libraries they replace, on the CPU, warm, in one run.

    python -m benchmarks.test_dropins [--seconds 1.0]
    python -m pytest benchmarks/test_dropins.py -s      # a short run, the table printed

For each workload: the original library's call, the same call through ``fastssim.compat.<library>``
(only the import changed), and ``fastssim.torch`` called directly (what the drop-in costs over
it); forward alone (no input needs a gradient) and forward + backward (the second input needs
one, as a loss's prediction). float32 tensors; both libraries use all cores (torch's intra-op
threads, fastssim's Numba threads). Throughput is the pixels of all images and channels over the
median call.
"""

import argparse
import sys

import numpy as np

try:
    from benchmarks.timing import warm_times
except ImportError:  # run by pytest from benchmarks/ (on sys.path there)
    from timing import warm_times


def _images(shape, seed=0):
    """A smooth picture with texture and its noisy copy, float32 in [0, 1]."""
    import torch

    rng = np.random.default_rng(seed)
    grid = np.meshgrid(*[np.linspace(0, 1, n) for n in shape[2:]], indexing="ij")
    base = 0.5 + 0.3 * np.sin(9 * grid[-1]) * np.cos(7 * grid[-2])
    x = np.clip(base + 0.15 * rng.random(shape), 0, 1)
    y = np.clip(x + rng.normal(0, 0.05, shape), 0, 1)
    return torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))


def _call(fn, x, y, backward):
    if not backward:
        return lambda: float(fn(x, y))

    def step():
        yy = y.detach().requires_grad_()
        v = fn(x, yy)
        v.backward()
        return float(v.detach())
    return step


def workloads():
    """``(workload, implementation, pixels, call)``; ``call()`` returns the value."""
    import fastssim.torch as fst
    from fastssim.compat import pytorch_msssim as drop

    try:
        import pytorch_msssim as orig
    except ImportError:
        orig = None
    cases = [
        ("ssim", (8, 3, 256, 256)),
        ("ssim", (1, 3, 1024, 1024)),
        ("ms_ssim", (4, 3, 512, 512)),
        ("ssim", (1, 1, 64, 128, 128)),
    ]
    out = []
    for metric, shape in cases:
        x, y = _images(shape)
        pixels = int(np.prod(shape))
        direct = getattr(fst, metric)
        impls = [("fastssim.compat.pytorch_msssim", lambda a, b, f=getattr(drop, metric): f(a, b, data_range=1.0)),
                 ("fastssim.torch", lambda a, b, f=direct: f(a, b, data_range=1.0))]
        if orig is not None:
            impls.insert(0, ("pytorch_msssim", lambda a, b, f=getattr(orig, metric): f(a, b, data_range=1.0)))
        for backward in (False, True):
            name = f"{metric} {'x'.join(map(str, shape))} {'fwd+bwd' if backward else 'fwd'}"
            for impl, fn in impls:
                out.append((name, impl, pixels, _call(fn, x, y, backward)))
    return out


def run(seconds=1.0):
    rows = []
    for name, impl, pixels, call in workloads():
        t = float(np.median(warm_times(call, seconds)))
        rows.append(dict(workload=name, impl=impl, seconds=t, mpx=pixels / t / 1e6, value=call()))
    return rows


def table(rows):
    lines = ["| workload | implementation | median ms | Mpx/s | value | drop-in vs original | drop-in vs direct |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        same = {p["impl"]: p for p in rows if p["workload"] == r["workload"]}
        ratio = direct = ""
        if r["impl"] == "fastssim.compat.pytorch_msssim":
            if "pytorch_msssim" in same:
                ratio = f"{same['pytorch_msssim']['seconds'] / r['seconds']:.1f}x"
            direct = f"{r['seconds'] / same['fastssim.torch']['seconds']:.2f}"
        lines.append(f"| {r['workload']} | {r['impl']} | {r['seconds'] * 1e3:.2f} | {r['mpx']:.0f} | "
                     f"{r['value']:.6f} | {ratio} | {direct} |")
    return "\n".join(lines)


def test_dropins_agree_and_table():
    """A short run: the table printed; the drop-in gives the original's value (float32: 2e-6)."""
    import pytest

    pytest.importorskip("torch")
    rows = run(seconds=0.1)
    print("\n" + table(rows))
    by = {(r["workload"], r["impl"]): r["value"] for r in rows}
    for (w, impl), v in by.items():
        if impl == "pytorch_msssim":
            assert abs(v - by[(w, "fastssim.compat.pytorch_msssim")]) < 2e-6, (w, v)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0)
    a = ap.parse_args(argv)
    import platform

    import numba
    import torch

    print(f"{platform.machine()}, torch {torch.__version__} ({torch.get_num_threads()} threads), numba "
          f"{numba.__version__}; python -m benchmarks.test_dropins --seconds {a.seconds}", file=sys.stderr)
    print(table(run(a.seconds)))


if __name__ == "__main__":
    main()
