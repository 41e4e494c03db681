"""The options of a scoring run, checked before anything is scored.

``check_options`` looks at the arguments alone; ``check_first_pair`` at what the first
readable pair says about them (an axis the data lacks, a border that removes the image,
float data without a data range). Both raise ``ConfigError`` naming the option to change;
the CLI turns it into exit status 2 with nothing written.
"""

import math
import numbers


from ..conventions import data_range as dr
from ..conventions import presets
from ..io import ALPHA_POLICIES, MAX_PIXELS

METRICS = ("ssim", "ms_ssim", "psnr", "mse", "dssim", "l2", "cosine", "cw_ssim", "three_ssim")
DEFAULT_METRICS = ("ssim", "psnr", "mse")

#: Per-pair data range rules (besides a number): the dtype's range, the reference's
#: max - min, or max(ref span, dist span) as torchmetrics computes it.
RANGE_RULES = dr.RULES

from ..config import BACKENDS  # noqa: E402 - where the kernels run (the one list)

#: Default limit on the seconds one pair may take to read and score before it is given up.
PAIR_TIMEOUT = 600.0


class ConfigError(ValueError):
    """An option (or combination) that cannot work for the data: refused before the run."""


def check_metrics(names):
    """The requested metric names (any letter case), checked, in a canonical order.

    ``names`` is a comma-separated string or a sequence of names.
    """
    if isinstance(names, str):
        names = names.split(",")
    names = [str(n).strip().lower().replace("-", "_") for n in names if str(n).strip()]
    bad = [n for n in names if n not in METRICS]
    if bad or not names:
        raise ConfigError(f"unknown metric(s) {', '.join(bad) or '(none given)'}; choose from "
                          f"{', '.join(METRICS)}")
    return tuple(n for n in METRICS if n in names)


def check_preset(name):
    """The preset's canonical name (any letter case), or None."""
    if name is None:
        return None
    key = str(name).strip().lower()
    if key not in presets.PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(presets.PRESETS)}")
    return key


def check_backend(name):
    """The backend's canonical name; 'cuda' is refused when no usable GPU is present."""
    key = str(name).strip().lower()
    if key not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if key == "cuda":
        from ..kernels.engine import _cuda_usable, cuda_unavailable

        if not _cuda_usable():
            raise ConfigError(cuda_unavailable("--backend cpu or auto"))
    return key


def check_data_range(value):
    """A run's data range option, checked by `fastssim.conventions.data_range.check` (a number, a
    rule, or a string that spells one); 'dtype', the default, is None (the preset's rule, else the
    dtype's), as the run's parameters record it."""
    value = dr.check(value, error=ConfigError, name="data range", text=True)
    return None if value == "dtype" else value


def positive_int(value, what):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


#: MS-SSIM's scales in a run: Wang's five (null where an image is too small for them), or as many
#: as each image allows ('auto': the first S of the five weights, renormalised to sum to 1).
MS_SCALES = ("standard", "auto")


def check_ms_scales(ms_scales):
    """'standard' or 'auto' (any letter case), checked."""
    value = str(ms_scales).lower() if isinstance(ms_scales, str) else ms_scales
    if value not in MS_SCALES:
        raise ConfigError(f"ms_scales must be one of {', '.join(MS_SCALES)}, got {ms_scales!r}")
    return value


def check_options(*, data_range=None, slices=None, alpha="drop", max_pixels=MAX_PIXELS, preset=None,
                  crop_border=0, workers=None, timeout=PAIR_TIMEOUT, metrics=None, ms_scales="standard"):
    """Refuse, before anything is read, options that cannot work for any pair."""
    check_data_range(data_range)
    check_ms_scales(ms_scales)
    if slices is not None and (not isinstance(slices, numbers.Integral) or isinstance(slices, bool)
                               or not -3 <= slices <= 2):
        raise ConfigError(f"slices must be an axis of a volume (0, 1 or 2), got {slices!r}")
    if alpha not in ALPHA_POLICIES:
        raise ConfigError(f"alpha must be one of {', '.join(ALPHA_POLICIES)}, got {alpha!r}")
    positive_int(max_pixels, "max_pixels")
    preset = check_preset(preset)
    if preset is not None and metrics is not None and "ms_ssim" in metrics and not presets.PRESETS[preset].ms_ssim:
        with_ms = [n for n, p in presets.PRESETS.items() if p.ms_ssim]
        raise ConfigError(f"preset {preset!r} defines no MS-SSIM convention: drop ms_ssim from the metrics, "
                          f"or use a preset that has one ({', '.join(with_ms)})")
    if not isinstance(crop_border, numbers.Integral) or isinstance(crop_border, bool) or crop_border < 0:
        raise ConfigError(f"crop_border must be a non-negative integer, got {crop_border!r}")
    if workers is not None:
        positive_int(workers, "workers")
    if timeout is not None and not (isinstance(timeout, numbers.Real) and 0 < timeout < math.inf):
        raise ConfigError(f"the pair timeout must be a positive number of seconds, got {timeout!r}")


def spatial_shape(shape, channel_axis):
    """The spatial axes' lengths of an array of ``shape`` whose channels are on ``channel_axis``."""
    if channel_axis is None:
        return tuple(shape)
    ca = channel_axis % len(shape)
    return tuple(n for i, n in enumerate(shape) if i != ca)


def check_first_pair(ref, dist, *, channel_axis, data_range, slices, crop_border, preset, y_channel, where):
    """Refuse options that the first readable pair shows cannot work for this data.

    A data set of one kind (images or volumes, one dtype) is assumed; the message names the
    file and the option to change.
    """
    spatial = spatial_shape(ref.shape, channel_axis)
    if slices is not None:
        if len(spatial) != 3:
            raise ConfigError(f"--slices {slices} scores volumes slice by slice, but {where} is a 2-D image "
                              f"of shape {ref.shape}; drop --slices")
    if crop_border and min(spatial) <= 2 * crop_border:
        raise ConfigError(f"--crop-border {crop_border} removes all of {where} (spatial shape {spatial}); "
                          f"use a border below {(min(spatial) + 1) // 2}")
    fixed = preset is not None and dr.rule_of(None, presets.PRESETS[preset]) != "dtype"
    if data_range is None and not fixed and (ref.dtype.kind == "f" or dist.dtype.kind == "f"):
        raise ConfigError(f"{where} holds floating-point data ({ref.dtype}), which has no natural range: pass "
                          "--data-range 1.0 for data in [0, 1], 255 for [0, 255], or a rule: 'ref' (the "
                          "reference's max - min) or 'pair' (the larger span of the two, as torchmetrics)")
    if y_channel and (channel_axis is None or ref.shape[channel_axis] < 3):
        raise ConfigError(f"--y-channel needs RGB images, but {where} has shape {ref.shape}; drop --y-channel")
