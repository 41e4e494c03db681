"""Scoring a dataset on a Dask cluster (``fastssim[dask]``).

The pairs are cut into chunks; each chunk is one Dask task that reads, scores and commits its
pairs as one Parquet part on a worker. A part is named after its chunk's identity (a hash of
the chunk's pair keys and the run's parameters), so a task that Dask runs twice (retried after
a worker died, or finished by two workers) leaves one part, never two: the second commit
replaces the first with the same rows. Chunks are cut from the whole (deduplicated) list of
pairs, not from what is left to do, so a resumed run finds the same chunks and skips those
whose part is there; pairs already committed by any earlier run are left out of the others.

Tasks carry paths and options only: the workers read the files, and write the parts, on
storage they share with the client. Nothing decoded reaches the client or the scheduler.
"""

import hashlib
import json
import os
import sys

from .. import config as cfg
from .options import ConfigError
from .rows import _Warnings, stream_rows, warm_up
from .writer import SCHEMA_VERSION, ResultWriter, committed, read_part, write_part

#: The Dask resource a GPU task asks for (dask-cuda workers, or ``dask worker --resources GPU=1``).
GPU_RESOURCE = "GPU"


def require_distributed():
    """``distributed``, or an ImportError naming the extra."""
    try:
        import distributed
    except ImportError:
        raise ImportError("scoring on a Dask cluster needs dask.distributed: pip install 'fastssim[dask]'") from None
    return distributed


def chunk_name(keys, params):
    """The part name of a chunk: a hash of its pairs' keys and the run's parameters."""
    blob = json.dumps([params, [list(k) for k in keys]], sort_keys=True, default=str).encode()
    return f"part-c{hashlib.sha256(blob).hexdigest()[:24]}.parquet"


def plan_chunks(pairs, params, size, done, out):
    """``[(part name, pairs still to score)]`` for the chunks of ``pairs`` not yet committed.

    ``pairs`` are unique and in a stable order; ``done`` holds the keys already committed
    (by any run, chunked or not), which no chunk scores again.
    """
    plan = []
    for i in range(0, len(pairs), size):
        chunk = pairs[i:i + size]
        name = chunk_name([(p.method, p.ref, p.dist) for p in chunk], params)
        if os.path.exists(os.path.join(out, name)):
            continue
        todo = [p for p in chunk if (p.method, p.ref, p.dist) not in done]
        if todo:
            plan.append((name, todo))
    return plan


def _threads():
    try:
        from distributed import get_worker

        return get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        return os.cpu_count() or 1


def score_chunk(job, pairs, out, params, name, timeout):
    """Score ``pairs`` on a worker and commit them as part ``name`` (a Dask task).

    Returns the chunk's summary: rows, errors, partial, the first data warning and how many
    rows it concerns. A part already there is not written again (its summary is re-read).
    """
    path = os.path.join(out, name)
    if os.path.exists(path):
        status = read_part(path, ["status"]).column("status").to_pylist()
        return {"name": name, "rows": len(status), "errors": status.count("error"),
                "partial": status.count("partial"), "warning": None, "low_range": 0, "again": True}
    warnings = _Warnings(quiet=True)
    rows = []
    for row in stream_rows(job, pairs, _threads(), timeout=timeout):
        warnings.see(row)
        rows.append(row)
    write_part(out, rows, params, [warnings.first] if warnings.first else [], name=name)
    status = [r["status"] for r in rows]
    return {"name": name, "rows": len(rows), "errors": status.count("error"), "partial": status.count("partial"),
            "warning": warnings.first, "low_range": warnings.count, "again": False}


def probe_first(job, pairs, timeout):
    """Raise ConfigError (on a worker) when the options cannot work for the first readable pair."""
    warm_up(job, iter(pairs), timeout=timeout, quiet=True)


def _resources(job, client):
    """The task resources: one GPU for ``backend='cuda'``, refused when no worker offers one."""
    if job.scoring["backend"] != "cuda":
        return None
    workers = client.scheduler_info().get("workers", {}).values()
    if not any(w.get("resources", {}).get(GPU_RESOURCE, 0) >= 1 for w in workers):
        raise ConfigError(f"--backend cuda asks each task for the Dask resource {GPU_RESOURCE}=1, and no worker "
                          f"offers it: start GPU workers with 'dask cuda worker ADDRESS' (dask-cuda) or "
                          f"'dask worker ADDRESS --resources {GPU_RESOURCE}=1'")
    return {GPU_RESOURCE: 1}


def score_on_cluster(pairs, out, job, params, client, *, chunk_pairs=cfg.CHUNK_PAIRS, overwrite=False,
                     quiet=False, timeout=600.0, stop=None, repeats=()):
    """Score unique file ``pairs`` into ``out`` with the Dask ``client``'s workers.

    Same output, resume and exactly-once guarantees as the local run; see the module's text.
    Returns the summary of ``run.score_files``.
    """
    distributed = require_distributed()
    from .progress import Progress

    if not isinstance(chunk_pairs, int) or chunk_pairs < 1:
        raise ConfigError(f"the chunk size must be a positive number of pairs, got {chunk_pairs!r}")
    out = os.path.abspath(out)
    stored = dict(params, schema=SCHEMA_VERSION)
    summary = {"scored": 0, "interrupted": False, "warnings": [], "low_range": 0, "failed": []}
    with ResultWriter(out, params, overwrite=overwrite):  # the checks, the lock, a clean directory
        t = committed(out)
        done = set(zip(t.column("method").to_pylist(), t.column("ref").to_pylist(), t.column("dist").to_pylist()))
        plan = plan_chunks(pairs, stored, chunk_pairs, done, out)
        total = sum(len(todo) for _, todo in plan)
        if plan:
            resources = _resources(job, client)
            firsts = [p for _, todo in plan[:3] for p in todo][:3]
            client.submit(probe_first, job, firsts, timeout, resources=resources, pure=False).result()
            if not quiet and getattr(client, "dashboard_link", None):
                print(f"Dask dashboard: {client.dashboard_link}", file=sys.stderr)
            futures = [client.submit(score_chunk, job, todo, out, stored, name, timeout, key=f"fastssim-{name}",
                                     resources=resources, retries=1) for name, todo in plan]
            _collect(distributed, futures, Progress(total, quiet=quiet), summary, stop, quiet)
    t = committed(out)
    status = t.column("status").to_pylist()
    summary.update(skipped=len(pairs) - total, duplicates=len(repeats),
                   duplicate_examples=[(p.method, p.ref, p.dist) for p in repeats[:3]],
                   errors=status.count("error"), partial=status.count("partial"), rows=len(status))
    return summary


def _collect(distributed, futures, progress, summary, stop, quiet):
    """Wait for the chunk tasks, telling progress; a failed chunk is recorded, the others go on."""
    pending = distributed.as_completed(futures, with_results=False)
    for fut in pending:
        if stop is not None and stop.is_set():
            for f in futures:
                f.cancel()
            summary["interrupted"] = True
            break
        try:
            got = fut.result()
        except Exception as e:  # noqa: BLE001 - a chunk that failed (a bug, a full disk): re-run resumes it
            summary["failed"].append(f"{type(e).__name__}: {e}")
            continue
        if got["again"]:
            continue
        summary["scored"] += got["rows"]
        summary["low_range"] += got["low_range"]
        if got["warning"] and not summary["warnings"]:
            summary["warnings"].append(got["warning"])
            if not quiet:
                print(f"warning: {got['warning']}", file=sys.stderr)
        progress.advance(got["rows"], got["errors"], got["partial"])
    progress.close()


def connect(scheduler, backend="auto"):
    """A Dask client for ``--scheduler``: 'local:N' starts a LocalCluster of N worker processes
    (closed with the client); anything else is a running scheduler's address."""
    distributed = require_distributed()
    if scheduler.startswith("local:"):
        try:
            n = int(scheduler[len("local:"):])
        except ValueError:
            n = 0
        if n < 1:
            raise ConfigError(f"--scheduler {scheduler}: give the number of worker processes, e.g. local:4")
        resources = {GPU_RESOURCE: 1} if backend == "cuda" else None
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", resources=resources, silence_logs=50)
        client = distributed.Client(cluster)
        client.fastssim_cluster = cluster
        return client
    try:
        return distributed.Client(scheduler, timeout=cfg.SCHEDULER_CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as e:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {e}; start one with 'dask scheduler' "
                          "(and workers with 'dask worker ADDRESS'), or use --scheduler local:N") from None


def disconnect(client):
    cluster = getattr(client, "fastssim_cluster", None)
    client.close()
    if cluster is not None:
        cluster.close()
