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
from fastssim.batch.batched import Batcher, score_group
from fastssim.batch.pairs import Pair
from images import DISTORTIONS, camera, read


def _mixed_items():
    """Real crops of several shapes and kinds, with pairs no batch can take whole."""
    cam, lena = camera(), read("lena", "lena512color.tiff")
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
    t = pa.Table.from_pylist(rows, schema=fastssim.batch.writer.SCHEMA).to_pandas()
    return t.sort_values("ref", key=lambda s: s.astype(int)).reset_index(drop=True)


@pytest.mark.parametrize("metrics", ["ssim,psnr,mse", "ssim,ms_ssim,dssim,psnr"])
def test_batched_rows_equal_pair_by_pair(metrics):
    items = _mixed_items()
    job = Job("", {}, metrics_=metrics)
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
