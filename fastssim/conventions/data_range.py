"""The data range L: one vocabulary, checked in one place, resolved in one place.

Every entry (the array API, ``score_pairs``, the CLI, Dask, torch, the drop-ins) passes what the
user gave to `check`, and the arrays and that value to `resolve`; nothing else interprets a range.

What a caller may give
----------------------
- a positive finite number: L itself;
- ``None``: the preset's rule when it has one (``torchmetrics``: ``'pair'``; ``sewar``:
  ``'dtype-max'``; ``matlab-ipt``: ``'dtype-or-one'``), else ``'dtype'``;
- ``'dtype'``: the integer dtype's range (``iinfo.max - iinfo.min``); refused for float input;
- ``'ref'``: the reference's (``x``'s) ``max - min``;
- ``'pair'``: the larger of the two images' ``max - min`` (torchmetrics' rule). In a batch call
  each pair gets its own; with a data-driven preset and ``None``, the whole batch gets one, as
  torchmetrics computes it.

``'per-pair'`` (the old spelling of ``'pair'`` in ``ssim_batch``) is accepted with a
DeprecationWarning. The presets' own rules (``'dtype-max'``, ``'dtype-or-one'``) and scikit-image's
(``'skimage'``, for its drop-in) are resolved here too, but are not for users to pass.
"""

import math
import numbers
import warnings

import numpy as np

from .._deprecation import deprecated

#: The rules a user may pass (besides a number and None).
RULES = ("dtype", "ref", "pair")
#: Old spellings, each with the rule it means.
ALIASES = {"per-pair": "pair"}
#: Rules whose value depends on the data, not only on the dtype.
DATA_RULES = ("ref", "pair", "ref-max")

def check(value, *, error=ValueError, name="data_range", text=False):
    """``value`` as a float, a rule from `RULES`, or None; rules in any letter case, and with
    ``text`` (a command line's or a run's options) strings that spell a number become floats.

    Raises
    ------
    error
        (ValueError by default; ``ConfigError`` for a run, whose messages say ``name`` "data
        range") for anything else, naming what to pass.
    TypeError
        With ``error=ValueError``, for a value that is neither a number nor a string.
    """
    if value is None:
        return None
    rules = ", ".join(RULES)
    if isinstance(value, str):
        key = value.strip().lower()
        if key in ALIASES:
            deprecated(f"data_range={value!r} is now spelled {ALIASES[key]!r} (the same rule, in every function "
                       "and on the command line)")
            return ALIASES[key]
        if key in RULES:
            return key
        try:
            number = float(key)
        except ValueError:
            raise error(f"{name} must be one of {rules} or a positive number, got {value!r}") from None
        if not text:  # a number as text: the API takes numbers as numbers
            raise (TypeError if error is ValueError else error)(
                f"{name} must be a real number or one of {rules}, got {value!r}")
        value = number
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        if error is ValueError:
            raise TypeError(f"{name} must be a real number or one of {rules}, got {value!r}")
        raise error(f"{name} must be one of {rules} or a positive number, got {value!r}")
    given, value = value, float(value)
    if not (math.isfinite(value) and value > 0 and math.isfinite(value * value)):
        raise error(f"{name} must be a positive finite number, got {given!r}: the max - min your data can take "
                    "(1.0 for [0, 1], 255 for 8-bit data)")
    return value


def rule_of(value, preset=None):
    """What ``value`` (checked) means once the preset is known: a number or a rule name."""
    if value is not None:
        return value
    rule = getattr(preset, "data_range", "dtype")
    return rule if isinstance(rule, str) else float(rule)


def _span(a):
    return float(np.ptp(a)) if a.size else 0.0


def resolve(x, y, value, preset=None):
    """The data range L (a float) of the images ``x`` (the reference) and ``y`` under ``value``
    (checked by `check`) and the ``preset`` (a `Preset` or None).

    Raises
    ------
    ValueError
        For the dtype rule on float input or on two dtypes, and for a data rule that gives 0
        (constant images) or NaN (non-finite data).
    """
    rule = rule_of(value, preset)
    if not isinstance(rule, str):
        return rule
    if rule == "dtype":
        if x.dtype.kind == "f" or y.dtype.kind == "f":
            raise ValueError(
                f"data_range is required for floating-point input (got {x.dtype} and {y.dtype}): "
                "pass data_range=1.0 for images scaled to [0, 1], data_range=255.0 for "
                "[0, 255], the max - min of the values your data can take, or a rule: 'ref' (the "
                "reference's max - min) or 'pair' (the larger span of the two, as torchmetrics)"
            )
        if x.dtype.newbyteorder("=") != y.dtype.newbyteorder("="):
            raise ValueError(
                f"x is {x.dtype} and y is {y.dtype}, whose natural ranges differ; "
                "pass data_range= explicitly"
            )
        info = np.iinfo(x.dtype)
        return float(info.max) - float(info.min)
    if rule == "ref-max":  # fastMRI: the reference's (ground truth volume's) maximum
        top = float(np.max(x)) if x.size else 0.0
        if not math.isfinite(top):
            raise ValueError("the reference holds NaN or Inf, so its maximum (the data range) is undefined")
        if top <= 0:
            raise ValueError(f"the reference's maximum is {top:g}, so the data range 'ref-max' (fastMRI's "
                             "gt.max()) is not positive; pass a number")
        return top
    if rule in DATA_RULES:
        span = _span(x) if rule == "ref" else max(_span(x), _span(y))
        if not math.isfinite(span):
            raise ValueError("the data hold NaN or Inf, so their span (the data range) is undefined")
        if span == 0:
            what = "the reference is constant" if rule == "ref" else "both images are constant"
            raise ValueError(f"{what}, so the data range {rule!r} (max - min) is 0; pass a number")
        return span
    if rule == "dtype-max":  # sewar: the integer dtype's max, 1.0 for float input
        return float(np.iinfo(x.dtype).max) if x.dtype.kind in "iu" else 1.0
    if rule == "dtype-or-one":  # MATLAB's diff(getrangefromclass(A))
        if x.dtype.kind in "iu":
            info = np.iinfo(x.dtype)
            return float(info.max) - float(info.min)
        return 1.0
    if rule == "skimage":
        return _skimage(x, y)
    raise ValueError(f"unknown data range rule {rule!r}")


def _skimage(im1, im2):
    """scikit-image's rule: the range of ``im1``'s integer dtype, with its warnings when
    the dtypes differ or are integers other than uint8 (its messages, for its drop-in)."""
    if im1.dtype.kind == "f" or im2.dtype.kind == "f":
        raise ValueError("Since image dtype is floating point, you must specify the data_range parameter.")
    if im1.dtype != im2.dtype:
        warnings.warn("Inputs have mismatched dtypes. Setting data_range based on im1.dtype.",
                      UserWarning, stacklevel=4)
    info = np.iinfo(im1.dtype)
    data_range = float(info.max) - float(info.min)
    if im1.dtype != np.uint8:
        warnings.warn(f"Setting data_range based on im1.dtype. data_range = {data_range:.0f}. "
                      "Please specify data_range explicitly to avoid mistakes.", UserWarning, stacklevel=4)
    return data_range


def needs_data(value, preset=None):
    """Whether ``value`` under ``preset`` reads the pixel values (so a batch scored in one call
    would give every pair the batch's range)."""
    return rule_of(value, preset) in DATA_RULES


def recorded(value):
    """How a run's parameters record ``value``: the number, or the rule's name (None: 'dtype',
    meaning the preset's rule or the dtype's)."""
    return "dtype" if value is None else value


def low_range_warning(ref, dist, where, fraction):
    """The warning for wide-integer data (16 bits and more) that span less than ``fraction`` of
    their dtype's range, which the 'dtype' rule would use (scores near 1), else None."""
    if ref.dtype.kind not in "ui" or ref.dtype.itemsize < 2 or ref.dtype != dist.dtype:
        return None
    full = resolve(ref, dist, "dtype")
    lo, hi = min(ref.min(), dist.min()), max(ref.max(), dist.max())
    if (float(hi) - float(lo)) >= fraction * full:
        return None
    return (f"{where} ({ref.dtype}) spans {lo}-{hi}, {100 * (float(hi) - float(lo)) / full:.1f}% of the "
            f"dtype's range {full:g} that SSIM and PSNR use by default: scores come out near 1; if the data "
            "cannot exceed a smaller range (e.g. 12-bit: 4095), pass --data-range NUMBER, or 'ref'/'pair' "
            "for each pair's own span")
