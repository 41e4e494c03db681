"""Scoring decoded pairs in batches: pairs of one shape and dtype are stacked and scored by
one ``ssim_batch`` (``ms_ssim_batch``, ``mse_batch``) call, parallel inside, instead of one
engine call per pair. The rows equal those of pair-by-pair scoring bit for bit (tested); a
batch that raises (a NaN in one pair, a size one metric cannot take) is scored again pair by
pair, so every per-metric outcome is the same as without batching.

Memory stays bounded: at most ``BATCH_PAIRS`` pairs per call and ``BATCH_BYTES`` of decoded
pairs waiting over all shapes, whatever the dataset's length.

On the GPU (``backend='cuda'``, or 'auto' for batches large enough) a batch is stacked into
page-locked host buffers, copied to the device once and every metric is computed from that
copy (one SSIM launch per batch); the buffers are reused from batch to batch.
"""

import numpy as np

from .. import config as cfg
from ..metrics import multiscale, structural
from ..kernels.cuda.staging import Staging
from ..kernels.engine import resolve_backend
from ..conventions import data_range as dr
from .pair_metrics import _low_range, empty_row, put_mse, put_planar, put_products, put_ssim, resolve_axes
from .score import error_row, finish_row, pair_spacing


def _batch_values(R, D, asked, opts, where, staging):
    """{'ssim', 'ms_ssim', 'mse'}: each asked metric of the stacks, from one copy on the GPU."""
    if where == "cuda":
        R, D = staging.upload(R, "ref"), staging.upload(D, "dist")
    else:
        R, D = np.stack(R), np.stack(D)
    values = {}
    if "ssim" in asked or "dssim" in asked:
        values["ssim"] = structural.ssim_batch(R, D, backend=where, **opts)
    if "ms_ssim" in asked:
        values["ms_ssim"] = multiscale.ms_ssim_batch(R, D, backend=where, **opts)
    if "psnr" in asked or "mse" in asked:
        values["mse"] = structural.mse_batch(R, D, backend=where)
    return values


def score_group(job, group, staging=None):
    """The rows of ``group``, a list of ``(pair, ref, dist)`` of one shape and dtype."""
    if len(group) == 1 or any(g[0].mask for g in group):  # a region's mask: pair by pair
        return [job.score(*g) for g in group]
    s = job.scoring
    asked = s["metrics"]
    L = s["data_range"]
    try:
        ref0 = group[0][1]
        ca, volume = resolve_axes(ref0, group[0][0].ref, s["channel_axis"])
        refs, dists = [g[1] for g in group], [g[2] for g in group]
        span = dr.resolve(ref0, group[0][2], L)  # a number, or the dtype's range: one per group
        opts = dict(spatial_ndim=3 if volume else 2, data_range=span,
                    channel_axis=None if ca is None else (ca if ca < 0 else ca + 1))
        where = resolve_backend(s["backend"], None, None, len(group) * ref0.size)
        values = _batch_values(refs, dists, asked, opts, where, staging or Staging())
    except Exception:  # noqa: BLE001 - pair by pair, where each metric's outcome is its own
        return [job.score(*g) for g in group]
    rows = []
    for i, (pair, ref, dist) in enumerate(group):
        try:
            spacing = pair_spacing(ref, dist)
        except ValueError as e:
            rows.append(error_row(pair, str(e), job.metrics))
            continue
        row = empty_row(ref.shape)
        row["spacing"] = spacing
        row["data_range"] = span
        if L is None:
            row["_warning"] = _low_range(ref, dist, pair.ref)
        if "ssim" in values:
            put_ssim(row, asked, float(values["ssim"][i]))
        if "ms_ssim" in values:
            row["ms_ssim"], row["ms_ssim_scales"] = float(values["ms_ssim"][i]), len(multiscale.MS_SSIM_WEIGHTS)
        if "mse" in values:
            put_mse(row, asked, float(values["mse"][i]))
        put_products(row, asked, ref, dist, where)
        put_planar(row, asked, ref, dist, ca)
        rows.append(finish_row(pair, row, job.metrics))
    return rows


class Batcher:
    """Collects decoded pairs by (shape, dtype) and scores each group when it is full.

    Parameters
    ----------
    job : Job
        Whose options (``job.batchable``) allow batching.
    workers : int
        Decoding threads: the in-flight limit (`limit`) lets them decode ahead while a
        batch is being scored.
    """

    def __init__(self, job, workers, max_pairs=None, max_bytes=None):
        self.job = job
        self.workers = workers
        self.max_pairs = max_pairs or cfg.BATCH_PAIRS
        self.max_bytes = max_bytes or cfg.BATCH_BYTES
        self.groups = {}
        self.staging = Staging()
        self.waiting = 0
        self.pair_bytes = 0

    def limit(self):
        """Pairs the pool may have in flight: enough to fill a batch while one is scored."""
        ahead = self.max_pairs if not self.pair_bytes else min(self.max_pairs, self.max_bytes // self.pair_bytes)
        return 2 * self.workers + max(1, int(ahead))

    def add(self, pair, ref, dist):
        """Take one decoded pair; returns the rows of the groups this fills (often none)."""
        if ref.shape != dist.shape or ref.dtype != dist.dtype:
            return [self.job.score(pair, ref, dist)]  # its error or its own conversion
        nbytes = ref.nbytes + dist.nbytes
        self.pair_bytes = max(self.pair_bytes, nbytes)
        key = (ref.shape, ref.dtype.str)
        group = self.groups.setdefault(key, [])
        group.append((pair, ref, dist))
        self.waiting += nbytes
        if len(group) >= self.max_pairs or len(group) * nbytes >= self.max_bytes:
            return self._flush(key)
        if self.waiting > self.max_bytes:
            return self._flush(max(self.groups, key=lambda k: len(self.groups[k])))
        return []

    def _flush(self, key):
        group = self.groups.pop(key)
        self.waiting -= sum(g[1].nbytes + g[2].nbytes for g in group)
        return score_group(self.job, group, self.staging)

    def flush(self):
        """The rows of every waiting pair."""
        rows = []
        for key in list(self.groups):
            rows += self._flush(key)
        return rows
