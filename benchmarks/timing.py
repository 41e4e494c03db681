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
