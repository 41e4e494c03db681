"""A/B: this checkout's kernels against another commit's, in one process, interleaved.

The other commit's package is extracted (``git archive``) into a temporary directory and imported
as ``fastssim_old`` (its imports are relative), so both run on the same machine at the same moment;
each workload alternates old and new calls, warm, and reports the median throughput of each and
their ratio. For a change that should not move kernel speed (a refactor), the ratios should be 1
within the noise of a shared machine.

    python -m benchmarks.ab_versions [--base a16c275] [--rounds 15] [--only 'ssim 128']

'same value' says whether the two give the same numbers bit for bit: a change of the kernels' task
bands moves float32 results within their rounding (the tasks' shifts come from other rows).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def old_package(commit, where):
    """Import ``commit``'s fastssim as ``fastssim_old`` from ``where``."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", commit, "fastssim"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", where], input=archive, check=True)
    os.rename(os.path.join(where, "fastssim"), os.path.join(where, "fastssim_old"))
    init = os.path.join(where, "fastssim_old", "__init__.py")
    with open(init) as f:  # commits before 38d1d3e named a module of theirs absolutely
        text = f.read()
    with open(init, "w") as f:
        f.write(text.replace('import_module("fastssim.three_ssim")', 'import_module(".three_ssim", __name__)'))
    sys.path.insert(0, where)
    import fastssim_old

    return fastssim_old


def _skimage_dropin(m):
    """``structural_similarity`` of the scikit-image drop-in of package ``m`` (new or old)."""
    import importlib

    return importlib.import_module(m.__name__ + ".compat.skimage").structural_similarity


def _planes(m):
    """``ssim_planes`` of package ``m`` (new or old): the drop-ins' entry."""
    import importlib

    return importlib.import_module(m.__name__ + ".metrics.planes").ssim_planes


def workloads():
    rng = np.random.default_rng(0)
    g = rng.integers(0, 256, (1024, 1024), dtype=np.uint8)
    gd = np.clip(g + rng.normal(0, 12, g.shape), 0, 255).astype(np.uint8)
    c = rng.integers(0, 256, (512, 512, 3), dtype=np.uint8)
    cd = np.clip(c + rng.normal(0, 12, c.shape), 0, 255).astype(np.uint8)
    v = rng.random((128, 128, 128), dtype=np.float32)
    vd = (v + 0.05 * rng.standard_normal(v.shape)).astype(np.float32)
    f = (g / 255).astype(np.float32)
    fd = (gd / 255).astype(np.float32)
    f64, f64d = f.astype(np.float64), fd.astype(np.float64)  # converted once, not in the timed call
    small = [(n, g[:n, :n], gd[:n, :n]) for n in (128, 192, 256)]
    b64 = rng.integers(0, 256, (1024, 64, 64, 3), dtype=np.uint8)
    b64d = np.clip(b64 + rng.normal(0, 12, b64.shape), 0, 255).astype(np.uint8)
    b128 = rng.integers(0, 256, (256, 128, 128), dtype=np.uint8)
    b128d = np.clip(b128 + rng.normal(0, 12, b128.shape), 0, 255).astype(np.uint8)
    from fastssim.kernels.math import window_weights

    gauss11 = window_weights(11, 1.5, True)  # the taps a drop-in passes
    p24 = rng.random((24, 256, 256), dtype=np.float32)
    p24d = np.clip(p24 + 0.05 * rng.standard_normal(p24.shape), 0, 1).astype(np.float32)
    f3, f3d = np.stack([f, f.T, f[::-1]]), np.stack([fd, fd.T, fd[::-1]])
    return [(f"ssim {n}^2 uint8", a.size, lambda m, a=a, b=b: m.ssim(a, b)) for n, a, b in small] + [
        ("ms_ssim 512^2 float32", f[:512, :512].size, lambda m: m.ms_ssim(f[:512, :512], fd[:512, :512], data_range=1.0)),
        # small pairs, where each scale's Python is a large part of the call
        ("ms_ssim 192^2 float32", f[:192, :192].size, lambda m: m.ms_ssim(f[:192, :192], fd[:192, :192], data_range=1.0)),
        ("ms_ssim 256^2 uint8", g[:256, :256].size, lambda m: m.ms_ssim(g[:256, :256], gd[:256, :256])),
        ("ms_ssim 256^2 float32 preset='torchmetrics'", f[:256, :256].size,
         lambda m: m.ms_ssim(f[:256, :256], fd[:256, :256], data_range=1.0, preset="torchmetrics")),
        ("ssim_batch 1024 x 64^2 RGB uint8", b64.size // 3, lambda m: m.ssim_batch(b64, b64d, channel_axis=-1)),
        ("ssim_batch 256 x 128^2 uint8", b128.size, lambda m: m.ssim_batch(b128, b128d)),
        # a uniform window on 8-bit images (exact integer sums since issue 37): fast-ssim's convention,
        # scikit-image's preset and drop-in (both float64 before)
        ("ssim 1024^2 uint8 7x7 uniform", g.size, lambda m: m.ssim(g, gd, win_size=7, gaussian=False,
                                                                   sample_covariance=True)),
        ("ssim_map 1024^2 uint8 7x7 uniform", g.size, lambda m: m.ssim_map(g, gd, win_size=7, gaussian=False,
                                                                           sample_covariance=True)),
        ("ssim 1024^2 uint8 preset='skimage'", g.size, lambda m: m.ssim(g, gd, preset="skimage")),
        ("compat.skimage 1024^2 uint8", g.size, lambda m: _skimage_dropin(m)(g, gd)),
        ("compat.skimage 512^2 RGB uint8", c.size // 3, lambda m: _skimage_dropin(m)(c, cd, channel_axis=-1)),
    ] + [
        ("ssim 1024^2 uint8", g.size, lambda m: m.ssim(g, gd)),
        ("ssim 1024^2 float32", g.size, lambda m: m.ssim(f, fd, data_range=1.0)),
        # float64 work: the presets that reproduce a float64 implementation (MATLAB's, on 8-bit images)
        ("ssim 1024^2 float64", g.size, lambda m: m.ssim(f64, f64d, data_range=1.0)),
        ("ssim 1024^2 uint8 preset='matlab'", g.size, lambda m: m.ssim(g, gd, preset="matlab")),
        ("ssim 512^2 RGB uint8", c.size, lambda m: m.ssim(c, cd, channel_axis=-1)),
        ("ssim 128^3 float32", v.size, lambda m: m.ssim(v, vd, data_range=1.0)),
        ("ms_ssim 1024^2 uint8", g.size, lambda m: m.ms_ssim(g, gd)),
        ("ms_ssim 1024^2 float32", g.size, lambda m: m.ms_ssim(f, fd, data_range=1.0)),
        ("ms_ssim 1024^2 float32 preset='pytorch_msssim'", g.size,
         lambda m: m.ms_ssim(f, fd, data_range=1.0, preset="pytorch_msssim")),
        ("ssim_with_gradient 1024^2 float32", g.size, lambda m: m.ssim_with_gradient(f, fd, data_range=1.0)),
        ("ssim_with_gradient 64x128^2 float32", v[:64].size,
         lambda m: m.ssim_with_gradient(v[:64], vd[:64], data_range=1.0)),
        ("ssim_batch_with_gradient 24 x 128^2 float32", 24 * 128 * 128,
         lambda m: m.ssim_batch_with_gradient(f[:768, :512].reshape(24, 128, 128), fd[:768, :512].reshape(24, 128, 128),
                                              data_range=1.0)),
        ("psnr 1024^2 uint8", g.size, lambda m: m.psnr(g, gd)),
        # torchmetrics' and kornia's 'same' windows: the planes read through PyTorch's reflection
        ("planes 24 x 256^2 float32 reflected by 5", p24.size,
         lambda m: _planes(m)(p24, p24d, spatial_ndim=2, taps=gauss11, data_range=1.0, pad=5)),
        ("planes' gradient 3 x 1024^2 float32 reflected by 5", 3 * g.size,
         lambda m: _planes(m)(f3, f3d, spatial_ndim=2, taps=gauss11, data_range=1.0, pad=5, gradient=True)),
    ]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="a16c275", help="the other commit (default: before issue 35)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--only", default="", help="the workloads whose names contain this text")
    a = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    import fastssim as new

    tmp = tempfile.mkdtemp(prefix="fastssim-ab-")
    try:
        old = old_package(a.base, tmp)
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
        print(f"{a.base} (old) against {head.stdout.strip()} (new), {a.rounds} interleaved rounds, Mpx/s medians")
        print("| workload | old | new | new / old | same value |\n|---|---:|---:|---:|---|")
        for name, pixels, call in (w for w in workloads() if a.only in w[0]):
            for m in (old, new):  # warm: compile (or load the cache) first
                call(m)
            times = {"old": [], "new": []}
            for _ in range(a.rounds):
                for key, m in (("old", old), ("new", new)):
                    t = time.perf_counter()
                    call(m)
                    times[key].append(time.perf_counter() - t)
            mo, mn = (pixels / np.median(times[k]) / 1e6 for k in ("old", "new"))
            vo, vn = call(old), call(new)
            same = all(np.array_equal(a, b) for a, b in zip(*(v if isinstance(v, tuple) else (v,) for v in (vo, vn))))
            print(f"| {name} | {mo:.0f} | {mn:.0f} | {mn / mo:.2f} | {'bitwise' if same else 'DIFFERS'} |", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
