"""End-to-end batch scoring, against the work that cannot be avoided and a plain loop.

    FASTSSIM_BENCH_PAIRS=2000 python -m pytest benchmarks/test_pipeline.py -q -s

Generates PNG pairs (512x512 RGB) once into a temporary directory, then measures, warm:
- decode-only: every file read by a pool of all cores, with fastssim's reader (libspng when
  pyspng is installed) and with plain ``imageio.imread``;
- kernel-only: fastssim scoring the same pairs already in memory, all cores;
- end-to-end: ``fastssim.batch.score_files`` (discovery, decode, score, Parquet);
- the loop: ``imageio.imread`` + ``skimage.metrics.structural_similarity`` per pair, on the
  first ``FASTSSIM_BENCH_LOOP`` pairs (default 100), as pairs/s.
"""

import concurrent.futures as cf
import os
import time

import imageio.v3 as iio
import numpy as np
import pytest

import fastssim
from fastssim.batch import Job, score_files
from fastssim.batch.pairs import match_dirs
from peers import skimage_ssim

N = int(os.environ.get("FASTSSIM_BENCH_PAIRS", "2000"))
N_LOOP = int(os.environ.get("FASTSSIM_BENCH_LOOP", "100"))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:512, :512] / 512.0
    for sub in ("ref", "dist"):
        (root / sub).mkdir()
    for i in range(N):
        f = rng.uniform(2, 20, 3)
        img = np.stack([128 + 90 * np.sin(2 * np.pi * f[c] * (xx + c * yy)) for c in range(3)], -1)
        img = np.clip(img + rng.normal(0, 6, img.shape), 0, 255).astype(np.uint8)
        dist = np.clip(img + rng.normal(0, 12, img.shape), 0, 255).astype(np.uint8)
        iio.imwrite(root / "ref" / f"{i:05d}.png", img)
        iio.imwrite(root / "dist" / f"{i:05d}.png", dist)
    return root


def _median(f, rounds=3):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def test_pipeline_throughput(dataset, tmp_path):
    workers = os.cpu_count()
    pairs, _, _ = match_dirs(str(dataset / "ref"), [(None, str(dataset / "dist"))])
    paths = [str(dataset / "ref" / p.ref) for p in pairs] + [str(dataset / "dist" / p.dist) for p in pairs]

    from fastssim.io import pyspng, read_image

    def decode_all(reader=read_image):
        with cf.ThreadPoolExecutor(workers) as pool:
            return list(pool.map(reader, paths))

    arrays = decode_all()
    refs, dists = arrays[:N], arrays[N:]
    t_decode = _median(decode_all)
    t_decode_imageio = _median(lambda: decode_all(iio.imread))
    t_kernel = _median(lambda: fastssim.ssim_batch(np.stack(refs[:64]), np.stack(dists[:64]), channel_axis=-1)) * N / 64
    # the batch scorer computes PSNR and MSE too: count them in the unavoidable work
    t_kernel += _median(lambda: [fastssim.mse(a, b) for a, b in zip(refs[:64], dists[:64])]) * N / 64

    job = Job(str(dataset / "ref"), {None: str(dataset / "dist")})
    out = tmp_path / "out"

    def end_to_end():
        return score_files(pairs, str(out), job, {"bench": 1}, overwrite=True, quiet=True)

    summary = end_to_end()
    assert summary["errors"] == 0 and summary["rows"] == N
    t_e2e = _median(end_to_end)

    t0 = time.perf_counter()
    for p in pairs[:N_LOOP]:
        x = iio.imread(dataset / "ref" / p.ref)
        y = iio.imread(dataset / "dist" / p.dist)
        skimage_ssim(x, y, 255, channel_axis=-1)
    loop_rate = N_LOOP / (time.perf_counter() - t0)

    rate = N / t_e2e
    print(f"\n{N} PNG pairs 512x512 RGB, {workers} cores")
    print(f"decode-only (fastssim reader, {'libspng' if pyspng else 'imageio'}) {t_decode:8.2f} s  {N / t_decode:8.1f} pairs/s")
    print(f"decode-only (imageio.imread) {t_decode_imageio:8.2f} s  {N / t_decode_imageio:8.1f} pairs/s")
    print(f"kernel-only            {t_kernel:8.2f} s  {N / t_kernel:8.1f} pairs/s")
    print(f"end-to-end             {t_e2e:8.2f} s  {rate:8.1f} pairs/s")
    print(f"end-to-end / (decode + kernel) = {t_e2e / (t_decode + t_kernel):.3f}")
    print(f"imread + skimage loop  ({N_LOOP} pairs)  {loop_rate:8.1f} pairs/s; fastssim is {rate / loop_rate:.1f}x")


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
