"""End-to-end batch scoring, against the work that cannot be avoided and a plain loop.

    python -m pytest benchmarks/test_pipeline.py -q -s
    FASTSSIM_BENCH_SHAPES=32,64,288,512,1080p,4k FASTSSIM_BENCH_FORMATS=png,jpg python -m pytest ...

For each dataset shape and format (generated once into a temporary directory: smooth
sinusoids plus noise, RGB, distorted by noise), measured warm, median of 3 rounds:
- decode-only: every file read by a pool of all cores with fastssim's reader;
- kernel-only: the metrics the scorer computes (SSIM, MSE -> PSNR) on the decoded pairs already
  stacked in memory, in the scorer's batches (``ssim_batch`` + ``mse_batch``), all cores;
- end-to-end: ``fastssim.batch.score_files`` (decode, batch, score, Parquet parts);
- the ratio end-to-end / (decode-only + kernel-only): 1.0 is a perfect pipeline that overlaps
  nothing; below 1.0 the kernels run while files decode.
For 512x512 also the loop ``imageio.imread`` + ``skimage.metrics.structural_similarity`` per pair
(``FASTSSIM_BENCH_LOOP`` pairs, default 100). Pair counts per shape are scaled by
``FASTSSIM_BENCH_SCALE`` (default 1). ``FASTSSIM_BENCH_BACKEND=cuda`` runs the kernels (kernel-only
from host stacks, copies included, and end-to-end) on the GPU.
"""

import concurrent.futures as cf
import os
import time

import imageio.v3 as iio
import numpy as np
import pytest

import fastssim
from timing import median_seconds
from fastssim import config as cfg
from fastssim.batch import Job, score_files
from fastssim.batch.pairs import match_dirs
from peers import skimage_ssim

SHAPES = {"32": ((32, 32), 5000), "64": ((64, 64), 5000), "288": ((288, 288), 1200), "512": ((512, 512), 400),
          "1080p": ((1080, 1920), 40), "4k": ((2160, 3840), 12)}
CHOSEN = os.environ.get("FASTSSIM_BENCH_SHAPES", "32,64,288,512").split(",")
FORMATS = os.environ.get("FASTSSIM_BENCH_FORMATS", "png").split(",")
SCALE = float(os.environ.get("FASTSSIM_BENCH_SCALE", "1"))
N_LOOP = int(os.environ.get("FASTSSIM_BENCH_LOOP", "100"))
BACKEND = os.environ.get("FASTSSIM_BENCH_BACKEND", "auto")
TABLE = []


def _make(root, shape, n, ext):
    rng = np.random.default_rng(0)
    h, w = shape
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    for sub in ("ref", "dist"):
        (root / sub).mkdir()
    for i in range(n):
        f = rng.uniform(2, 20, 3)
        img = np.stack([128 + 90 * np.sin(2 * np.pi * f[c] * (xx + c * yy)) for c in range(3)], -1)
        img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
        dist = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        kw = {"quality": 90} if ext == ".jpg" else {}
        iio.imwrite(root / "ref" / f"{i:05d}{ext}", img, **kw)
        iio.imwrite(root / "dist" / f"{i:05d}{ext}", dist, **kw)



@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", CHOSEN)
def test_pipeline_throughput(name, fmt, tmp_path):
    shape, n = SHAPES[name]
    n = max(2, int(n * SCALE))
    ext = "." + fmt
    _make(tmp_path, shape, n, ext)
    workers = os.cpu_count()
    pairs, _, _ = match_dirs(str(tmp_path / "ref"), [(None, str(tmp_path / "dist"))])
    assert len(pairs) == n
    paths = [str(tmp_path / "ref" / p.ref) for p in pairs] + [str(tmp_path / "dist" / p.dist) for p in pairs]

    from fastssim.io import read_image

    def decode_all():
        with cf.ThreadPoolExecutor(workers) as pool:
            return list(pool.map(read_image, paths))

    arrays = decode_all()
    t_decode = median_seconds(decode_all)
    per = max(1, min(cfg.BATCH_PAIRS, cfg.BATCH_BYTES // (2 * arrays[0].nbytes)))
    stacks = [(np.stack(arrays[i:min(i + per, n)]), np.stack(arrays[n + i:n + min(i + per, n)])) for i in range(0, n, per)]
    del arrays

    def kernels():
        for r, d in stacks:
            fastssim.ssim_batch(r, d, channel_axis=-1, backend=BACKEND)
            fastssim.mse_batch(r, d, backend=BACKEND)

    kernels()
    t_kernel = median_seconds(kernels)
    stacks.clear()  # free the decoded pairs before the end-to-end runs
    job = Job(str(tmp_path / "ref"), {None: str(tmp_path / "dist")}, backend=BACKEND)
    out = tmp_path / "out"

    def end_to_end():
        return score_files(pairs, str(out), job, {"bench": 1}, overwrite=True, quiet=True)

    summary = end_to_end()
    assert summary["errors"] == 0 and summary["rows"] == n
    t_e2e = median_seconds(end_to_end)
    label = f"{n} {fmt.upper()} pairs {shape[1]}x{shape[0]} RGB" + (f" ({BACKEND})" if BACKEND != "auto" else "")
    row = (label, t_decode, t_kernel, t_e2e, n / t_e2e, t_e2e / (t_decode + t_kernel))
    TABLE.append(row)
    print(f"\n{label}, {workers} cores: decode-only {t_decode:.2f} s, kernel-only {t_kernel:.2f} s, "
          f"end-to-end {t_e2e:.2f} s ({n / t_e2e:.1f} pairs/s), end-to-end / (decode + kernel) = {row[-1]:.3f}")
    if name == "512" and fmt == "png":
        t0 = time.perf_counter()
        for p in pairs[:N_LOOP]:
            x = iio.imread(tmp_path / "ref" / p.ref)
            y = iio.imread(tmp_path / "dist" / p.dist)
            skimage_ssim(x, y, 255, channel_axis=-1)
        loop_rate = min(N_LOOP, n) / (time.perf_counter() - t0)
        print(f"imread + skimage loop ({min(N_LOOP, n)} pairs) {loop_rate:.1f} pairs/s; fastssim is "
              f"{n / t_e2e / loop_rate:.1f}x")


def test_pipeline_table():
    """The rows measured above, as a Markdown table (run with the throughput tests)."""
    if not TABLE:
        pytest.skip("no throughput measured in this run")
    print("\n| dataset | decode-only | kernel-only | end-to-end | pairs/s | end-to-end / (decode + kernel) |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, d, k, e, rate, ratio in TABLE:
        print(f"| {label} | {d:.2f} s | {k:.2f} s | {e:.2f} s | {rate:.0f} | {ratio:.2f} |")


def _peak_rss_mb(args):
    """Peak RSS of one `fastssim score` process, measured from a fresh parent."""
    import subprocess
    import sys
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=False); "
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "fastssim.cli", *args],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def test_peak_memory_does_not_grow_with_pairs(tmp_path):
    rng = np.random.default_rng(0)
    n_big = int(os.environ.get("FASTSSIM_BENCH_RSS_PAIRS", "10000"))
    for sub in ("ref", "dist"):
        (tmp_path / sub).mkdir()
    img = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for i in range(n_big):
        iio.imwrite(tmp_path / "ref" / f"{i:06d}.png", img)
        iio.imwrite(tmp_path / "dist" / f"{i:06d}.png", img ^ np.uint8(i % 7))
    small = tmp_path / "small"
    (small / "ref").mkdir(parents=True)
    (small / "dist").mkdir()
    for i in range(n_big // 10):
        for sub in ("ref", "dist"):
            os.link(tmp_path / sub / f"{i:06d}.png", small / sub / f"{i:06d}.png")
    rss_small = _peak_rss_mb(["score", str(small / "ref"), str(small / "dist"), "-o", str(tmp_path / "o1"), "--quiet"])
    rss_big = _peak_rss_mb(["score", str(tmp_path / "ref"), str(tmp_path / "dist"), "-o", str(tmp_path / "o2"), "--quiet"])
    print(f"\npeak RSS: {n_big // 10} pairs {rss_small:.0f} MB, {n_big} pairs {rss_big:.0f} MB "
          f"(ratio {rss_big / rss_small:.3f})")
