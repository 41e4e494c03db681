"""One pair in, one row out: the metrics of a pair of arrays, each computed on its own so that
one failing metric leaves the others, and the job a worker runs for a pair of files.

A row's ``status`` is 'ok' (every asked metric computed), 'partial' (some: the others are
null with their reason in ``<metric>_error``) or 'error' (none: the pair could not be read or
compared; every asked metric's ``<metric>_error`` holds the reason, as ``error`` does).
"""

import os

import numpy as np

from ..metrics import structural
from ..kernels.math import psnr_from_mse
from ..io import MAX_PIXELS, MISSING_CHUNKS, ReadError, other_png_decoder, png_decoder_for, read_image
from ..io.png_filters import unfilter_call
from ..kernels import ahead
from ..io.video import is_video
from .options import (DEFAULT_METRICS, METRICS, ConfigError, check_backend, check_data_range, check_first_pair,
                      check_metrics, check_ms_scales, check_options, check_preset)
from .pair_metrics import DATA_ERRORS, _message, layout, resolve_axes, score_arrays
from .video import check_video, score_video, video_conflicts

def finish_row(pair, row, asked):
    """Add the pair's identity and the status that the asked metrics' outcomes give."""
    failed = [m for m in asked if row.get(f"{m}_error")]
    row.update(method=pair.method, ref=pair.ref, dist=pair.dist, dataset=pair.dataset)
    if not failed:
        row.update(status="ok", error=None)
    else:
        row.update(status="partial" if len(failed) < len(asked) else "error",
                   error="; ".join(f"{m}: {row[f'{m}_error']}" for m in failed))
    return row


def masked_names(asked):
    """The region's columns a run fills: ``ssim_masked`` (for ssim or dssim), ``psnr_masked``,
    ``mse_masked``."""
    return [f"{m}_masked" for m, needs in (("ssim", ("ssim", "dssim")), ("psnr", ("psnr",)), ("mse", ("mse",)))
            if any(n in asked for n in needs)]


def put_masked(row, asked, ref, dist, mask, scoring):
    """SSIM, PSNR and MSE over the region ``mask`` selects (nonzero pixels of a grey mask image,
    or of its first channel), as the run's options compute them whole, into ``row``; a failure
    goes to each region column's ``_error``."""
    if isinstance(mask, Exception):
        for name in masked_names(asked):
            row[f"{name}_error"] = f"mask: {mask}"
        return
    try:
        ca, _ = resolve_axes(ref, "", scoring["channel_axis"])
        m = np.asarray(mask)
        spatial = ref.ndim - (ca is not None)
        if m.ndim == spatial + 1 and m.shape[-1] in (2, 3, 4):
            m = m[..., 0]
        m = m != 0
        L = row["data_range"]
        conv = dict(preset=scoring["preset"], y_channel=scoring["y_channel"], crop_border=scoring["crop_border"],
                    backend=scoring["backend"])
        if "ssim" in asked or "dssim" in asked:
            row["ssim_masked"] = structural.ssim(ref, dist, data_range=L, channel_axis=ca, mask=m, **conv)
        if "psnr" in asked or "mse" in asked:
            mse = structural.mse(ref, dist, mask=m, channel_axis=ca)
            if "mse" in asked:
                row["mse_masked"] = mse
            if "psnr" in asked and L is not None:
                row["psnr_masked"] = psnr_from_mse(mse, L)
    except Exception as e:  # noqa: BLE001 - recorded; the whole-image metrics stand
        for name in masked_names(asked):
            if row.get(name) is None:
                row[f"{name}_error"] = _message(e)


def pair_spacing(ref, dist):
    """The voxel spacing the pair's files record (a list, or None when neither records one).

    Raises
    ------
    ValueError
        When both record one and they differ: the voxels do not cover the same space.
    """
    a, b = getattr(ref, "spacing", None), getattr(dist, "spacing", None)
    if a is not None and b is not None and not np.allclose(a, b, rtol=1e-6, atol=0):
        raise ValueError(f"voxel spacing differs: ref {tuple(a)} vs dist {tuple(b)}; resample one onto the "
                         "other's grid first")
    spacing = a if a is not None else b
    return None if spacing is None else list(spacing)


def error_row(pair, message, asked=METRICS):
    """The row of a pair none of whose metrics could be computed."""
    row = {m: None for m in METRICS}
    row.update({f"{m}_error": (message if m in asked else None) for m in METRICS})
    row.update(method=pair.method, ref=pair.ref, dist=pair.dist, dataset=pair.dataset, ssim_slices=None, shape=None,
               data_range=None, status="error", error=message)
    return row


def timeout_message(seconds):
    return (f"gave up after {seconds:.0f} s: reading or scoring this pair did not finish (a damaged file can "
            "make a decoder loop); raise --pair-timeout if the pair is just large")


class Job:
    """Everything a worker needs to score one pair from files."""

    def __init__(self, ref_root, dist_roots, data_range=None, slices=None, alpha="drop",
                 max_pixels=MAX_PIXELS, metrics=DEFAULT_METRICS, preset=None, y_channel=False,
                 crop_border=0, channel_axis="auto", backend="auto", video=None, missing_chunks="error",
                 ms_scales="standard", metrics_=None):
        if metrics_ is not None:  # the old spelling
            from .._deprecation import deprecated

            deprecated("Job(metrics_=...) is now Job(metrics=...), as in score_pairs")
            metrics = metrics_
        metrics = check_metrics(metrics)
        if missing_chunks not in MISSING_CHUNKS:
            raise ConfigError(f"missing_chunks must be one of {', '.join(MISSING_CHUNKS)}, got {missing_chunks!r}")
        check_options(data_range=data_range, slices=slices, alpha=alpha, max_pixels=max_pixels, preset=preset,
                      crop_border=crop_border, metrics=metrics)
        self.scoring = dict(data_range=check_data_range(data_range), slices=slices, metrics=metrics,
                            preset=check_preset(preset), y_channel=y_channel, crop_border=crop_border,
                            channel_axis=channel_axis, backend=check_backend(backend),
                            ms_scales=check_ms_scales(ms_scales))
        self.metrics = metrics
        #: how video pairs are scored: planes ('y', 'yuv', 'rgb'), frames start/end, offset
        self.video = check_video(video or {})
        self.ref_root = ref_root
        self.dist_roots = dist_roots  # {method: root}
        self.alpha = alpha
        self.max_pixels = max_pixels
        self.png_decoder = "auto"  # set for the run (one of io.PNG_DECODERS, checked)
        self.dist_default = ""  # the root of distorted paths whose method has none
        self.mask_root = None  # --mask DIR: each reference's mask at the same relative path
        #: a directory every file read must resolve inside (--root), with the files they name
        self.confine = None
        self.missing_chunks = missing_chunks  # a zarr chunk the store lacks: 'error' or 'fill'

    def shipped(self):
        """A copy to send to other machines: roots made absolute (from this process's working
        directory), since a worker's working directory is its own."""
        import copy

        job = copy.copy(self)
        job.ref_root = os.path.abspath(self.ref_root or os.getcwd())
        job.dist_roots = {m: os.path.abspath(r or os.getcwd()) for m, r in self.dist_roots.items()}
        job.mask_root = os.path.abspath(self.mask_root) if self.mask_root else None
        job.dist_default = os.getcwd()
        job.confine = os.path.abspath(self.confine) if self.confine else None
        return job

    def read(self, path, png_decoder=None):
        return read_image(path, max_pixels=self.max_pixels, alpha=self.alpha,
                          png_decoder=png_decoder_for(png_decoder or self.png_decoder), root=self.confine,
                          missing_chunks=self.missing_chunks)

    def first_png_decoder(self):
        """The PNG decoder of a run's first pairs (`probe`) when the run leaves the choice to fastssim
        ('auto'): while the built-in decoder's kernel is neither compiled here nor cached,
        `io.other_png_decoder` (each reads exactly what it reads), and that kernel is put aside for
        the helper process that SSIM's first call starts (`kernels.ahead.later`), which compiles it
        into the cache for the pairs after them and the runs after this one. (Its 0.3 s of
        compiling came first on a cold first ``fastssim score`` of two PNG files: 3.0 -> 2.7 s.)"""
        if self.png_decoder == "auto" and ahead.later(unfilter_call(), waited=False).deferred:
            return other_png_decoder()
        return self.png_decoder

    def mask_path(self, pair):
        """The mask file of ``pair``'s region, or None when the run scores no region."""
        if pair.mask:
            return os.path.join(self.ref_root, pair.mask)
        if self.mask_root:
            return os.path.join(self.mask_root, pair.ref)
        return None

    def timeout_row(self, item, seconds):
        """The error row of an item (a Pair, or ``(Pair, arrays)``) given up on after ``seconds``."""
        pair = item[0] if isinstance(item, tuple) else item
        return error_row(pair, timeout_message(seconds), self.metrics)

    def score(self, pair, ref, dist):
        """The row of a pair of arrays (never raises for the pair's data)."""
        try:
            spacing = pair_spacing(ref, dist)
            notes = [n for a in (ref, dist) for n in getattr(a, "notes", ())]
            ref, dist = np.asarray(ref), np.asarray(dist)
            row = score_arrays(ref, dist, where=pair.ref, **self.scoring)
            row["spacing"] = spacing
            if notes:  # what a reader said about a file that did not stop it being read
                row["warning"] = "; ".join(dict.fromkeys(filter(None, [row.get("warning"), *notes])))
            mask_path = self.mask_path(pair)
            if mask_path is None:
                return finish_row(pair, row, self.metrics)
            try:
                mask = self.read(mask_path)
            except ReadError as e:
                mask = e
            put_masked(row, self.metrics, ref, dist, mask, self.scoring)
            return finish_row(pair, row, list(self.metrics) + masked_names(self.metrics))
        except DATA_ERRORS as e:
            return error_row(pair, str(e), self.metrics)
        except Exception as e:  # a bug or an exotic failure: still a row, never a lost pair
            return error_row(pair, f"{type(e).__name__}: {e}", self.metrics)

    def paths(self, pair):
        """The reference's and the distorted file's paths."""
        return (os.path.join(self.ref_root, pair.ref),
                os.path.join(self.dist_roots.get(pair.method, self.dist_default), pair.dist))

    def load(self, item, png_decoder=None):
        """``(pair, ref, dist)`` of an item: a Pair of paths, or ``(Pair, (ref, dist))`` of arrays."""
        pair, arrays = item if isinstance(item, tuple) else (item, None)
        if pair.problem:
            raise ValueError(pair.problem)
        if arrays is not None:
            return pair, np.asarray(arrays[0]), np.asarray(arrays[1])
        ref, dist = self.paths(pair)
        videos = [is_video(ref), is_video(dist)]
        if any(videos) and not all(videos):
            raise ValueError(f"{'ref' if videos[0] else 'dist'} is a video and the other file is not: a video is "
                             "scored frame by frame against another video")
        return pair, self.read(ref, png_decoder), self.read(dist, png_decoder)

    def score_video(self, pair):
        """The row of a pair of video files (never raises for the pair's data)."""
        try:
            video_conflicts(self.video, self.metrics, self.scoring)
            row = score_video(*self.paths(pair), self.scoring, self.video, self.max_pixels, where=pair.ref)
            asked = list(self.metrics)
            if self.mask_path(pair) is not None:
                asked += masked_names(self.metrics)
                for name in masked_names(self.metrics):
                    row[f"{name}_error"] = "masks apply to images and volumes, not to videos"
            return finish_row(pair, row, asked)
        except (ReadError, *DATA_ERRORS) as e:
            return error_row(pair, str(e), self.metrics)
        except Exception as e:  # a bug or an exotic failure: still a row, never a lost pair
            return error_row(pair, f"{type(e).__name__}: {e}", self.metrics)

    def check(self, pair, ref, dist):
        """Raise ConfigError if the options cannot work for this (first) pair."""
        try:
            ca, _ = resolve_axes(ref, pair.ref, self.scoring["channel_axis"])
        except ValueError:
            return  # an unknown layout is this pair's problem (an error row), not the options'
        s = self.scoring
        check_first_pair(ref, dist, channel_axis=ca, data_range=s["data_range"], slices=s["slices"],
                         crop_border=s["crop_border"], preset=s["preset"], y_channel=s["y_channel"],
                         where=pair.ref)

    @property
    def batchable(self):
        """Whether pairs of one shape can be scored together (``batched.score_group``): options
        that convert or range each pair on its own are scored pair by pair."""
        s = self.scoring
        return (s["slices"] is None and s["preset"] is None and not s["y_channel"] and not s["crop_border"]
                and s["data_range"] not in ("ref", "pair") and not self.mask_root)

    def decode(self, item, png_decoder=None):
        """``(pair, ref, dist)`` of an item, or its row when it cannot be read or is a pair of videos
        (scored as they are decoded, frame by frame)."""
        if not isinstance(item, tuple) and not item.problem and all(is_video(p) for p in self.paths(item)):
            return self.score_video(item)
        try:
            return self.load(item, png_decoder)
        except Exception as e:  # noqa: BLE001 - unreadable: an error row, never a lost pair
            return error_row(item[0] if isinstance(item, tuple) else item, _message(e), self.metrics)

    def _row(self, item, probe):
        if probe and not isinstance(item, tuple) and all(is_video(p) for p in self.paths(item)):
            video_conflicts(self.video, self.metrics, self.scoring)
        got = self.decode(item, self.first_png_decoder() if probe else None)
        if isinstance(got, dict):
            return got, got.get("frames") is not None
        pair, ref, dist = got
        if probe:
            self.check(pair, ref, dist)
        return self.score(pair, ref, dist), True

    def __call__(self, item):
        """The row of one item: a Pair of paths, or ``(Pair, (ref, dist))`` of arrays."""
        return self._row(item, probe=False)[0]

    def probe(self, item):
        """``(row, readable)`` of an item; raises ConfigError when the options cannot work for it."""
        return self._row(item, probe=True)


__all__ = ["score_arrays", "layout", "Job", "error_row", "finish_row", "METRICS", "DEFAULT_METRICS",
           "ConfigError", "check_metrics", "check_options"]
