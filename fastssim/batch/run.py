"""Running a dataset: pairs through the pool into the Parquet writer (``score_files``), or into
Arrow record batches for pipelines (``score_pairs``), with progress on stderr.

Every problem with a pair becomes an error row and the run goes on; a stop signal (the CLI
sets it on SIGINT and SIGTERM) ends the run after the finished rows are committed.
"""

import os
import sys
import time

import numpy as np
import pyarrow as pa

from .. import _config as cfg
from ..io import MAX_PIXELS, fast_png_for
from .pairs import Pair
from .pool import run_rows
from .score import (DEFAULT_METRICS, PAIR_TIMEOUT, Job, check_options, error_row, ok_row, score_arrays,
                    timeout_row)
from .writer import SCHEMA, ResultWriter, committed


class Progress:
    """Pairs/s and ETA: a redrawn line on a terminal, plain lines every few seconds otherwise."""

    def __init__(self, total, quiet=False, stream=None, every=cfg.PROGRESS_EVERY):
        self.total = total
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every = 0.2 if self.tty else every
        self.n = self.errors = self._drawn = 0
        self.t0 = self._last = time.monotonic()

    def update(self, row):
        self.n += 1
        self.errors += row["status"] != "ok"
        now = time.monotonic()
        if not self.quiet and (now - self._last >= self.every or self.n == self.total):
            self._last = now
            self._draw(now)

    def _draw(self, now, end=False):
        self._drawn = self.n
        rate = self.n / max(now - self.t0, 1e-9)
        eta = (self.total - self.n) / rate if rate > 0 else float("inf")
        if self.tty:
            frac = self.n / self.total if self.total else 1.0
            bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
            self.stream.write(f"\r[{bar}] {self.n}/{self.total} pairs  {rate:.1f} pairs/s  "
                              f"ETA {eta:.0f}s  errors {self.errors}" + ("\n" if end else ""))
        else:
            self.stream.write(f"scored {self.n}/{self.total} pairs, {rate:.1f} pairs/s, "
                              f"ETA {eta:.0f}s, errors {self.errors}\n")
        self.stream.flush()

    def close(self):
        if not self.quiet and self.n and (self.tty or self._drawn != self.n):
            self._draw(time.monotonic(), end=True)


def unique_pairs(pairs):
    """``pairs`` with each (method, ref, dist) once, in order, and the repeats."""
    seen, out, repeats = set(), [], []
    for p in pairs:
        key = (p.method, p.ref, p.dist)
        if key in seen:
            repeats.append(p)
        else:
            seen.add(key)
            out.append(p)
    return out, repeats


def score_files(pairs, out, job, params, *, workers=None, overwrite=False, quiet=False,
                rows_per_part=2000, png_decoder="auto", timeout=PAIR_TIMEOUT, stop=None):
    """Score file pairs into the Parquet dataset ``out``, resuming what is there.

    Each (method, ref, dist) is scored once, however often it is listed.

    Returns
    -------
    dict
        ``scored`` (this run), ``skipped`` (already committed), ``duplicates`` (repeated
        pairs, scored once), ``errors`` (error rows in the whole output), ``rows`` (rows in
        the whole output), ``interrupted`` (``stop`` was set before the end).

    Raises
    ------
    OutputError
        The output cannot be written or its parts read (the message says which, and that
        re-running resumes).
    """
    workers = workers or os.cpu_count() or 1
    check_options(workers=workers, timeout=timeout)
    job.fast_png = fast_png_for(workers, png_decoder)
    pairs, repeats = unique_pairs(pairs)
    with ResultWriter(out, params, overwrite=overwrite, rows_per_part=rows_per_part) as writer:
        done = set()
        if not overwrite:
            t = committed(out)
            done = set(zip(t.column("method").to_pylist(), t.column("ref").to_pylist(),
                           t.column("dist").to_pylist()))
        todo = [p for p in pairs if (p.method, p.ref, p.dist) not in done]
        progress = Progress(len(todo), quiet=quiet)
        n = 0
        for row in run_rows(job, todo, workers, timeout=timeout, on_timeout=timeout_row, stop=stop):
            writer.add(row)
            progress.update(row)
            n += 1
        progress.close()
    t = committed(out)
    status = t.column("status").to_pylist()
    return {"scored": n, "skipped": len(pairs) - len(todo), "duplicates": len(repeats),
            "duplicate_examples": [(p.method, p.ref, p.dist) for p in repeats[:3]],
            "errors": sum(s != "ok" for s in status), "rows": len(status),
            "interrupted": n < len(todo)}


def _normalise(pairs):
    """``(Pair, arrays or None)`` for each item; a malformed item becomes a Pair with a problem."""
    for i, item in enumerate(pairs):
        try:
            method, ref, dist = item if len(item) == 3 else (None, *item)
        except (TypeError, ValueError):
            yield Pair(None, str(i), str(i), f"item {i} is not a (ref, dist) or (method, ref, dist) tuple"), None
            continue
        paths = [isinstance(a, (str, os.PathLike)) for a in (ref, dist)]
        if all(paths):
            yield Pair(method, os.fspath(ref), os.fspath(dist)), None
        elif any(paths):
            yield Pair(method, str(i), str(i), f"item {i} mixes a path and an array; give two paths or two "
                                               "arrays"), None
        else:
            yield Pair(method, str(i), str(i)), (ref, dist)


def score_pairs(pairs, *, data_range=None, slices=None, alpha="drop", max_pixels=MAX_PIXELS,
                metrics=DEFAULT_METRICS, preset=None, y_channel=False, crop_border=0, channel_axis="auto",
                workers=None, batch_size=256, out=None, overwrite=False, timeout=PAIR_TIMEOUT):
    """Score pairs of arrays or of file paths, for pipelines.

    Options are checked when it is called; after that, every problem with a pair (a
    malformed item, an unreadable file, a failing metric) is an error row and the others
    are scored.

    Parameters
    ----------
    pairs : iterable
        ``(ref, dist)`` tuples of ndarrays, or of paths (str or os.PathLike),
        or ``(method, ref, dist)`` triples of either.
    data_range, slices, alpha, max_pixels, metrics, preset, y_channel, crop_border
        As for the ``fastssim score`` command (``metrics`` from ``ssim``, ``ms_ssim``,
        ``psnr``, ``mse``, ``dssim``, as a sequence or a comma-separated string).
    channel_axis : int, None or 'auto'
        Axis of each array that holds channels; 'auto' (default): the last axis when it
        has 3 or 4 entries, as files are read. Pass 0 for CHW arrays, None for volumes
        whose last axis is short.
    workers : int, optional
        Threads; default the number of cores.
    batch_size : int
        Rows per yielded record batch.
    out : str, optional
        If given, write a Parquet dataset there (resumable, as the CLI) and
        return its summary dict instead of yielding batches.
    timeout : float
        Seconds after which a pair that is still being read or scored becomes an error row.

    Yields
    ------
    pyarrow.RecordBatch
        With the columns of the output schema; ``ref`` and ``dist`` are the
        paths, or the pair's index for arrays. Rows come in completion order.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> a = np.zeros((32, 32), np.uint8); b = a + 8
    >>> batches = list(fastssim.score_pairs([(a, a), (a, b)]))
    >>> batches[0].num_rows, batches[0].column("status").to_pylist()
    (2, ['ok', 'ok'])
    """
    check_options(workers=workers, timeout=timeout)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if channel_axis != "auto" and channel_axis is not None and not isinstance(channel_axis, int):
        raise ValueError(f"channel_axis must be an axis number, None or 'auto', got {channel_axis!r}")
    job = Job("", {}, data_range=data_range, slices=slices, alpha=alpha, max_pixels=max_pixels,
              metrics_=metrics, preset=preset, y_channel=y_channel, crop_border=crop_border)
    job.fast_png = fast_png_for(workers or os.cpu_count() or 1)

    def score(item):
        pair, arrays = item
        if arrays is None:
            job.dist_roots.setdefault(pair.method, "")
            return job(pair)
        try:
            row = score_arrays(np.asarray(arrays[0]), np.asarray(arrays[1]), where=f"pair {pair.ref}",
                               channel_axis=channel_axis, **job.scoring)
        except (ValueError, TypeError) as e:
            return error_row(pair, str(e))
        except Exception as e:  # never lose the other pairs' rows
            return error_row(pair, f"{type(e).__name__}: {e}")
        return ok_row(pair, row)

    if out is not None:
        items = list(_normalise(pairs))
        if any(a is not None for _, a in items):
            raise ValueError("out= needs pairs of file paths; for arrays, collect the yielded batches")
        params = {"data_range": data_range, "slices": slices, "alpha": alpha, "max_pixels": max_pixels,
                  "metrics": list(job.scoring["metrics_"]), "preset": preset, "y_channel": y_channel,
                  "crop_border": crop_border}
        for p, _ in items:
            job.dist_roots.setdefault(p.method, "")
        return score_files([p for p, _ in items], out, job, params, workers=workers, overwrite=overwrite,
                           quiet=True, timeout=timeout)
    return _batches(score, _normalise(pairs), workers, batch_size, timeout)


def _batches(score, items, workers, batch_size, timeout):
    rows = []
    on_timeout = lambda item, seconds: timeout_row(item[0], seconds)  # noqa: E731
    for row in run_rows(score, items, workers, timeout=timeout, on_timeout=on_timeout):
        rows.append(row)
        if len(rows) >= batch_size:
            yield pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
            rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
