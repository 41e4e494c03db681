"""One pair in, one row out: the options of a run checked up front, the metrics of a pair
of arrays, and the job a worker runs for a pair of files."""

import math
import numbers
import os

from .. import metrics, presets
from .._math import psnr_from_mse
from .._validate import resolve_data_range
from ..io import ALPHA_POLICIES, MAX_PIXELS, ReadError, read_image

METRICS = ("ssim", "ms_ssim", "psnr", "mse", "dssim")
DEFAULT_METRICS = ("ssim", "psnr", "mse")

#: Default limit on the seconds one pair may take to read and score before it is given up.
PAIR_TIMEOUT = 600.0


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


def check_metrics(names):
    """The requested metric names, checked, in a canonical order.

    ``names`` is a comma-separated string or a sequence of names.
    """
    if isinstance(names, str):
        names = names.split(",")
    names = [str(n).strip().lower() for n in names if str(n).strip()]
    bad = [n for n in names if n not in METRICS]
    if bad or not names:
        raise ValueError(f"unknown metric(s) {bad}; choose from {', '.join(METRICS)}")
    return tuple(n for n in METRICS if n in names)


def _positive_int(value, what):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def check_options(*, data_range=None, slices=None, alpha="drop", max_pixels=MAX_PIXELS, preset=None,
                  crop_border=0, workers=None, timeout=PAIR_TIMEOUT):
    """Refuse, before anything is read, options that cannot work for any pair."""
    if data_range is not None:
        if not isinstance(data_range, numbers.Real) or isinstance(data_range, bool):
            raise ValueError(f"data_range must be a positive number, got {data_range!r}")
        if not (math.isfinite(data_range) and data_range > 0 and math.isfinite(float(data_range) * float(data_range))):
            raise ValueError(f"data_range must be positive and finite (and its square too), got {data_range!r}")
    if slices is not None and (not isinstance(slices, numbers.Integral) or isinstance(slices, bool)):
        raise ValueError(f"slices must be an axis number (0, 1 or 2), got {slices!r}")
    if alpha not in ALPHA_POLICIES:
        raise ValueError(f"alpha must be one of {ALPHA_POLICIES}, got {alpha!r}")
    _positive_int(max_pixels, "max_pixels")
    if preset is not None and preset not in presets.PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(presets.PRESETS)}")
    if not isinstance(crop_border, numbers.Integral) or isinstance(crop_border, bool) or crop_border < 0:
        raise ValueError(f"crop_border must be a non-negative integer, got {crop_border!r}")
    if workers is not None:
        _positive_int(workers, "workers")
    if timeout is not None and not (isinstance(timeout, numbers.Real) and timeout > 0):
        raise ValueError(f"the pair timeout must be a positive number of seconds, got {timeout!r}")


def score_arrays(ref, dist, *, data_range=None, slices=None, metrics_=DEFAULT_METRICS, preset=None,
                 y_channel=False, crop_border=0, where="dist", channel_axis="auto"):
    """The requested metrics of one pair of arrays, as a row (without paths or status).

    Parameters
    ----------
    ref, dist : ndarray
    data_range : float, optional
        Defaults to the range of the integer dtype (or the preset's rule).
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
    """
    if ref.shape != dist.shape:
        raise ValueError(f"shape mismatch: ref {ref.shape}, dist {dist.shape}")
    if channel_axis == "auto":
        kind = layout(ref, where)
        ca = -1 if kind.startswith("colour") else None
        volume = kind.endswith("volume")
    else:
        ca = channel_axis
        volume = ref.ndim - (ca is not None) == 3
    conv = dict(preset=preset, y_channel=y_channel, crop_border=crop_border)
    row = {"shape": "x".join(map(str, ref.shape)), "ssim_slices": None}
    row.update({m: None for m in METRICS})
    if slices is not None and not volume:
        raise ValueError(f"--slices needs volumes, got a 2-D image of shape {ref.shape}")
    if "ssim" in metrics_ or "dssim" in metrics_:
        if slices is not None:
            per = metrics.ssim_slices(ref, dist, axis=slices, data_range=data_range, channel_axis=ca, **conv)
            row["ssim_slices"] = per.tolist()
            value = float(per.mean())
        else:
            value = metrics.ssim(ref, dist, data_range=data_range, channel_axis=ca, **conv)
        if "ssim" in metrics_:
            row["ssim"] = value
        if "dssim" in metrics_:
            row["dssim"] = (1.0 - value) / 2.0
    if "ms_ssim" in metrics_:
        if slices is not None:
            row["ms_ssim"] = float(metrics.ms_ssim_slices(ref, dist, axis=slices, data_range=data_range,
                                                          channel_axis=ca, **conv).mean())
        else:
            row["ms_ssim"] = metrics.ms_ssim(ref, dist, data_range=data_range, channel_axis=ca, **conv)
    if "psnr" in metrics_ or "mse" in metrics_:
        x, y, L = ref, dist, data_range
        if preset is not None or y_channel or crop_border:
            x, y, _, L, _, _ = presets.apply(ref, dist, channel_axis=ca, data_range=data_range, batch=False,
                                             window=dict(presets.WINDOW_DEFAULTS), **conv)
        mse = metrics.mse(x, y)
        if "mse" in metrics_:
            row["mse"] = mse
        if "psnr" in metrics_:
            row["psnr"] = psnr_from_mse(mse, resolve_data_range(x, y, L))
    return row


def error_row(pair, message):
    row = {m: None for m in METRICS}
    row.update(method=pair.method, ref=pair.ref, dist=pair.dist, ssim_slices=None, shape=None,
               status="error", error=message)
    return row


def ok_row(pair, row):
    row.update(method=pair.method, ref=pair.ref, dist=pair.dist, status="ok", error=None)
    return row


def timeout_row(pair, seconds):
    return error_row(pair, f"gave up after {seconds:.0f} s: reading or scoring this pair did not finish "
                           "(a damaged file can make a decoder loop); raise --pair-timeout if the pair is "
                           "just large")


class Job:
    """Everything a worker needs to score one pair from files."""

    def __init__(self, ref_root, dist_roots, data_range=None, slices=None, alpha="drop",
                 max_pixels=MAX_PIXELS, metrics_=DEFAULT_METRICS, preset=None, y_channel=False,
                 crop_border=0):
        check_options(data_range=data_range, slices=slices, alpha=alpha, max_pixels=max_pixels, preset=preset,
                      crop_border=crop_border)
        self.scoring = dict(data_range=data_range, slices=slices, metrics_=check_metrics(metrics_),
                            preset=preset, y_channel=y_channel, crop_border=crop_border)
        self.ref_root = ref_root
        self.dist_roots = dist_roots  # {method: root}
        self.alpha = alpha
        self.max_pixels = max_pixels
        self.fast_png = False  # set for the pool that runs the job (see io.fast_png_for)

    def read(self, path):
        return read_image(path, max_pixels=self.max_pixels, alpha=self.alpha, fast_png=self.fast_png)

    def __call__(self, pair):
        if pair.problem:
            return error_row(pair, pair.problem)
        try:
            ref = self.read(os.path.join(self.ref_root, pair.ref))
            dist = self.read(os.path.join(self.dist_roots[pair.method], pair.dist))
            return ok_row(pair, score_arrays(ref, dist, where=pair.ref, **self.scoring))
        except (ReadError, ValueError, TypeError) as e:
            return error_row(pair, str(e))
        except Exception as e:  # a bug or an exotic failure: still a row, never a lost pair
            return error_row(pair, f"{type(e).__name__}: {e}")
