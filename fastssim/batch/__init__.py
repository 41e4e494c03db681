"""The streaming batch scorer: pairs in, one result row per pair out.

``options`` checks a run's options (before anything is read, and against the first pair);
``pairs`` finds (reference, distorted) pairs; ``score`` scores one pair into a row, metric
by metric; ``pool`` runs pairs in a bounded pool of threads with a per-pair time limit;
``writer`` commits rows as atomic Parquet parts; ``progress`` tells the user; ``run`` ties
them together.
"""

from .options import (DEFAULT_METRICS, METRICS, PAIR_TIMEOUT, RANGE_RULES, ConfigError, check_data_range,
                      check_metrics, check_options, check_preset)
from .progress import Progress
from .score import Job, layout, score_arrays


def __getattr__(name):
    """The dataset runner (and with it pyarrow) is loaded on first use: one pair needs neither."""
    if name in ("score_files", "score_pairs", "score_dataset", "unique_pairs", "warm_up"):
        from . import run

        return getattr(run, name)
    raise AttributeError(f"module 'fastssim.batch' has no attribute {name!r}")


__all__ = ["score_pairs", "score_dataset", "score_files", "warm_up", "Job", "check_metrics", "check_options",
           "check_preset",
           "check_data_range", "score_arrays", "layout", "Progress", "unique_pairs", "ConfigError", "METRICS",
           "DEFAULT_METRICS", "PAIR_TIMEOUT", "RANGE_RULES"]
