"""One pair in, one row out: the metrics of a pair of arrays, each computed on its own so that
one failing metric leaves the others, and the job a worker runs for a pair of files.

A row's ``status`` is 'ok' (every asked metric computed), 'partial' (some: the others are
null with their reason in ``<metric>_error``) or 'error' (none: the pair could not be read or
compared; every asked metric's ``<metric>_error`` holds the reason, as ``error`` does).
"""

import os

import numpy as np

from .. import _config as cfg
from .. import metrics, multiscale, presets
from .._math import psnr_from_mse
from ..cwssim import cw_ssim
from ..three_ssim import three_ssim
from ..distances import l2_cosine
from .._validate import resolve_data_range
from ..io import MAX_PIXELS, ReadError, read_image
from .options import (DEFAULT_METRICS, METRICS, ConfigError, check_backend, check_data_range, check_first_pair,
                      check_metrics, check_options, check_preset, pair_range)

#: The exceptions a metric raises for data it cannot score (anything else is a bug, still a row).
DATA_ERRORS = (ValueError, TypeError, ArithmeticError)


def layout(arr, path):
    """('image' | 'colour' | 'volume' | 'colour volume') for an array read from ``path``."""
    if arr.ndim == 2:
        return "image"
    if arr.ndim == 3:
        return "colour" if arr.shape[-1] in (3, 4) else "volume"
    if arr.ndim == 4 and arr.shape[-1] in (3, 4):
        return "colour volume"
    raise ValueError(f"cannot score an array of shape {arr.shape} from {os.path.basename(path)}: "
                     "expected (H, W), (H, W, C), (D, H, W) or (D, H, W, C)")


def resolve_axes(ref, where, channel_axis):
    """(channel axis or None, whether the pair is a volume)."""
    if channel_axis == "auto":
        kind = layout(ref, where)
        return (-1 if kind.startswith("colour") else None), kind.endswith("volume")
    return channel_axis, ref.ndim - (channel_axis is not None) == 3


def _message(e):
    return str(e) if isinstance(e, (ReadError, *DATA_ERRORS)) and str(e) else f"{type(e).__name__}: {e}"


def _low_range(ref, dist, where):
    """A warning when wide-integer data use a small part of their dtype's range, else None."""
    if ref.dtype.kind not in "ui" or ref.dtype.itemsize < 2 or ref.dtype != dist.dtype:
        return None
    info = np.iinfo(ref.dtype)
    full = float(info.max) - float(info.min)
    lo, hi = min(ref.min(), dist.min()), max(ref.max(), dist.max())
    if (float(hi) - float(lo)) >= cfg.LOW_RANGE_FRACTION * full:
        return None
    return (f"{where} ({ref.dtype}) spans {lo}-{hi}, {100 * (float(hi) - float(lo)) / full:.1f}% of the "
            f"dtype's range {full:g} that SSIM and PSNR use by default: scores come out near 1; if the data "
            "cannot exceed a smaller range (e.g. 12-bit: 4095), pass --data-range NUMBER, or 'ref'/'pair' "
            "for each pair's own span")


def empty_row(shape):
    """A row with no metric computed yet (without the pair's identity and status)."""
    row = {"shape": "x".join(map(str, shape)), "ssim_slices": None, "data_range": None, "_warning": None}
    row.update({m: None for m in METRICS})
    row.update({f"{m}_error": None for m in METRICS})
    return row


def put_ssim(row, asked, value):
    """SSIM, and DSSIM = (1 - SSIM) / 2, into ``row`` as asked."""
    if "ssim" in asked:
        row["ssim"] = value
    if "dssim" in asked:
        row["dssim"] = (1.0 - value) / 2.0


def put_products(row, asked, x, y, backend):
    """L2 and cosine, from one pass, each with its own outcome."""
    if "l2" not in asked and "cosine" not in asked:
        return
    try:
        l2, cosine = l2_cosine(x, y, backend=backend)
    except Exception as e:  # noqa: BLE001 - recorded per metric; the others go on
        for m in ("l2", "cosine"):
            if m in asked:
                row[f"{m}_error"] = _message(e)
        return
    if "l2" in asked:
        row["l2"] = l2
    if "cosine" in asked:
        if isinstance(cosine, Exception):
            row["cosine_error"] = _message(cosine)
        else:
            row["cosine"] = cosine


def put_planar(row, asked, x, y, channel_axis):
    """CW-SSIM and 3-SSIM (2-D planes; per channel, then the mean), into ``row`` as asked;
    3-SSIM with the row's data range."""
    for name, f in (("cw_ssim", lambda: cw_ssim(x, y, channel_axis=channel_axis)),
                    ("three_ssim", lambda: three_ssim(x, y, channel_axis=channel_axis, data_range=row["data_range"],
                                                      backend="cpu"))):
        if name in asked:
            try:
                row[name] = f()
            except Exception as e:  # noqa: BLE001 - recorded per metric; the others go on
                row[f"{name}_error"] = _message(e)


def put_mse(row, asked, mse):
    """MSE, and PSNR from it with the row's data range, into ``row`` as asked."""
    if "mse" in asked:
        row["mse"] = mse
    if "psnr" in asked and row["data_range"] is not None:
        row["psnr"] = psnr_from_mse(mse, row["data_range"])


def score_arrays(ref, dist, *, data_range=None, slices=None, metrics_=DEFAULT_METRICS, preset=None,
                 y_channel=False, crop_border=0, where="dist", channel_axis="auto", backend="auto"):
    """The requested metrics of one pair of arrays, as a row (without paths or status).

    Each metric is computed on its own: one that cannot be scored for this pair (an image
    smaller than MS-SSIM's pyramid, say) is null with its reason, and the others are kept.

    Parameters
    ----------
    ref, dist : ndarray
    data_range : float, 'ref', 'pair' or None
        A number; a rule computed per pair ('ref': the reference's max - min, 'pair':
        the larger of the two spans, as torchmetrics); None: the integer dtype's range
        (or the preset's rule). The value used is the row's ``data_range``.
    slices : int, optional
        Score 2-D SSIM per slice along this axis of a volume (``ssim_slices``);
        ``ssim`` is then their mean.
    metrics_ : tuple of str
        From ``METRICS``.
    preset, y_channel, crop_border
        As for `fastssim.ssim`; PSNR and MSE are computed on the same converted
        (grey or luma, cropped) images.
    channel_axis : int, None or 'auto'
        'auto': the last axis when it has 3 or 4 entries (files are read channels-last).
    backend : {'auto', 'cpu', 'cuda'}
        Where every metric is computed.

    Returns
    -------
    dict
        The metric values, ``ssim_slices``, ``shape``, ``data_range``, ``<metric>_error`` for
        each metric, and ``_warning`` (a message about the data, or None).

    Raises
    ------
    ValueError
        If the pair cannot be compared at all (shapes differ, an unknown layout).
    """
    if ref.shape != dist.shape:
        raise ValueError(f"shape mismatch: ref {ref.shape}, dist {dist.shape}")
    ca, volume = resolve_axes(ref, where, channel_axis)
    if slices is not None and not volume:
        raise ValueError(f"--slices needs volumes, got a 2-D image of shape {ref.shape}")
    conv = dict(preset=preset, y_channel=y_channel, crop_border=crop_border, backend=backend)
    row = empty_row(ref.shape)
    L = data_range
    if L in ("ref", "pair"):
        L = pair_range(ref, dist, L)
    elif L is None and preset is None:
        row["_warning"] = _low_range(ref, dist, where)

    def fail(names, e):
        for m in names:
            if m in metrics_:
                row[f"{m}_error"] = _message(e)

    if "ssim" in metrics_ or "dssim" in metrics_:
        try:
            if slices is not None:
                per = metrics.ssim_slices(ref, dist, axis=slices, data_range=L, channel_axis=ca, **conv)
                row["ssim_slices"] = per.tolist()
                value = float(per.mean())
            else:
                value = metrics.ssim(ref, dist, data_range=L, channel_axis=ca, **conv)
            put_ssim(row, metrics_, value)
        except Exception as e:  # noqa: BLE001 - recorded per metric; the others go on
            fail(("ssim", "dssim"), e)
    if "ms_ssim" in metrics_:
        try:
            if slices is not None:
                row["ms_ssim"] = float(multiscale.ms_ssim_slices(ref, dist, axis=slices, data_range=L,
                                                              channel_axis=ca, **conv).mean())
            else:
                row["ms_ssim"] = multiscale.ms_ssim(ref, dist, data_range=L, channel_axis=ca, **conv)
        except Exception as e:  # noqa: BLE001
            fail(("ms_ssim",), e)
    try:
        x, y, cx = ref, dist, ca
        if preset is not None or y_channel or crop_border:
            x, y, cx, L, _, _ = presets.apply(ref, dist, channel_axis=ca, data_range=L, batch=False,
                                             window=dict(presets.WINDOW_DEFAULTS), preset=preset,
                                             y_channel=y_channel, crop_border=crop_border)
    except Exception as e:  # noqa: BLE001 - the conversion PSNR, MSE, L2 and cosine need failed
        fail(("psnr", "mse", "l2", "cosine", "cw_ssim", "three_ssim"), e)
        return row
    try:
        row["data_range"] = resolve_data_range(x, y, L)
    except Exception as e:  # noqa: BLE001 - no range: PSNR cannot be computed
        fail(("psnr",), e)
    if "psnr" in metrics_ or "mse" in metrics_:
        try:
            put_mse(row, metrics_, metrics.mse(x, y, backend=backend))
        except Exception as e:  # noqa: BLE001
            fail(("psnr", "mse"), e)
    put_products(row, metrics_, x, y, backend)
    put_planar(row, metrics_, x, y, cx)
    return row


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
            row["ssim_masked"] = metrics.ssim(ref, dist, data_range=L, channel_axis=ca, mask=m, **conv)
        if "psnr" in asked or "mse" in asked:
            mse = metrics.mse(ref, dist, mask=m, channel_axis=ca)
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
                 max_pixels=MAX_PIXELS, metrics_=DEFAULT_METRICS, preset=None, y_channel=False,
                 crop_border=0, channel_axis="auto", backend="auto"):
        metrics_ = check_metrics(metrics_)
        check_options(data_range=data_range, slices=slices, alpha=alpha, max_pixels=max_pixels, preset=preset,
                      crop_border=crop_border, metrics_=metrics_)
        self.scoring = dict(data_range=check_data_range(data_range), slices=slices, metrics_=metrics_,
                            preset=check_preset(preset), y_channel=y_channel, crop_border=crop_border,
                            channel_axis=channel_axis, backend=check_backend(backend))
        self.metrics = metrics_
        self.ref_root = ref_root
        self.dist_roots = dist_roots  # {method: root}
        self.alpha = alpha
        self.max_pixels = max_pixels
        self.png_decoder = "builtin"  # set for the run (see io.png_decoder_for)
        self.dist_default = ""  # the root of distorted paths whose method has none
        self.mask_root = None  # --mask DIR: each reference's mask at the same relative path

    def shipped(self):
        """A copy to send to other machines: roots made absolute (from this process's working
        directory), since a worker's working directory is its own."""
        import copy

        job = copy.copy(self)
        job.ref_root = os.path.abspath(self.ref_root or os.getcwd())
        job.dist_roots = {m: os.path.abspath(r or os.getcwd()) for m, r in self.dist_roots.items()}
        job.mask_root = os.path.abspath(self.mask_root) if self.mask_root else None
        job.dist_default = os.getcwd()
        return job

    def read(self, path):
        return read_image(path, max_pixels=self.max_pixels, alpha=self.alpha, png_decoder=self.png_decoder)

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
            ref, dist = np.asarray(ref), np.asarray(dist)
            row = score_arrays(ref, dist, where=pair.ref, **self.scoring)
            row["spacing"] = spacing
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

    def load(self, item):
        """``(pair, ref, dist)`` of an item: a Pair of paths, or ``(Pair, (ref, dist))`` of arrays."""
        pair, arrays = item if isinstance(item, tuple) else (item, None)
        if pair.problem:
            raise ValueError(pair.problem)
        if arrays is not None:
            return pair, np.asarray(arrays[0]), np.asarray(arrays[1])
        ref = self.read(os.path.join(self.ref_root, pair.ref))
        dist = self.read(os.path.join(self.dist_roots.get(pair.method, self.dist_default), pair.dist))
        return pair, ref, dist

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

    def decode(self, item):
        """``(pair, ref, dist)`` of an item, or its error row when it cannot be read."""
        try:
            return self.load(item)
        except Exception as e:  # noqa: BLE001 - unreadable: an error row, never a lost pair
            return error_row(item[0] if isinstance(item, tuple) else item, _message(e), self.metrics)

    def _row(self, item, probe):
        got = self.decode(item)
        if isinstance(got, dict):
            return got, False
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
