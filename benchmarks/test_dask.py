"""Dask: the same dataset through the local pool and a LocalCluster, the per-task overhead, and
out-of-core SSIM of zarr volumes (against the in-memory call, and larger than the workers' memory).

    python -m pytest benchmarks/test_dask.py -q -s
    FASTSSIM_BENCH_OOC_GB=2 python -m pytest benchmarks/test_dask.py -q -s -k larger_than_memory

Warm (the first run of each setup compiles or loads the kernels in every worker and is not
timed); median of 3 rounds.
"""

import os
import time

import imageio.v3 as iio
import numpy as np
import pytest

import fastssim
from timing import median_seconds

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
pytest.importorskip("zarr")
fd = pytest.importorskip("fastssim.dask")

N_PAIRS = int(os.environ.get("FASTSSIM_BENCH_DASK_PAIRS", "2000"))



def _dataset(root, n, size=64):
    rng = np.random.default_rng(0)
    for sub in ("ref", "dist"):
        (root / sub).mkdir()
    for i in range(n):
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        iio.imwrite(root / "ref" / f"{i:05d}.png", img)
        iio.imwrite(root / "dist" / f"{i:05d}.png", np.clip(img + rng.normal(0, 9, img.shape), 0, 255).astype(np.uint8))
    return [(str(root / "ref" / f"{i:05d}.png"), str(root / "dist" / f"{i:05d}.png")) for i in range(n)]


def test_pairs_per_second_local_pool_and_cluster(tmp_path):
    pairs = _dataset(tmp_path, N_PAIRS)
    rows = []

    def local():
        fastssim.score_dataset(pairs, out=str(tmp_path / "local"), overwrite=True)

    local()
    rows.append(("local pool (threads)", median_seconds(local)))
    for workers in (1, 2):
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=":0", silence_logs=50) as cluster, \
                distributed.Client(cluster) as client:
            def run():
                fastssim.score_dataset(pairs, out=str(tmp_path / f"d{workers}"), client=client, overwrite=True)

            run()
            rows.append((f"LocalCluster, {workers} worker process(es)", median_seconds(run)))

            def empty_tasks(n=500):
                client.gather(client.map(len, [[i] for i in range(n)], pure=False))

            empty_tasks()
            per_task = median_seconds(empty_tasks) / 500
    base = rows[0][1]
    print(f"\n{N_PAIRS} RGB 64x64 PNG pairs, chunks of 500 pairs, {os.cpu_count()} cores")
    print("| setup | time | pairs/s | vs local pool |\n|---|---:|---:|---:|")
    for label, t in rows:
        print(f"| {label} | {t:.2f} s | {N_PAIRS / t:.0f} | {base / t:.2f}x |")
    print(f"scheduler round trip per (empty) task, 2 workers: {per_task * 1e3:.2f} ms")


def _volume(path, shape, chunks, seed, shift=0.0):
    """A smooth field with noise as a zarr array, written chunk by chunk (never in memory)."""
    rng = da.random.default_rng(seed)
    zz = da.arange(shape[0], chunks=chunks[0])[:, None, None] / shape[0]
    yy = da.arange(shape[1], chunks=chunks[1])[None, :, None] / shape[1]
    xx = da.arange(shape[2], chunks=chunks[2])[None, None, :] / shape[2]
    field = 128 + 60 * da.sin(6 * zz + 4 * yy + shift) * da.cos(5 * xx) + rng.normal(0, 8, shape, chunks=chunks)
    da.to_zarr(da.clip(field, 0, 255).astype(np.uint8).rechunk(chunks), str(path), overwrite=True)
    return da.from_zarr(str(path))


def test_out_of_core_against_in_memory(tmp_path):
    shape, chunks = (128, 512, 512), (64, 128, 128)
    x = _volume(tmp_path / "x.zarr", shape, chunks, 0)
    y = _volume(tmp_path / "y.zarr", shape, chunks, 1, shift=0.05)
    xm, ym = x.compute(), y.compute()
    fastssim.ssim(xm, ym)
    t_mem = median_seconds(lambda: fastssim.ssim(xm, ym))
    fd.ssim(x, y)
    t_ooc = median_seconds(lambda: fd.ssim(x, y))
    t_read = median_seconds(lambda: (x.sum() + y.sum()).compute())  # reading both volumes from zarr, nothing else
    xd, yd = da.from_array(xm, chunks=chunks), da.from_array(ym, chunks=chunks)
    fd.ssim(xd, yd)
    t_tiles = median_seconds(lambda: fd.ssim(xd, yd))
    mvox = np.prod(shape) / 1e6
    print(f"\n3-D SSIM of a {shape} uint8 volume, chunks {chunks} (MVox/s): in memory {mvox / t_mem:.0f}; "
          f"fastssim.dask from zarr {mvox / t_ooc:.0f}; reading the two zarr arrays only {mvox / t_read:.0f}; "
          f"fastssim.dask from in-memory chunks {mvox / t_tiles:.0f}; "
          f"|difference| {abs(fd.ssim(x, y) - fastssim.ssim(xm, ym)):.1e}")


def test_larger_than_memory(tmp_path):
    """A pair of volumes several times larger than the one worker's memory limit."""
    gb = float(os.environ.get("FASTSSIM_BENCH_OOC_GB", "1"))
    side = int(round((gb * 2 ** 30) ** (1 / 3) / 64)) * 64
    shape, chunks = (side, side, side), (64, 128, 128)
    x = _volume(tmp_path / "x.zarr", shape, chunks, 0)
    y = _volume(tmp_path / "y.zarr", shape, chunks, 1, shift=0.05)
    limit = "700MB"
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=True, memory_limit=limit,
                                  dashboard_address=":0", silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        t = time.perf_counter()
        value = fd.ssim(x, y)
        elapsed = time.perf_counter() - t
        peak = max(client.run(lambda: __import__("resource").getrusage(0).ru_maxrss).values()) / 1024
    size = 2 * np.prod(shape) / 2 ** 30
    print(f"\n{shape} uint8 pair ({size:.2f} GiB together) on one worker limited to {limit}: SSIM {value:.6f} in "
          f"{elapsed:.1f} s ({np.prod(shape) / 1e6 / elapsed:.0f} MVox/s), worker peak RSS {peak:.0f} MB")
    assert 0 < value < 1
