"""Compiling a run's kernels before its first pair is due: from a small piece of one file,
scored with the run's options, so that the same specializations are compiled (or loaded
from Numba's disk cache) while the pairs are still being found."""

import numpy as np

from .score import resolve_axes, score_arrays

#: Spatial extent of the piece: enough for MS-SSIM's five scales of an 11-tap window.
PIECE = 176


def warm_kernels(job, path):
    """Score a contiguous corner of ``path`` against itself with ``job``'s options.

    Raises whatever reading or scoring raises (the caller ignores it: the run reports).
    """
    a = job.read(path)
    ca, _ = resolve_axes(a, path, job.scoring["channel_axis"])
    index = tuple(slice(None) if ca is not None and i == ca % a.ndim else slice(0, PIECE) for i in range(a.ndim))
    piece = np.ascontiguousarray(a[index])
    score_arrays(piece, piece.copy(), where=path, **job.scoring)
