"""Rows from items: the first pairs scored alone (compiling the kernels, proving the options),
then the rest streamed through the decoding pool and the batcher. Used by the local run
(`run`) and by each Dask task (`cluster`)."""

import itertools
import sys

import numba

from .options import PAIR_TIMEOUT
from .pool import run_rows
from .batched import Batcher
from .progress import CompileNotice


#: Pairs tried in turn before the run when the first ones cannot be read.
WARM_UP_TRIES = 3


def _all_threads(func):
    """``func`` run with every Numba thread (pool workers otherwise run the engine on one)."""
    def wrapper(item):
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        return func(item)
    return wrapper


def probe_one(job, item, timeout=PAIR_TIMEOUT, stop=None):
    """``(row, readable)`` of one item scored with every thread, given up on (an error row)
    after ``timeout`` seconds; ConfigError when the options cannot work for it; None when
    ``stop`` is set first (the item, compiling say, is left to end by itself)."""
    got = list(run_rows(_all_threads(job.probe), [item], 1, timeout=timeout, stop=stop,
                        on_timeout=lambda it, s: (job.timeout_row(it, s), False)))
    return got[0] if got else None


def warm_up(job, items, *, timeout=PAIR_TIMEOUT, quiet=False, stream=None, stop=None):
    """Score the first items alone, until one is readable (at most ``WARM_UP_TRIES``).

    Returns
    -------
    rows : list of dict
        Their rows, to be written first.
    rest : iterator
        The items not yet scored.

    Raises
    ------
    ConfigError
        If the options cannot work for the first readable pair.
    """
    items = iter(items)
    rows = []
    with CompileNotice(stream=stream, quiet=quiet):
        for item in itertools.islice(items, WARM_UP_TRIES):
            got = probe_one(job, item, timeout, stop)
            if got is None:  # stopped while it ran (a signal during compiling): not committed
                break
            row, readable = got
            rows.append(row)
            if readable:
                break
    return rows, items


class _Warnings:
    """Messages about the data: each kind said once on stderr, all kept for the metadata."""

    def __init__(self, quiet, stream=None):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.first = None
        self.count = 0

    def see(self, row):
        message = row.pop("_warning", None)
        if message is None:
            return None
        self.count += 1
        if self.first is None:
            self.first = message
            if not self.quiet:
                self.stream.write(f"warning: {message}\n")
                self.stream.flush()
            return message
        return None


def stream_rows(job, items, workers, *, timeout=PAIR_TIMEOUT, stop=None):
    """The rows of ``items``: decoded by the pool and scored in batches of one shape where the
    options allow it (``Job.batchable``), else read and scored pair by pair in the pool."""
    if not job.batchable:
        yield from run_rows(job, items, workers, timeout=timeout, on_timeout=job.timeout_row, stop=stop)
        return
    batcher = Batcher(job, workers)
    for got in run_rows(job.decode, items, workers, timeout=timeout, on_timeout=job.timeout_row, stop=stop,
                        limit=batcher.limit):
        if isinstance(got, dict):  # unreadable, or given up on
            yield got
        else:
            yield from batcher.add(*got)
    if stop is None or not stop.is_set():  # stopped: the pairs held for a batch are left for the re-run
        yield from batcher.flush()
