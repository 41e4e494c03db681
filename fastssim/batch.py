"""The streaming batch scorer: pairs in, one result row per pair out.

Readers in a bounded pool decode and score pairs (each worker runs the
engine single-threaded, so the pool keeps every core busy without
oversubscription); the caller's thread collects rows in completion order and
hands them to the Parquet writer (``writer``) or yields them as Arrow record
batches. At most ``2 * workers`` pairs are in flight, so memory does not grow
with the dataset. Any problem with a pair becomes an error row; the run goes on.
"""

import concurrent.futures as cf
import os
import sys
import time

import numba
import numpy as np
import pyarrow as pa

from . import metrics, presets
from ._math import psnr_from_mse
from ._validate import resolve_data_range
from .io import ALPHA_POLICIES, MAX_PIXELS, ReadError, fast_png_for, read_image
from .pairs import Pair
from .writer import SCHEMA, ResultWriter, committed


def _layout(arr, path):
    """('image' | 'colour' | 'volume' | 'colour volume') for an array read from ``path``."""
    if arr.ndim == 2:
        return "image"
    if arr.ndim == 3:
        return "colour" if arr.shape[-1] in (3, 4) else "volume"
    if arr.ndim == 4 and arr.shape[-1] in (3, 4):
        return "colour volume"
    raise ValueError(f"cannot score an array of shape {arr.shape} from {os.path.basename(path)}: "
                     "expected (H, W), (H, W, C), (D, H, W) or (D, H, W, C)")


METRICS = ("ssim", "ms_ssim", "psnr", "mse", "dssim")
DEFAULT_METRICS = ("ssim", "psnr", "mse")


def check_metrics(names):
    """The requested metric names, checked, in a canonical order."""
    names = [n.strip() for n in names if n.strip()]
    bad = [n for n in names if n not in METRICS]
    if bad or not names:
        raise ValueError(f"unknown metric(s) {bad}; choose from {', '.join(METRICS)}")
    return tuple(n for n in METRICS if n in names)


def score_arrays(ref, dist, *, data_range=None, slices=None, metrics_=DEFAULT_METRICS, preset=None,
                 y_channel=False, crop_border=0, where="dist"):
    """The requested metrics of one pair of arrays, as a row (without paths or status).

    Parameters
    ----------
    ref, dist : ndarray
    data_range : float, optional
        Defaults to the range of the integer dtype (or the preset's rule).
    slices : int, optional
        Score 2-D SSIM per slice along this axis of a volume (``ssim_slices``);
        ``ssim`` is then their mean.
    metrics_ : tuple of str
        From ``METRICS``.
    preset, y_channel, crop_border
        As for `fastssim.ssim`; PSNR and MSE are computed on the same converted
        (grey or luma, cropped) images.
    """
    if ref.shape != dist.shape:
        raise ValueError(f"shape mismatch: ref {ref.shape}, dist {dist.shape}")
    kind = _layout(ref, where)
    ca = -1 if kind.startswith("colour") else None
    conv = dict(preset=preset, y_channel=y_channel, crop_border=crop_border)
    row = {"shape": "x".join(map(str, ref.shape)), "ssim_slices": None}
    row.update({m: None for m in METRICS})
    if slices is not None and not kind.endswith("volume"):
        raise ValueError(f"--slices needs volumes, got a 2-D {kind} of shape {ref.shape}")
    if "ssim" in metrics_ or "dssim" in metrics_:
        if slices is not None:
            per = metrics.ssim_slices(ref, dist, axis=slices, data_range=data_range, channel_axis=ca, **conv)
            row["ssim_slices"] = per.tolist()
            value = float(per.mean())
        else:
            value = metrics.ssim(ref, dist, data_range=data_range, channel_axis=ca, **conv)
        if "ssim" in metrics_:
            row["ssim"] = value
        if "dssim" in metrics_:
            row["dssim"] = (1.0 - value) / 2.0
    if "ms_ssim" in metrics_:
        if slices is not None:
            row["ms_ssim"] = float(metrics.ms_ssim_slices(ref, dist, axis=slices, data_range=data_range,
                                                          channel_axis=ca, **conv).mean())
        else:
            row["ms_ssim"] = metrics.ms_ssim(ref, dist, data_range=data_range, channel_axis=ca, **conv)
    if "psnr" in metrics_ or "mse" in metrics_:
        x, y, L = ref, dist, data_range
        if preset is not None or y_channel or crop_border:
            x, y, _, L, _, _ = presets.apply(ref, dist, channel_axis=ca, data_range=data_range, batch=False,
                                             window=dict(presets.WINDOW_DEFAULTS), **conv)
        mse = metrics.mse(x, y)
        if "mse" in metrics_:
            row["mse"] = mse
        if "psnr" in metrics_:
            row["psnr"] = psnr_from_mse(mse, resolve_data_range(x, y, L))
    return row


def _error_row(pair, message):
    row = {m: None for m in METRICS}
    row.update(method=pair.method, ref=pair.ref, dist=pair.dist, ssim_slices=None, shape=None,
               status="error", error=message)
    return row


class Job:
    """Everything a worker needs to score one pair from files."""

    def __init__(self, ref_root, dist_roots, data_range=None, slices=None, alpha="drop",
                 max_pixels=MAX_PIXELS, metrics_=DEFAULT_METRICS, preset=None, y_channel=False,
                 crop_border=0):
        if alpha not in ALPHA_POLICIES:
            raise ValueError(f"alpha must be one of {ALPHA_POLICIES}, got {alpha!r}")
        self.scoring = dict(data_range=data_range, slices=slices, metrics_=check_metrics(metrics_),
                            preset=preset, y_channel=y_channel, crop_border=crop_border)
        self.ref_root = ref_root
        self.dist_roots = dist_roots  # {method: root}
        self.alpha = alpha
        self.max_pixels = max_pixels
        self.fast_png = False  # set for the pool that runs the job (see io.fast_png_for)

    def __call__(self, pair):
        if pair.problem:
            return _error_row(pair, pair.problem)
        try:
            read = dict(max_pixels=self.max_pixels, alpha=self.alpha, fast_png=self.fast_png)
            ref = read_image(os.path.join(self.ref_root, pair.ref), **read)
            dist = read_image(os.path.join(self.dist_roots[pair.method], pair.dist), **read)
            row = score_arrays(ref, dist, where=pair.ref, **self.scoring)
        except (ReadError, ValueError, TypeError) as e:
            return _error_row(pair, str(e))
        except Exception as e:  # a bug or an exotic decoder failure: still a row, never a lost pair
            return _error_row(pair, f"{type(e).__name__}: {e}")
        row.update(method=pair.method, ref=pair.ref, dist=pair.dist, status="ok", error=None)
        return row


def _single_threaded():
    numba.set_num_threads(1)


def run_rows(func, items, workers=None):
    """Apply ``func`` to ``items`` in a bounded pool; yield results as they complete."""
    workers = workers or os.cpu_count() or 1
    items = iter(items)
    with cf.ThreadPoolExecutor(workers, initializer=_single_threaded) as pool:
        pending = set()
        for item in items:
            pending.add(pool.submit(func, item))
            if len(pending) >= 2 * workers:
                done, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for f in done:
                    yield f.result()
        for f in cf.as_completed(pending):
            yield f.result()


class Progress:
    """Pairs/s and ETA: a redrawn line on a terminal, plain lines every few seconds otherwise."""

    def __init__(self, total, quiet=False, stream=None, every=5.0):
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


def score_files(pairs, out, job, params, *, workers=None, overwrite=False, quiet=False,
                rows_per_part=2000, png_decoder="auto"):
    """Score file pairs into the Parquet dataset ``out``, resuming what is there.

    Returns
    -------
    dict
        ``scored`` (this run), ``skipped`` (already committed), ``errors``
        (error rows in the whole output), ``rows`` (rows in the whole output).
    """
    workers = workers or os.cpu_count() or 1
    job.fast_png = fast_png_for(workers, png_decoder)
    with ResultWriter(out, params, overwrite=overwrite, rows_per_part=rows_per_part) as writer:
        done = set()
        if not overwrite:
            t = committed(out)
            done = set(zip(t.column("method").to_pylist(), t.column("ref").to_pylist(),
                           t.column("dist").to_pylist()))
        todo = [p for p in pairs if (p.method, p.ref, p.dist) not in done]
        progress = Progress(len(todo), quiet=quiet)
        for row in run_rows(job, todo, workers):
            writer.add(row)
            progress.update(row)
        progress.close()
    t = committed(out)
    status = t.column("status").to_pylist()
    return {"scored": len(todo), "skipped": len(pairs) - len(todo),
            "errors": sum(s != "ok" for s in status), "rows": len(status)}


def score_pairs(pairs, *, data_range=None, slices=None, alpha="drop", max_pixels=MAX_PIXELS,
                metrics=DEFAULT_METRICS, preset=None, y_channel=False, crop_border=0,
                workers=None, batch_size=256, out=None, overwrite=False):
    """Score pairs of arrays or of file paths, for pipelines.

    Parameters
    ----------
    pairs : iterable
        ``(ref, dist)`` tuples of ndarrays, or of paths (str or os.PathLike),
        or ``(method, ref, dist)`` triples of either.
    data_range, slices, alpha, max_pixels, metrics, preset, y_channel, crop_border
        As for the ``fastssim score`` command (``metrics`` from ``ssim``, ``ms_ssim``,
        ``psnr``, ``mse``, ``dssim``).
    workers : int, optional
        Threads; default the number of cores.
    batch_size : int
        Rows per yielded record batch.
    out : str, optional
        If given, write a Parquet dataset there (resumable, as the CLI) and
        return its summary dict instead of yielding batches.

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
    job = Job("", {}, data_range=data_range, slices=slices, alpha=alpha, max_pixels=max_pixels,
              metrics_=metrics, preset=preset, y_channel=y_channel, crop_border=crop_border)

    def normalise():
        for i, item in enumerate(pairs):
            method, ref, dist = item if len(item) == 3 else (None, *item)
            if isinstance(ref, (str, os.PathLike)):
                yield Pair(method, os.fspath(ref), os.fspath(dist)), None
            else:
                yield Pair(method, str(i), str(i)), (ref, dist)

    job.fast_png = fast_png_for(workers or os.cpu_count() or 1)

    def score(item):
        pair, arrays = item
        if arrays is None:
            job.dist_roots.setdefault(pair.method, "")
            return job(pair)
        try:
            row = score_arrays(np.asarray(arrays[0]), np.asarray(arrays[1]), where=f"pair {pair.ref}",
                               **job.scoring)
        except (ValueError, TypeError) as e:
            return _error_row(pair, str(e))
        row.update(method=pair.method, ref=pair.ref, dist=pair.dist, status="ok", error=None)
        return row

    if out is not None:
        items = list(normalise())
        if any(a is not None for _, a in items):
            raise ValueError("out= needs pairs of file paths; for arrays, collect the yielded batches")
        params = {"data_range": data_range, "slices": slices, "alpha": alpha, "max_pixels": max_pixels,
                  "metrics": list(job.scoring["metrics_"]), "preset": preset, "y_channel": y_channel,
                  "crop_border": crop_border}
        for p, _ in items:
            job.dist_roots.setdefault(p.method, "")
        return score_files([p for p, _ in items], out, job, params, workers=workers, overwrite=overwrite,
                           quiet=True)
    return _batches(score, normalise(), workers, batch_size)


def _batches(score, items, workers, batch_size):
    rows = []
    for row in run_rows(score, items, workers):
        rows.append(row)
        if len(rows) >= batch_size:
            yield pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
            rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
