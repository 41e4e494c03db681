"""Timing helpers shared by the benchmarks."""

import time

import numpy as np


def median_seconds(f, rounds=3):
    """The median wall time of ``rounds`` calls of ``f``."""
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def warm_times(call, seconds, at_least=3):
    """The wall times of calls of ``call`` for about ``seconds`` (at least ``at_least`` calls),
    after one call that is not timed (compiling, or loading the cache)."""
    call()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < at_least:
        t = time.perf_counter()
        call()
        times.append(time.perf_counter() - t)
    return np.array(times)
