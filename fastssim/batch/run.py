"""Running a dataset: pairs through the pool into the Parquet writer (``score_files``), or into
Arrow record batches for pipelines (``score_pairs``), with progress on stderr.

Before the run, the first readable pair is scored alone (``warm_up``): it compiles the
kernels (said on stderr when it happens), and it shows options that cannot work for the
data (``ConfigError``, nothing written). After that, every problem with a pair becomes an
error row and the run goes on; a stop signal (the CLI sets it on SIGINT and SIGTERM) ends
the run after the finished rows are committed.
"""

import itertools
import os

import pyarrow as pa

from .. import config as cfg
from ..io import MAX_PIXELS, png_decoder_for
from ..kernels.cpu.threads import available_cpus
from .options import DEFAULT_METRICS, PAIR_TIMEOUT, ConfigError, check_options
from .pairs import Pair
from .progress import CompileNotice, Progress
from .params import input_roots, run_params
from .rows import _Warnings, stream_rows, warm_up
from .score import Job
from .writer import SCHEMA, ResultWriter, check_resume, committed, local_path

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
                rows_per_part=2000, png_decoder="auto", timeout=PAIR_TIMEOUT, stop=None, client=None,
                chunk_pairs=None):
    """Score file pairs into the Parquet dataset ``out``, resuming what is there.

    Each (method, ref, dist) is scored once, however often it is listed.

    Returns
    -------
    dict
        ``scored`` (this run), ``skipped`` (already committed), ``duplicates`` (repeated
        pairs, scored once), ``errors`` and ``partial`` (such rows in the whole output),
        ``rows`` (rows in the whole output), ``interrupted`` (``stop`` was set before the
        end), ``warnings`` (messages about the data, also in the parts' metadata),
        ``low_range`` (pairs the low-range warning concerns); with a ``client``, also
        ``failed`` (the errors of chunks that could not be committed; re-running resumes them).

    Other parameters
    ----------------
    client : distributed.Client, optional
        Score on this Dask cluster's workers instead of local threads (``fastssim[dask]``):
        chunks of ``chunk_pairs`` pairs, each one task and one part (``batch/cluster.py``).
        The workers must see the files and ``out`` at the same paths.

    Raises
    ------
    ConfigError
        The options cannot work for the first readable pair (nothing is written).
    OutputError
        The output cannot be written or its parts read (the message says which, and that
        re-running resumes).
    """
    workers = workers or available_cpus()  # the affinity, at most a container's CPU quota
    check_options(workers=workers, timeout=timeout)
    out = local_path(out)
    png_decoder_for(png_decoder)  # checked (a ValueError names the choices, or the extra)
    job.png_decoder = png_decoder
    pairs, repeats = unique_pairs(pairs)
    # where the files are is part of what a row is: a resume from other directories is refused
    params = dict(params, roots=input_roots(job.ref_root, {**{p.method: job.dist_default for p in pairs},
                                                           **job.dist_roots}, {p.method for p in pairs}))
    if not overwrite:  # before anything is scored (the writer checks again under its lock)
        check_resume(out, params)
    if client is not None:  # chunks as Dask tasks on the client's workers (batch/cluster.py)
        from .cluster import score_on_cluster

        return score_on_cluster(pairs, out, job.shipped(), params, client, overwrite=overwrite, quiet=quiet,
                                timeout=timeout, stop=stop, repeats=repeats,
                                chunk_pairs=chunk_pairs or cfg.CHUNK_PAIRS)
    done = set()
    if not overwrite and os.path.isdir(out):
        t = committed(out, ["method", "ref", "dist"])
        done = set(zip(t.column("method").to_pylist(), t.column("ref").to_pylist(), t.column("dist").to_pylist()))
    todo = [p for p in pairs if (p.method, p.ref, p.dist) not in done]
    with CompileNotice(quiet=quiet):  # the compile clock keeps compiling out of the rate
        first, rest = warm_up(job, todo, timeout=timeout, quiet=quiet, stop=stop)
        summary = _write(first, rest, out, job, params, overwrite, quiet, rows_per_part, workers, timeout, stop,
                         len(todo))
    t = committed(out)
    status = t.column("status").to_pylist()
    summary.update(skipped=len(pairs) - len(todo), duplicates=len(repeats),
                   duplicate_examples=[(p.method, p.ref, p.dist) for p in repeats[:3]],
                   errors=status.count("error"), partial=status.count("partial"), rows=len(status))
    return summary


def _write(first, rest, out, job, params, overwrite, quiet, rows_per_part, workers, timeout, stop, total):
    warnings = _Warnings(quiet)
    with ResultWriter(out, params, overwrite=overwrite, rows_per_part=rows_per_part) as writer:
        progress = Progress(total, quiet=quiet, warm=first)
        n = 0
        for row in itertools.chain(first, stream_rows(job, rest, workers, timeout=timeout, stop=stop)):
            if warnings.see(row):
                writer.warnings.append(warnings.first)
            writer.add(row)
            if n >= len(first):
                progress.update(row)
            n += 1
        progress.close()
    # a signal is said even when every row was already scored (a batch) and so committed
    interrupted = n < total or (stop is not None and stop.is_set())
    return {"scored": n, "interrupted": interrupted, "warnings": list(writer.warnings), "low_range": warnings.count}


def _normalise(pairs):
    """Items for the job: a Pair of paths, or ``(Pair, (ref, dist))``; a malformed item becomes
    a Pair with its problem."""
    for i, item in enumerate(pairs):
        try:
            method, ref, dist = item if len(item) == 3 else (None, *item)
        except (TypeError, ValueError):
            yield Pair(None, str(i), str(i), f"item {i} is not a (ref, dist) or (method, ref, dist) tuple")
            continue
        paths = [isinstance(a, (str, os.PathLike)) for a in (ref, dist)]
        if all(paths):
            yield Pair(method, os.fspath(ref), os.fspath(dist))
        elif any(paths):
            yield Pair(method, str(i), str(i), f"item {i} mixes a path and an array; give two paths or two arrays")
        else:
            yield Pair(method, str(i), str(i)), (ref, dist)


def score_pairs(pairs, *, data_range=None, slices=None, alpha="drop", max_pixels=MAX_PIXELS,
                metrics=DEFAULT_METRICS, preset=None, y_channel=False, crop_border=0, channel_axis="auto",
                workers=None, batch_size=256, out=None, overwrite=False, timeout=PAIR_TIMEOUT, backend="auto",
                client=None, chunk_pairs=None, video=None, missing_chunks="error", ms_scales="standard"):
    """Score pairs of arrays or of file paths, for pipelines.

    Options are checked when it is called, and against the first readable pair before any
    row is produced (``ConfigError``). After that, every problem with a pair (a malformed
    item, an unreadable file) is an error row, a metric that fails for a pair leaves the
    others ('partial'), and the other pairs are scored.

    Parameters
    ----------
    pairs : iterable
        ``(ref, dist)`` tuples of ndarrays, or of paths (str or os.PathLike),
        or ``(method, ref, dist)`` triples of either.
    data_range : float, 'dtype', 'ref', 'pair' or None
        A number, or a per-pair rule ('ref': the reference's max - min; 'pair': the larger
        span of the two, as torchmetrics); None or 'dtype': the preset's rule, else the integer
        dtype's range (`fastssim.conventions.data_range`, the same words as everywhere). The
        value used is the row's ``data_range``, for its SSIM and PSNR alike.
    slices, alpha, max_pixels, metrics, preset, y_channel, crop_border
        As for the ``fastssim score`` command (``metrics`` from ``ssim``, ``ms_ssim``,
        ``psnr``, ``mse``, ``dssim``, as a sequence or a comma-separated string, any case).
    channel_axis : int, None or 'auto'
        Axis of each array that holds channels; 'auto' (default): the last axis when it
        has 3 or 4 entries, as files are read. Pass 0 for CHW arrays, None for volumes
        whose last axis is short.
    workers : int, optional
        Threads; default the number of cores.
    batch_size : int
        Rows per yielded record batch.
    out : str, optional
        Deprecated (it changed the return type): `score_dataset` writes a results directory.
    timeout : float
        Seconds after which a pair that is still being read or scored becomes an error row.
    backend : {'auto', 'cpu', 'cuda'}
        Where the kernels run; 'cuda' (refused without a GPU) scores each batch of
        equal-shaped pairs from one copy on the GPU.
    client, chunk_pairs, overwrite
        Deprecated here, with ``out``: see `score_dataset`.
    video : dict, optional
        How pairs of video files are scored (``fastssim[video]``): ``planes`` ('y', 'yuv',
        'rgb'), ``start`` and ``end`` (reference frames start to end-1), ``offset``
        (reference frame i against distorted frame i + offset), as the command's
        ``--video-planes``, ``--frames`` and ``--frame-offset``.
    ms_scales : {'standard', 'auto'}
        MS-SSIM's scales: Wang's five, null (with its reason) for images too small for them; or
        'auto': as many as each image allows (the first S weights renormalised to sum to 1),
        the number used in the row's ``ms_ssim_scales``, as ``--ms-scales``.
    missing_chunks : {'error', 'fill'}
        A chunk a zarr array needs that its store lacks: an error row naming it (default), or
        the array's fill value, as ``--missing-chunks``.

    Returns
    -------
    iterator of pyarrow.RecordBatch
        Record batches with the columns of the output schema; ``ref`` and ``dist`` are the
        paths, or the pair's index for arrays. Rows come in completion order.

    Raises
    ------
    ConfigError
        An option that cannot work (a ValueError).

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> a = np.zeros((32, 32), np.uint8); b = a + 8
    >>> batches = list(fastssim.score_pairs([(a, a), (a, b)]))
    >>> batches[0].num_rows, batches[0].column("status").to_pylist()
    (2, ['ok', 'ok'])
    """
    options = dict(data_range=data_range, slices=slices, alpha=alpha, max_pixels=max_pixels, metrics=metrics,
                   preset=preset, y_channel=y_channel, crop_border=crop_border, channel_axis=channel_axis,
                   backend=backend, video=video, missing_chunks=missing_chunks, ms_scales=ms_scales)
    if out is not None:
        from .._deprecation import deprecated

        deprecated("score_pairs(pairs, out=...) returns a summary instead of batches: call score_dataset(pairs, "
                   "out, ...) instead (out= will be refused from the next release)")
        return score_dataset(pairs, out, workers=workers, overwrite=overwrite, timeout=timeout, client=client,
                             chunk_pairs=chunk_pairs, **options)
    if client is not None:
        raise ConfigError("client= scores into a results directory: call score_dataset(pairs, out, client=client)")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, got {batch_size!r}")
    job = _job(workers, timeout, **options)
    first, rest = warm_up(job, _normalise(pairs), timeout=timeout, quiet=True)
    return _batches(job, first, rest, workers, batch_size, timeout)


def _job(workers, timeout, *, metrics, channel_axis, **options):
    check_options(workers=workers, timeout=timeout)
    if channel_axis != "auto" and channel_axis is not None and (not isinstance(channel_axis, int)
                                                                  or isinstance(channel_axis, bool)):
        raise ConfigError(f"channel_axis must be an axis number, None or 'auto', got {channel_axis!r}")
    return Job("", {}, metrics=metrics, channel_axis=channel_axis, **options)


def score_dataset(pairs, out, *, data_range=None, slices=None, alpha="drop", max_pixels=MAX_PIXELS,
                  metrics=DEFAULT_METRICS, preset=None, y_channel=False, crop_border=0, channel_axis="auto",
                  workers=None, overwrite=False, timeout=PAIR_TIMEOUT, backend="auto", client=None,
                  chunk_pairs=None, video=None, missing_chunks="error", ms_scales="standard"):
    """Score pairs of files into the results directory ``out`` (Parquet parts), as ``fastssim
    score -o`` does: resumable, each pair once, the run's parameters in every part (those of
    the command line, so that each resumes the other's output).

    Parameters
    ----------
    pairs : iterable
        ``(ref, dist)`` or ``(method, ref, dist)`` tuples of file paths (str or os.PathLike),
        relative to the working directory or absolute; the rows record them as given.
    out : str or os.PathLike
        The results directory (created, or resumed: pairs already there are skipped).
    overwrite : bool
        Start over: remove what ``out`` holds first.
    client : distributed.Client, optional
        Score on this Dask cluster's workers (``fastssim[dask]``), in chunks of ``chunk_pairs``
        pairs (default 500), each committed once as one part. The workers must read the files
        and ``out`` at the same paths.
    chunk_pairs : int, optional
        Pairs per task and per part on a cluster (default 500, ``FASTSSIM_CHUNK_PAIRS``).
    data_range, slices, alpha, max_pixels, metrics, preset, y_channel, crop_border, channel_axis
        As for `score_pairs`.
    workers, timeout, backend, video, missing_chunks, ms_scales
        As for `score_pairs`.

    Returns
    -------
    dict
        ``scored`` (this run), ``skipped`` (already committed), ``duplicates``, ``errors``,
        ``partial``, ``rows`` (in the whole output), ``interrupted``, ``warnings``, ``low_range``.

    Raises
    ------
    ConfigError
        An option that cannot work (before anything is written), or pairs that are arrays.
    ParamsMismatch, OutputError
        ``out`` holds other runs' results, or cannot be written.

    Examples
    --------
    >>> import os, tempfile, numpy as np, imageio.v3 as iio, fastssim
    >>> d = tempfile.mkdtemp(); a = os.path.join(d, "a.png"); b = os.path.join(d, "b.png")
    >>> iio.imwrite(a, np.zeros((32, 32), np.uint8)); iio.imwrite(b, np.full((32, 32), 8, np.uint8))
    >>> fastssim.score_dataset([(a, b)], os.path.join(d, "out"))["scored"]
    1
    """
    job = _job(workers, timeout, data_range=data_range, slices=slices, alpha=alpha, max_pixels=max_pixels,
               metrics=metrics, preset=preset, y_channel=y_channel, crop_border=crop_border, channel_axis=channel_axis,
               backend=backend, video=video, missing_chunks=missing_chunks, ms_scales=ms_scales)
    items = list(_normalise(pairs))
    if any(isinstance(it, tuple) for it in items):
        raise ConfigError("score_dataset needs pairs of file paths; for arrays, use score_pairs (it yields the rows)")
    if chunk_pairs is not None and (not isinstance(chunk_pairs, int) or chunk_pairs < 1):
        raise ConfigError(f"chunk_pairs must be a positive integer, got {chunk_pairs!r}")
    from ..io import is_video

    params = run_params(job, video=any(is_video(it.ref) for it in items))
    return score_files(items, os.fspath(out), job, params, workers=workers, overwrite=overwrite, quiet=True,
                       timeout=timeout, client=client, chunk_pairs=chunk_pairs)


def _batches(job, first, rest, workers, batch_size, timeout):
    rows = list(first)
    for row in stream_rows(job, rest, workers or available_cpus(), timeout=timeout):
        rows.append(row)
        if len(rows) >= batch_size:
            yield pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
            rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=SCHEMA)
