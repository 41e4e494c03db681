"""MS-SSIM (Wang, Simoncelli and Bovik, 2003): one image, a batch, the slices of a volume,
in Wang's convention or another library's (``preset=``).

The arguments are checked by ``_arguments._prepare``, as for SSIM; the scales are computed by
``kernels.engine_ms.ms_ssim_means`` (Wang's convention) or ``kernels.engine_ms`` (the others).
"""

from collections.abc import Sequence

import numpy as np

from .._types import ArrayLike, Backend, DataRange  # noqa: F401
from ..conventions import checks as v
from ..conventions import data_range as dr
from ..conventions import presets
from ..kernels.engine import kernel_constants, raise_if_nonfinite
from ..kernels.engine_ms import CONVENTIONS, WANG, ms_ssim_convention, ms_ssim_means, scales_that_fit
from ._arguments import F, _doc, _prepare
from .slices import _slice_views
from .structural import _pair_by_pair

__all__ = ["ms_ssim", "ms_ssim_batch", "ms_ssim_slices", "MS_SSIM_WEIGHTS"]

#: Wang, Simoncelli and Bovik (2003): the exponents of the five scales.
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


_MS_WEIGHTS_DOC = """\
    weights : sequence of float, optional
        One exponent per scale; default Wang et al.'s five,
        ``(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)``.
"""

_MS_NOTES_DOC = """\
    Notes
    -----
    At each scale but the last the mean contrast-structure term
    ``(2 vxy + C2) / (vx + vy + C2)`` is taken, at the last scale the mean SSIM;
    MS-SSIM is the product of these terms raised to the weights, per channel,
    then averaged over channels. Between scales both images are halved by 2x2
    (for volumes 2x2x2) block means. This equals Wang's ``msssim.m`` and
    pytorch_msssim on even sizes. On an odd size the last sample is averaged with
    itself (``msssim.m``'s symmetric border; TensorFlow pads the same way), so the
    half-size image has ``ceil(n / 2)`` samples; pytorch_msssim pads with zeros
    there instead. A negative term is clamped to 0 before the power, as
    pytorch_msssim and TensorFlow do, so MS-SSIM is never NaN for finite input
    (``msssim.m`` would return a complex number).

"""


def _ms(f: F) -> F:
    f.__doc__ = (f.__doc__ or "").replace("    {ms}\n", _MS_WEIGHTS_DOC).replace("    {ms_notes}\n", _MS_NOTES_DOC)
    return _doc(f)


def _ms_values(x, y, batch, spatial_ndim, weights, channel_axis, data_range, win_size, sigma,
               gaussian, K1, K2, sample_covariance, backend, preset, y_channel, crop_border):
    levels = v.check_level_weights(weights)
    conv = CONVENTIONS[presets.get(preset).ms_convention] if preset is not None else WANG
    # float16 stays float16 for Wang's MS-SSIM: the SSIM kernel and the halving decode it row by
    # row (the other conventions pad and crop on the host first, so they take a float32 copy)
    job = _prepare(x, y, batch=batch, spatial_ndim=spatial_ndim, channel_axis=channel_axis,
                   data_range=data_range, win_size=win_size, sigma=sigma, gaussian=gaussian,
                   K1=K1, K2=K2, sample_covariance=sample_covariance, backend=backend,
                   preset=preset, y_channel=y_channel, crop_border=crop_border, ms=True,
                   keep_half=conv is WANG)
    k = len(job.weights)
    if conv is WANG:
        v.check_ms_extent(job.x5.shape, k, job.nd, len(levels))
        per = ms_ssim_means(job.x5, job.y5, job.nd, job.weights, job.consts, levels,
                            backend=job.backend, devices=job.devices)
        return job, per.mean(axis=1)
    levels = levels[:scales_that_fit(job.x5.shape, k, job.nd, len(levels), conv)]
    v.check_ms_extent(job.x5.shape, k, job.nd, len(levels), floor=conv.downsample == "floor")
    def consts_at(xs, ys):  # torchmetrics recomputes a data-driven range from every scale's images
        return kernel_constants(dr.resolve(xs, ys, "pair"), K1, K2, float(job.consts[2]), job.consts.dtype)

    per_scale = data_range is None and dr.needs_data(None, presets.get(preset))
    per = ms_ssim_convention(job.x5, job.y5, job.nd, job.weights, job.consts, levels, conv,
                             consts_at=consts_at if per_scale else None, backend=job.backend)
    return job, per if per.ndim == 1 else per.mean(axis=1)


@_ms
def ms_ssim(x: ArrayLike, y: ArrayLike, *, data_range: DataRange = None, weights: Sequence[float] = MS_SSIM_WEIGHTS,
            channel_axis: int | None = None, win_size: int = 11, sigma: float = 1.5, gaussian: bool = True,
            K1: float = 0.01, K2: float = 0.03, sample_covariance: bool = False, backend: Backend = "auto",
            preset: str | None = None, y_channel: bool = False, crop_border: int = 0) -> float:
    """Multi-scale structural similarity (Wang, Simoncelli and Bovik, 2003).

    Parameters
    ----------
    x, y : array_like
        2-D images or 3-D volumes, as for `ssim`. With the default five scales
        and an 11-tap window every spatial axis must be at least 161 long.
    {ms}
    {options}

    Returns
    -------
    float
        In [0, 1]; exactly 1.0 for identical images.

    Raises
    ------
    ValueError, TypeError
        As for `ssim`, and for images too small for the coarsest scale.

    {ms_notes}
    Examples
    --------
    >>> import numpy as np, fastssim
    >>> x = np.random.default_rng(0).integers(0, 256, (176, 176), dtype=np.uint8)
    >>> fastssim.ms_ssim(x, x)
    1.0
    """
    job, values = _ms_values(x, y, False, None, weights, channel_axis, data_range, win_size, sigma,
                             gaussian, K1, K2, sample_covariance, backend, preset, y_channel, crop_border)
    raise_if_nonfinite(values[0], job.x, job.y, K1, K2)
    return float(values[0])


@_ms
def ms_ssim_batch(x: ArrayLike, y: ArrayLike, *, spatial_ndim: int = 2, data_range: DataRange = None,
                  weights: Sequence[float] = MS_SSIM_WEIGHTS, channel_axis: int | None = None, win_size: int = 11,
                  sigma: float = 1.5, gaussian: bool = True, K1: float = 0.01, K2: float = 0.03,
                  sample_covariance: bool = False, backend: Backend = "auto", preset: str | None = None,
                  y_channel: bool = False, crop_border: int = 0) -> np.ndarray:
    """MS-SSIM of many pairs in one call (axis 0 indexes pairs), as `ssim_batch`.

    Parameters
    ----------
    x, y : array_like
        Stacks of pairs along axis 0.
    spatial_ndim : {2, 3}
        Spatial axes per pair.
    {ms}
    {options}

    Returns
    -------
    ndarray, float64, (N,)
        Each pair's MS-SSIM.

    {ms_notes}
    Examples
    --------
    >>> import numpy as np, fastssim
    >>> x = np.random.default_rng(0).integers(0, 256, (2, 176, 176), dtype=np.uint8)
    >>> fastssim.ms_ssim_batch(x, x).tolist()
    [1.0, 1.0]
    """
    if spatial_ndim not in (2, 3):
        raise ValueError(f"spatial_ndim must be 2 or 3, got {spatial_ndim!r}")
    rule = dr.check(data_range)
    if dr.needs_data(rule):  # see ssim_batch's notes
        return _pair_by_pair(ms_ssim, x, y, spatial_ndim, rule, preset, dict(
            weights=weights, channel_axis=channel_axis, win_size=win_size, sigma=sigma, gaussian=gaussian,
            K1=K1, K2=K2, sample_covariance=sample_covariance, backend=backend, y_channel=y_channel,
            crop_border=crop_border))
    job, values = _ms_values(x, y, True, spatial_ndim, weights, channel_axis, data_range, win_size,
                             sigma, gaussian, K1, K2, sample_covariance, backend, preset, y_channel,
                             crop_border)
    raise_if_nonfinite(values, job.x, job.y, K1, K2)
    return values


@_ms
def ms_ssim_slices(x: ArrayLike, y: ArrayLike, *, axis: int = 0, data_range: DataRange = None,
                   weights: Sequence[float] = MS_SSIM_WEIGHTS, channel_axis: int | None = None, win_size: int = 11,
                   sigma: float = 1.5, gaussian: bool = True, K1: float = 0.01, K2: float = 0.03,
                   sample_covariance: bool = False, backend: Backend = "auto", preset: str | None = None,
                   y_channel: bool = False, crop_border: int = 0) -> np.ndarray:
    """2-D MS-SSIM of every slice of two volumes along ``axis``, as `ssim_slices`.

    Parameters
    ----------
    x, y : array_like
        3-D volumes (plus a channel axis if set).
    axis : int
        The axis to slice along.
    {ms}
    {options}

    Returns
    -------
    ndarray, float64, (x.shape[axis],)
        Each slice's MS-SSIM.

    {ms_notes}
    Examples
    --------
    >>> import numpy as np, fastssim
    >>> v = np.random.default_rng(0).random((3, 176, 176))
    >>> fastssim.ms_ssim_slices(v, v, data_range=1.0).tolist()
    [1.0, 1.0, 1.0]
    """
    xs, ys, ca = _slice_views(x, y, axis, channel_axis, "ms_ssim_slices",
                              data_range is not None or preset is not None)
    return ms_ssim_batch(xs, ys, spatial_ndim=2, data_range=data_range, weights=weights,
                         channel_axis=ca, win_size=win_size, sigma=sigma, gaussian=gaussian,
                         K1=K1, K2=K2, sample_covariance=sample_covariance, backend=backend,
                         preset=preset, y_channel=y_channel, crop_border=crop_border)
