"""Batches of equal-shaped pairs: the same rows as pair-by-pair scoring, bit for bit, with
bounded memory; through the API and the real command."""

import os
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import fastssim
from fastssim.batch import Job
from fastssim.batch.writer import SCHEMA
from fastssim.batch.batched import Batcher, score_group
from fastssim.batch.pairs import Pair
from images import DISTORTIONS, camera, colour


def _mixed_items():
    """Real crops of several shapes and kinds, with pairs no batch can take whole."""
    cam, lena = camera(), colour()
    rng = np.random.default_rng(0)
    items = []
    for i in range(40):
        kind = i % 4
        if kind == 0:
            x = cam[i:i + 64, 2 * i:2 * i + 64]                       # grey 64x64
        elif kind == 1:
            x = lena[i:i + 48, i:i + 80]                              # RGB 48x80
        elif kind == 2:
            x = cam[3 * i:3 * i + 200, i:i + 176]                     # big enough for MS-SSIM
        else:
            x = (cam[i:i + 40, i:i + 40].astype(np.uint16) * 16 + 7)  # 12-bit data in uint16
        ca = -1 if x.ndim == 3 else None
        y = DISTORTIONS[("noise", "blur", "jpeg")[i % 3]](x, ca) if x.dtype == np.uint8 else \
            np.clip(x + rng.normal(0, 30, x.shape), 0, 65535).astype(np.uint16)
        items.append((np.ascontiguousarray(x), np.ascontiguousarray(y)))
    items.append((cam[:8, :8], cam[:8, :8] // 2))        # under the window: SSIM fails, MSE does not
    items.append((cam[:8, :8], cam[:8, :8] // 3))
    items.append((cam[:64, :64], cam[:60, :64]))         # shape mismatch
    items.append((cam[:64, :64], cam[:64, :64].astype(np.uint16)))  # dtypes differ
    return items


def _pair_by_pair(job, items):
    rows = []
    for i, (x, y) in enumerate(items):
        rows.append(job.score(Pair(None, str(i), str(i)), np.asarray(x), np.asarray(y)))
    return rows


def _frame(rows):
    t = pa.Table.from_pylist(rows, schema=SCHEMA).to_pandas()
    return t.sort_values("ref", key=lambda s: s.astype(int)).reset_index(drop=True)


@pytest.mark.parametrize("metrics", ["ssim,psnr,mse", "ssim,ms_ssim,dssim,psnr"])
def test_batched_rows_equal_pair_by_pair(metrics):
    items = _mixed_items()
    job = Job("", {}, metrics=metrics)
    assert job.batchable
    batched = pa.Table.from_batches(list(fastssim.score_pairs(items, metrics=metrics))).to_pandas()
    batched = batched.sort_values("ref", key=lambda s: s.astype(int)).reset_index(drop=True)
    single = _frame(_pair_by_pair(job, items))
    pd.testing.assert_frame_equal(batched, single, check_exact=True)
    # the run holds every kind of outcome
    assert set(batched.status) == ({"ok", "partial", "error"})
    assert "win_size=11 exceeds the image extent (8, 8)" in batched.loc[40, "ssim_error"]
    assert batched.loc[40, "psnr"] == fastssim.psnr(items[40][0], items[40][1])


def test_a_batch_that_fails_is_scored_pair_by_pair():
    cam = camera()
    x = cam[:64, :64].astype(np.float64) / 255
    y = x.copy()
    y[5, 5] = np.nan  # one pair with NaN: the batch call raises, every other pair still scores
    job = Job("", {}, data_range=1.0)
    group = [(Pair(None, str(i), str(i)), x, y if i == 3 else x * 0.9) for i in range(6)]
    rows = score_group(job, group)
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "error", "ok", "ok"]
    assert "y contains NaN or Inf (first at index (5, 5))" in rows[3]["ssim_error"]
    assert rows[0]["ssim"] == fastssim.ssim(x, x * 0.9, data_range=1.0)


def test_memory_waiting_stays_bounded():
    job = Job("", {})
    rng = np.random.default_rng(1)
    b = Batcher(job, workers=2, max_pairs=64, max_bytes=200_000)
    most, rows = 0, []
    for i in range(600):
        size = (32, 48, 80)[i % 3]
        x = rng.integers(0, 256, (size, size), dtype=np.uint8)
        rows += b.add(Pair(None, str(i), str(i)), x, x // 2)
        most = max(most, b.waiting)
    rows += b.flush()
    assert len(rows) == 600 and b.waiting == 0 and not b.groups
    assert most <= 200_000 + 2 * 80 * 80  # the budget, plus the pair that crossed it
    assert b.limit() == 2 * 2 + min(64, 200_000 // (2 * 80 * 80))


def test_command_batched_and_unbatched_write_the_same_rows(tmp_path):
    cam = camera()
    for d in ("ref", "dist"):
        (tmp_path / d).mkdir()
    for i in range(30):
        x = cam[4 * i:4 * i + 48, 3 * i:3 * i + 48] if i % 5 else cam[:20, :30]
        iio.imwrite(tmp_path / "ref" / f"{i:02d}.png", x)
        iio.imwrite(tmp_path / "dist" / f"{i:02d}.png", DISTORTIONS["jpeg"](x))
    frames = []
    for pairs in ("1", "256"):
        out = tmp_path / f"out{pairs}"
        env = dict(os.environ, FASTSSIM_BATCH_PAIRS=pairs)
        r = subprocess.run([sys.executable, "-m", "fastssim.cli", "score", tmp_path / "ref", tmp_path / "dist",
                            "-o", out, "--quiet", "--metrics", "ssim,psnr,mse,dssim"],
                           capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        frames.append(pd.read_parquet(out).sort_values("ref").reset_index(drop=True))
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
    assert len(frames[0]) == 30 and frames[0].ssim.notna().all()


def test_gpu_batches_equal_gpu_pair_by_pair_and_the_cpu():
    """backend='cuda' (the simulator without a GPU): one upload per batch into reused
    page-locked buffers; the rows equal the GPU's pair-by-pair rows and the CPU's to 1e-6."""
    pytest.importorskip("numba.cuda")
    cam, lena = camera(), colour()
    items = [(cam[i:i + 20, 2 * i:2 * i + 24], DISTORTIONS["noise"](cam[i:i + 20, 2 * i:2 * i + 24], None))
             for i in range(5)]
    items += [(lena[i:i + 16, i:i + 16], DISTORTIONS["blur"](lena[i:i + 16, i:i + 16], -1)) for i in range(1)]
    items.append((cam[:8, :8], cam[:8, :8] // 2))  # under the window: SSIM fails, MSE does not
    items = [(np.ascontiguousarray(x), np.ascontiguousarray(y)) for x, y in items]
    gpu = Job("", {}, metrics="ssim,psnr,mse,dssim", backend="cuda")
    b = Batcher(gpu, workers=1, max_pairs=4)
    rows = []
    for i, (x, y) in enumerate(items):
        rows += b.add(Pair(None, str(i), str(i)), x, y)
    rows += b.flush()
    assert len(rows) == len(items)
    host, _ = b.staging.buffers[((20, 24), "|u1", "ref")]  # reused: sized for the first full batch
    assert host.shape == (4, 20, 24)
    batched = _frame(rows)
    pd.testing.assert_frame_equal(batched, _frame(_pair_by_pair(gpu, items)), check_exact=True)
    cpu = _frame(_pair_by_pair(Job("", {}, metrics="ssim,psnr,mse,dssim", backend="cpu"), items))
    pd.testing.assert_frame_equal(batched, cpu, check_exact=False, atol=1e-6, rtol=1e-9)
    assert list(batched.status) == ["ok"] * 6 + ["partial"]


def test_backend_is_checked_before_the_run(monkeypatch):
    with pytest.raises(fastssim.ConfigError, match="unknown backend 'gpu'; choose one of auto, cpu, cuda"):
        list(fastssim.score_pairs([], backend="gpu"))
    from fastssim.kernels import engine as _engine

    monkeypatch.setattr(_engine, "_cuda_usable", lambda: False)  # a machine without a GPU
    with pytest.raises(fastssim.ConfigError, match="needs an NVIDIA GPU.*use --backend cpu or auto"):
        list(fastssim.score_pairs([], backend="cuda"))


def test_command_on_the_gpu_writes_the_cpu_rows(tmp_path):
    """`fastssim score --backend cuda` (the simulator without a GPU) against --backend cpu."""
    pytest.importorskip("numba.cuda")
    cam = camera()
    for d in ("ref", "dist"):
        (tmp_path / d).mkdir()
    for i in range(3):
        x = cam[10 * i:10 * i + 24, 5 * i:5 * i + 24]
        iio.imwrite(tmp_path / "ref" / f"{i}.png", x)
        iio.imwrite(tmp_path / "dist" / f"{i}.png", DISTORTIONS["noise"](x, None))
    frames = []
    for backend in ("cuda", "cpu"):
        out = tmp_path / backend
        r = subprocess.run([sys.executable, "-m", "fastssim.cli", "score", tmp_path / "ref", tmp_path / "dist",
                            "-o", out, "--quiet", "--backend", backend, "--workers", "1"],
                           capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        frames.append(pd.read_parquet(out).sort_values("ref").reset_index(drop=True))
    assert (frames[0].status == "ok").all() and len(frames[0]) == 3
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=False, atol=1e-6, rtol=1e-9)
    r = subprocess.run([sys.executable, "-m", "fastssim.cli", "score", tmp_path / "ref", tmp_path / "dist",
                        "-o", tmp_path / "x", "--backend", "gpu"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--backend: invalid choice: 'gpu'" in r.stderr
    assert not (tmp_path / "x").exists()
