"""The drop-ins against the libraries they replace, on the CPU, warm, in one run.

    python -m benchmarks.test_dropins [--seconds 1.0]
    python -m pytest benchmarks/test_dropins.py -s      # a short run, the table printed

For each library (pytorch_msssim, torchmetrics, kornia, MONAI) and workload: the original library's call, the
same call through ``fastssim.compat.<library>``
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
    from benchmarks import results
    from benchmarks.timing import warm_times
except ImportError:  # run by pytest from benchmarks/ (on sys.path there)
    import results  # type: ignore[no-redef]
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


def _call(fn, x, y, mode):
    """A call of ``fn`` as ``mode`` says: 'fwd' (no gradient), 'fwd+bwd' (y's gradient), 'penalty'
    (a gradient penalty: ``v + |dv/dy|^2`` differentiated, a second derivative)."""
    import torch

    if mode == "fwd":
        return lambda: float(fn(x, y))

    def step():
        yy = y.detach().requires_grad_()
        v = fn(x, yy)
        if mode == "penalty":
            (g,) = torch.autograd.grad(v, yy, create_graph=True)
            v = v + g.square().sum()
        v.backward()
        return float(v.detach())
    return step


#: (library, its module, the drop-in's module, {metric: function name}, keyword arguments); "ssim3d" names
#: a library's function for volumes where it has its own
LIBRARIES = [
    ("pytorch_msssim", "pytorch_msssim", "fastssim.compat.pytorch_msssim", {"ssim": "ssim", "ms_ssim": "ms_ssim"},
     dict(data_range=1.0)),
    ("torchmetrics", "torchmetrics.functional.image", "fastssim.compat.torchmetrics",
     {"ssim": "structural_similarity_index_measure", "ms_ssim": "multiscale_structural_similarity_index_measure"},
     dict(data_range=1.0)),
    # kornia's SSIM is a map; its loss, clamp((1 - SSIM) / 2, 0, 1) averaged, is what training code calls
    ("kornia", "kornia.losses", "fastssim.compat.kornia.losses", {"ssim": "ssim_loss", "ssim3d": "ssim3d_loss"},
     dict(window_size=11)),
    # MONAI: its loss (1 - SSIM, a class built with the spatial axes) and its MS-SSIM function (each image's,
    # averaged here); spatial_dims is added from the case's shape
    ("monai", "monai.losses", "fastssim.compat.monai", {"ssim": "SSIMLoss"}, dict(data_range=1.0)),
    ("monai", "monai.metrics.regression", "fastssim.compat.monai", {"ms_ssim": "compute_ms_ssim"},
     dict(data_range=1.0)),
]
CASES = [("ssim", (8, 3, 256, 256)), ("ssim", (1, 3, 1024, 1024)), ("ms_ssim", (4, 3, 512, 512)),
         ("ssim", (1, 1, 64, 128, 128))]
#: the libraries whose SSIM averages the map of the image extended by reflection (one window per
#: pixel: 'same'); the others, and fastssim.torch, average the windows inside the image ('valid')
SAME_WINDOWS = ("torchmetrics", "kornia")
WINDOW = 11  # every case's window: pytorch_msssim's win_size, torchmetrics' Gaussian at sigma 1.5, kornia's


def windows(impl, metric, shape):
    """How many windows a call of ``impl`` averages over all its planes and scales: what its
    time is divided by in 'per window' (5 MS-SSIM scales, halved in 2 by the cases' even sides;
    torchmetrics' finer MS-SSIM scales take the 'valid' windows of their contrast term)."""
    lib = impl.removeprefix("fastssim.compat.").split(".")[0]
    planes = shape[0] * shape[1]
    sides = np.array(shape[2:])
    scales = 5 if metric == "ms_ssim" else 1
    total = 0
    for s in range(scales):
        same = lib in SAME_WINDOWS and s == scales - 1
        total += int(np.prod(sides // 2 ** s if same else sides // 2 ** s - WINDOW + 1))
    return planes * total


def _callable(f, kwargs):
    """``call(a, b)`` of a library's function, or of an instance of its class (a loss module), with
    ``kwargs``; a value per image is averaged (MONAI's MS-SSIM is (N, 1))."""
    import inspect

    if inspect.isclass(f):
        module = f(**kwargs)
        return lambda a, b: module(a, b)

    def call(a, b):
        v = f(a, b, **kwargs)
        return v.mean() if v.dim() else v
    return call


def workloads(libraries=None):
    """``(workload, implementation, pixels, windows, call)``; ``call()`` returns the value."""
    import importlib

    import fastssim.torch as fst

    out = []
    for lib, module, dropin, names, kwargs in LIBRARIES:
        if libraries and lib not in libraries:
            continue
        try:
            orig = importlib.import_module(module)
        except ImportError:
            orig = None
        drop = importlib.import_module(dropin)
        for i, (metric, shape) in enumerate(CASES):
            name = names.get("ssim3d" if len(shape) == 5 and "ssim3d" in names else metric)
            if name is None:
                continue
            x, y = _images(shape)
            pixels = int(np.prod(shape))
            kw = dict(kwargs, spatial_dims=len(shape) - 2) if lib == "monai" else kwargs
            impls = [(dropin, _callable(getattr(drop, name), kw)),
                     ("fastssim.torch", lambda a, b, f=getattr(fst, metric): f(a, b, data_range=1.0))]
            if orig is not None:
                impls.insert(0, (lib, _callable(getattr(orig, name), kw)))
            for mode in ("fwd", "fwd+bwd") + (("penalty",) if i == 0 else ()):
                label = f"{lib}: {name} {'x'.join(map(str, shape))} {mode}"
                for impl, fn in impls:
                    out.append((label, impl, pixels, windows(impl, metric, shape), _call(fn, x, y, mode)))
    return out


def run(seconds=1.0, libraries=None):
    rows = []
    for name, impl, pixels, wins, call in workloads(libraries):
        t = float(np.median(warm_times(call, seconds)))
        rows.append(dict(workload=name, impl=impl, seconds=t, mpx=pixels / t / 1e6, windows=wins, value=call()))
    return rows


NOTES = ("Each drop-in (``fastssim.compat.<library>``) against the library it replaces, float32 on the CPU, "
         "torch on its default threads; medians of warm calls. fwd: a call without gradients; fwd+bwd: the "
         "second input needs a gradient, as a loss's prediction does; penalty: a gradient penalty, the value plus the "
         "squared norm of its gradient differentiated (a second derivative: fastssim's backward then runs "
         "PyTorch operations, ``fastssim.integrations.torch_reference``). 'drop-in vs direct' compares the "
         "drop-in with calling ``fastssim.torch`` on the same tensors; '... per window' divides each call's time by "
         "the windows it averages: torchmetrics' and kornia's SSIM is the mean of a map of the input's size (the "
         "image extended by reflection, read in place by the forward and gradient kernels), "
         "fastssim.torch's and pytorch_msssim's of the windows inside the image (1.08x fewer at 256^2, 1.02x at "
         "1024^2, 1.39x at 64x128^2), so 'per window' is what the drop-in's own work around the kernels costs. "
         "kornia's rows are its loss, ``clamp((1 - SSIM) / 2, 0, 1)`` averaged, so their values are not SSIM.")


def table(rows):
    lines = ["| workload | implementation | median ms | Mpx/s | value | drop-in vs original | drop-in vs direct | "
             "... per window |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        same = {p["impl"]: p for p in rows if p["workload"] == r["workload"]}
        lib = r["workload"].split(":")[0]
        ratio = direct = per_window = ""
        if r["impl"].startswith("fastssim.compat."):
            if lib in same:
                ratio = f"{same[lib]['seconds'] / r['seconds']:.1f}x"
            d = same["fastssim.torch"]
            direct = f"{r['seconds'] / d['seconds']:.2f}"
            per_window = f"{(r['seconds'] / r['windows']) / (d['seconds'] / d['windows']):.2f}"
        lines.append(f"| {r['workload']} | {r['impl']} | {r['seconds'] * 1e3:.2f} | {r['mpx']:.0f} | "
                     f"{r['value']:.6f} | {ratio} | {direct} | {per_window} |")
    return "\n".join(lines)


def test_dropins_agree_and_table():
    """A short run: the table printed; each drop-in gives its original's value (float32: 5e-5,
    the originals' own float32 error)."""
    import pytest

    pytest.importorskip("torch")
    rows = run(seconds=0.1)
    print("\n" + table(rows))
    by = {(r["workload"], r["impl"]): r["value"] for r in rows}
    for lib, _, dropin, _, _ in LIBRARIES:
        for (w, impl), v in by.items():
            if impl == lib:
                assert abs(v - by[(w, dropin)]) < 5e-5, (w, v)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--only", nargs="*", help="libraries to run (default: all)")
    ap.add_argument("--results", default=str(results.DIRECTORY), help="write the results file there ('' for none)")
    a = ap.parse_args(argv)
    import platform

    import numba
    import torch

    print(f"{platform.machine()}, torch {torch.__version__} ({torch.get_num_threads()} threads), numba "
          f"{numba.__version__}; python -m benchmarks.test_dropins --seconds {a.seconds}", file=sys.stderr)
    text = table(run(a.seconds, a.only))
    print(text)
    if not a.only:
        results.write("test_dropins", "Drop-ins against their originals (PyTorch, CPU)", text,
                      ["--seconds", str(a.seconds)], a.results, peers=("torch", "pytorch_msssim", "torchmetrics", "kornia", "monai"),
                      notes=NOTES)


if __name__ == "__main__":
    main()
