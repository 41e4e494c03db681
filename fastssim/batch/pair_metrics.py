"""The metrics of one pair of arrays, each computed on its own so that one failing metric leaves
the others: the row ``score_arrays`` returns, before the pair's identity and status are added
(``score.finish_row``). Video pairs call it once per frame and plane (``video.py``).
"""

import os

import numpy as np

from .. import config as cfg
from ..metrics import multiscale, structural
from ..conventions.resolve import convention, transform
from ..kernels.math import psnr_from_mse
from ..conventions import data_range as dr
from ..conventions.checks import ExtentError
from ..metrics.cwssim import cw_ssim
from ..metrics.distances import mse_ahead
from ..metrics.products import cosine_from_sums, l2_cosine_sums, l2_from_sums
from ..io import ReadError
from ..metrics.slices import ssim_slices
from ..metrics.three_ssim import three_ssim
from .options import DEFAULT_METRICS, METRICS


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
    return dr.low_range_warning(ref, dist, where, cfg.LOW_RANGE_FRACTION)


def empty_row(shape):
    """A row with no metric computed yet (without the pair's identity and status)."""
    row = {"shape": "x".join(map(str, shape)), "ssim_slices": None, "data_range": None, "ms_ssim_scales": None,
           "_warning": None}
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
        sums = l2_cosine_sums(x, y, backend=backend)
    except Exception as e:  # noqa: BLE001 - recorded per metric; the others go on
        for m in ("l2", "cosine"):
            if m in asked:
                row[f"{m}_error"] = _message(e)
        return
    if "l2" in asked:
        row["l2"] = l2_from_sums(sums)
    if "cosine" in asked:
        try:
            row["cosine"] = cosine_from_sums(sums)
        except ValueError as e:  # an all-zero image: the angle is undefined
            row["cosine_error"] = _message(e)


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


def ms_ssim_scaled(ref, dist, ms_scales="standard", slices=None, **kw):
    """``(MS-SSIM, scales used)``: Wang's five scales, or with ``ms_scales='auto'`` as many as the
    image allows (the first S of the five weights, renormalised to sum to 1; S >= 2, since one
    scale is plain SSIM).

    Raises
    ------
    ValueError
        The image is too small for the scales (for 'auto': for two).
    """
    def one(weights):
        if slices is not None:
            return float(multiscale.ms_ssim_slices(ref, dist, axis=slices, weights=weights, **kw).mean())
        return multiscale.ms_ssim(ref, dist, weights=weights, **kw)

    full = multiscale.MS_SSIM_WEIGHTS
    try:
        return one(full), len(full)
    except ExtentError as e:
        if ms_scales != "auto":
            raise ExtentError(f"{str(e).split('. Pass')[0]}; pass --ms-scales auto (ms_scales='auto') to use as many "
                              "scales as the image allows") from None
        last = e
    for s in range(len(full) - 1, 1, -1):
        w = np.asarray(full[:s]) / sum(full[:s])
        try:
            return one(tuple(float(x) for x in w)), s
        except ExtentError as e:
            last = e
    raise ExtentError(f"{str(last).split('. Pass')[0]}: too small for two scales, the fewest MS-SSIM has") from None


def score_arrays(ref, dist, *, data_range=None, slices=None, metrics=DEFAULT_METRICS, preset=None,
                 y_channel=False, crop_border=0, where="dist", channel_axis="auto", backend="auto",
                 ms_scales="standard", metrics_=None):
    """The requested metrics of one pair of arrays, as a row (without paths or status).

    Each metric is computed on its own: one that cannot be scored for this pair (an image
    smaller than MS-SSIM's pyramid, say) is null with its reason, and the others are kept.

    Parameters
    ----------
    ref, dist : ndarray
    data_range : float, 'ref', 'pair' or None
        A number; a rule computed per pair ('ref': the reference's max - min, 'pair':
        the larger of the two spans, as torchmetrics); None: the integer dtype's range
        (or the preset's rule). The value used is the row's ``data_range``: the pair is
        converted once (`conventions.resolve.transform`), so its SSIM and PSNR use one L.
    slices : int, optional
        Score 2-D SSIM per slice along this axis of a volume (``ssim_slices``);
        ``ssim`` is then their mean.
    metrics : tuple of str
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
    if metrics_ is not None:  # the old spelling
        from .._deprecation import deprecated

        deprecated("score_arrays(metrics_=...) is now score_arrays(metrics=...), as in score_pairs")
        metrics = metrics_
    if ref.shape != dist.shape:
        raise ValueError(f"shape mismatch: ref {ref.shape}, dist {dist.shape}")
    ca, volume = resolve_axes(ref, where, channel_axis)
    if slices is not None and not volume:
        raise ValueError(f"--slices needs volumes, got a 2-D image of shape {ref.shape}")
    conv = dict(preset=preset, y_channel=y_channel, crop_border=crop_border, backend=backend)
    row = empty_row(ref.shape)
    L = data_range
    if dr.needs_data(L):
        L = dr.resolve(ref, dist, L)
    elif L is None and preset is None:
        row["_warning"] = _low_range(ref, dist, where)

    def fail(names, e):
        for m in names:
            if m in metrics:
                row[f"{m}_error"] = _message(e)

    # the pair through its convention once: SSIM, PSNR, MSE and the others read these images, and
    # SSIM and PSNR one data range (MS-SSIM has its own pyramid convention)
    t = failed = None
    try:
        t = transform(ref, dist, channel_axis=ca, data_range=L, batch=False, preset=preset, y_channel=y_channel,
                      crop_border=crop_border)
    except Exception as e:  # noqa: BLE001 - the conversion failed: every metric that needs it says why
        failed = e
    pending = None
    if failed is None and ("psnr" in metrics or "mse" in metrics) and {"ssim", "dssim", "ms_ssim"} & set(metrics):
        pending = mse_ahead(t.x, t.y, backend)  # a first call: in the helper SSIM's first call starts
    if "ssim" in metrics or "dssim" in metrics:
        try:
            if failed is not None:
                raise failed
            if slices is not None:
                per = ssim_slices(ref, dist, axis=slices, data_range=L, channel_axis=ca, **conv)
                row["ssim_slices"] = per.tolist()
                value = float(per.mean())
            else:
                value, _ = structural.ssim_transformed(t, backend=backend)
            put_ssim(row, metrics, value)
        except Exception as e:  # noqa: BLE001 - recorded per metric; the others go on
            fail(("ssim", "dssim"), e)
    if "ms_ssim" in metrics:
        try:
            row["ms_ssim"], row["ms_ssim_scales"] = ms_ssim_scaled(ref, dist, ms_scales, slices, data_range=L,
                                                                   channel_axis=ca, **conv)
        except Exception as e:  # noqa: BLE001
            fail(("ms_ssim",), e)
    if failed is not None:  # the conversion PSNR, MSE, L2 and cosine need failed
        fail(("psnr", "mse", "l2", "cosine", "cw_ssim", "three_ssim"), failed)
        return row
    x, y, cx = t.x, t.y, t.channel_axis
    try:
        row["data_range"] = convention(t, L, K1=0.01, K2=0.03).L  # the L of the SSIM above
    except Exception as e:  # noqa: BLE001 - no range: PSNR cannot be computed
        fail(("psnr",), e)
    if "psnr" in metrics or "mse" in metrics:
        try:
            if pending is not None:
                pending.wait()
            put_mse(row, metrics, structural.mse(x, y, backend=backend))
        except Exception as e:  # noqa: BLE001
            fail(("psnr", "mse"), e)
    put_products(row, metrics, x, y, backend)
    put_planar(row, metrics, x, y, cx)
    return row
