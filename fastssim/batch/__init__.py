"""The streaming batch scorer: pairs in, one result row per pair out.

``pairs`` finds (reference, distorted) pairs; ``score`` scores one pair into a row;
``pool`` runs pairs in a bounded pool of threads with a per-pair time limit; ``writer``
commits rows as atomic Parquet parts; ``run`` ties them together.
"""

from .run import Progress, score_files, score_pairs, unique_pairs
from .score import DEFAULT_METRICS, METRICS, PAIR_TIMEOUT, Job, check_metrics, check_options, layout, score_arrays

__all__ = ["score_pairs", "score_files", "Job", "check_metrics", "check_options", "score_arrays", "layout",
           "Progress", "unique_pairs", "METRICS", "DEFAULT_METRICS", "PAIR_TIMEOUT"]
