"""Scoring a dataset on a real Dask LocalCluster: the same rows as the local run, each pair
exactly once whatever workers (or the client) die, chunks committed idempotently."""

import os
import signal
import subprocess
import sys
import threading
import time

import imageio.v3 as iio
import numpy as np
import pandas as pd
import pytest

import fastssim
from fastssim.batch.cluster import chunk_name, score_chunk
from fastssim.batch.pairs import Pair
from fastssim.batch.writer import SCHEMA_VERSION
from images import DISTORTIONS, camera

distributed = pytest.importorskip("distributed", reason="needs the extra fastssim[dask]")
psutil = pytest.importorskip("psutil")

CLI = [sys.executable, "-m", "fastssim.cli"]


def _dataset(root, n, size=40):
    """``n`` real crops of the camera image and their JPEG-distorted copies, as PNG files."""
    cam = camera()
    for d in ("ref", "dist"):
        (root / d).mkdir(exist_ok=True)
    for i in range(n):
        y0, x0 = (7 * i) % (cam.shape[0] - size), (13 * i) % (cam.shape[1] - size)
        x = cam[y0:y0 + size, x0:x0 + size]
        iio.imwrite(root / "ref" / f"{i:04d}.png", x)
        iio.imwrite(root / "dist" / f"{i:04d}.png", DISTORTIONS["jpeg"](x) if i % 3 else DISTORTIONS["noise"](x, None))
    (root / "ref" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")
    (root / "dist" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not a png")


def _pairs(root):
    names = sorted(os.listdir(root / "ref"))
    return [(str(root / "ref" / n), str(root / "dist" / n)) for n in names]


def _frame(out):
    return pd.read_parquet(out).sort_values("ref").reset_index(drop=True)


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=40) as cluster, distributed.Client(cluster) as c:
        yield c


def test_cluster_rows_equal_the_local_run(client, tmp_path):
    _dataset(tmp_path, 45)
    pairs = _pairs(tmp_path)
    local = fastssim.score_dataset(pairs, out=str(tmp_path / "local"))
    summary = fastssim.score_dataset(pairs, out=str(tmp_path / "dask"), client=client, chunk_pairs=7)
    assert summary["scored"] == 46 and summary["errors"] == 1 and summary["failed"] == []
    assert local["rows"] == summary["rows"] == 46
    pd.testing.assert_frame_equal(_frame(tmp_path / "dask"), _frame(tmp_path / "local"), check_exact=True)
    parts = sorted(p for p in os.listdir(tmp_path / "dask") if p.endswith(".parquet"))
    assert len(parts) == 7 and all(p.startswith("part-c") for p in parts)  # ceil(46 / 7) chunks, one part each
    again = fastssim.score_dataset(pairs, out=str(tmp_path / "dask"), client=client, chunk_pairs=7)
    assert again["scored"] == 0 and again["skipped"] == 46 and again["rows"] == 46
    # a resume with more pairs scores only the new ones, whatever chunks they fall in
    _dataset(tmp_path, 52)
    more = fastssim.score_dataset(_pairs(tmp_path), out=str(tmp_path / "dask"), client=client, chunk_pairs=7)
    assert more["scored"] == 7 and more["rows"] == 53
    df = _frame(tmp_path / "dask")
    assert not df.duplicated(["ref", "dist"]).any()


def test_a_chunk_committed_twice_leaves_one_part(client, tmp_path):
    _dataset(tmp_path, 9)
    job = fastssim.batch.Job(str(tmp_path / "ref"), {None: str(tmp_path / "dist")}).shipped()
    pairs = [Pair(None, f"{i:04d}.png", f"{i:04d}.png") for i in range(9)]
    params = {"run": "x", "schema": SCHEMA_VERSION}
    name = chunk_name([(p.method, p.ref, p.dist) for p in pairs], params)
    out = tmp_path / "out"
    out.mkdir()
    workers = list(client.scheduler_info()["workers"])
    # the same chunk on both workers at once (as when a slow task is re-run elsewhere)
    futs = [client.submit(score_chunk, job, pairs, str(out), params, name, 60.0, workers=[w], pure=False)
            for w in workers]
    got = client.gather(futs)
    assert sorted(os.listdir(out)) == [name]
    assert sum(not g["again"] for g in got) >= 1 and all(g["rows"] == 9 for g in got)
    assert len(pd.read_parquet(out)) == 9


def test_problems_are_refused_before_the_run(client, tmp_path):
    (tmp_path / "ref").mkdir()
    (tmp_path / "dist").mkdir()
    for i in range(3):
        np.save(tmp_path / "ref" / f"{i}.npy", np.random.default_rng(i).random((32, 32)))
        np.save(tmp_path / "dist" / f"{i}.npy", np.random.default_rng(9 + i).random((32, 32)))
    pairs = _pairs(tmp_path)
    # the options checked against the first pair on a worker: the ConfigError comes back
    with pytest.raises(fastssim.ConfigError, match="no natural range: pass --data-range"):
        fastssim.score_dataset(pairs, out=str(tmp_path / "o"), client=client)
    assert not [p for p in os.listdir(tmp_path / "o") if p.endswith(".parquet")]
    with pytest.raises(fastssim.ConfigError, match="no worker offers it.*dask cuda worker"):
        fastssim.score_dataset(pairs, out=str(tmp_path / "o2"), client=client, data_range=1.0, backend="cuda")
    with pytest.raises(fastssim.ConfigError, match=r"call score_dataset\(pairs, out, client=client\)"):
        list(fastssim.score_pairs(pairs, client=client))
    with pytest.raises(fastssim.ConfigError, match="chunk_pairs must be a positive integer"):
        fastssim.score_dataset(pairs, out=str(tmp_path / "o3"), client=client, chunk_pairs=0)


def test_killed_worker_every_pair_exactly_once(tmp_path):
    _dataset(tmp_path, 160, size=64)
    pairs = _pairs(tmp_path)
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as cluster, distributed.Client(cluster) as c:
        pids = c.run(os.getpid)
        result = {}
        run = threading.Thread(target=lambda: result.update(
            fastssim.score_dataset(pairs, out=str(out), client=c, chunk_pairs=8)))
        run.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out.exists() and any(p.startswith("part-") for p in os.listdir(out))):
            time.sleep(0.02)
        assert run.is_alive()
        os.kill(list(pids.values())[0], signal.SIGKILL)  # mid-run: its chunk is retried on a restarted worker
        parts_at_kill = len([p for p in os.listdir(out) if p.startswith("part-")])
        assert parts_at_kill < 21  # 161 pairs in chunks of 8
        run.join(240)
        assert not run.is_alive()
    assert result["failed"] == [] and result["rows"] == 161
    df = _frame(out)
    assert len(df) == 161 and not df.duplicated(["ref", "dist"]).any()
    local = fastssim.score_dataset(pairs, out=str(tmp_path / "local"))
    assert local["rows"] == 161
    pd.testing.assert_frame_equal(df, _frame(tmp_path / "local"), check_exact=True)


def test_killed_client_resumes_exactly_once(tmp_path):
    _dataset(tmp_path, 200, size=64)
    out = tmp_path / "out"
    cmd = CLI + ["score", str(tmp_path / "ref"), str(tmp_path / "dist"), "-o", str(out), "--quiet",
                 "--scheduler", "local:2", "--chunk-pairs", "8"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and len([p for p in os.listdir(out) if p.startswith("part-")]) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()[1].decode()
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)  # the client (and its scheduler) die mid-run
    proc.wait()
    for ch in children:  # its orphaned worker processes, as a batch system would reap them
        try:
            ch.kill()
        except psutil.NoSuchProcess:
            pass
    partway = len(pd.read_parquet(out))
    assert 0 < partway < 201
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr  # 1: the broken pair is an error row
    df = _frame(out)
    assert len(df) == 201 and not df.duplicated(["ref", "dist"]).any()
    r = subprocess.run(CLI + ["score", str(tmp_path / "ref"), str(tmp_path / "dist"), "-o", str(tmp_path / "local"),
                              "--quiet"], capture_output=True, text=True, timeout=300)
    pd.testing.assert_frame_equal(df, _frame(tmp_path / "local"), check_exact=True)


def test_command_line_mistakes(tmp_path):
    _dataset(tmp_path, 2)
    base = CLI + ["score", str(tmp_path / "ref"), str(tmp_path / "dist"), "-o", str(tmp_path / "o")]
    r = subprocess.run(base + ["--chunk-pairs", "5"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--chunk-pairs sets the pairs per Dask task: it needs --scheduler" in r.stderr
    r = subprocess.run(base + ["--scheduler", "local:0"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "give the number of worker processes, e.g. local:4" in r.stderr
    env = dict(os.environ, FASTSSIM_SCHEDULER_TIMEOUT="1")
    r = subprocess.run(base + ["--scheduler", "tcp://127.0.0.1:9"], capture_output=True, text=True, timeout=120,
                       env=env)
    assert r.returncode == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "o").exists() or not os.listdir(tmp_path / "o")


def test_file_urls_are_written_and_reported_and_object_stores_refused(client, tmp_path):
    _dataset(tmp_path, 5)
    url = (tmp_path / "out with space").as_uri()  # file:///...out%20with%20space
    r = subprocess.run(CLI + ["score", str(tmp_path / "ref"), str(tmp_path / "dist"), "-o", url, "--quiet",
                              "--scheduler", "local:1"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr  # the broken pair
    assert len(pd.read_parquet(tmp_path / "out with space")) == 6
    r = subprocess.run(CLI + ["report", url, "--format", "csv"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stdout.count("\n") >= 2, r.stderr
    summary = fastssim.score_dataset(_pairs(tmp_path), out=(tmp_path / "api").as_uri(), client=client)
    assert summary["scored"] == 6 and len(pd.read_parquet(tmp_path / "api")) == 6
    r = subprocess.run(CLI + ["score", str(tmp_path / "ref"), str(tmp_path / "dist"), "-o", "s3://bucket/scores"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "s3:// stores do not offer" in r.stderr and "Traceback" not in r.stderr
