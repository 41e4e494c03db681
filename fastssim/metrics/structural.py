"""SSIM, its map, batches and slices, and DSSIM (MS-SSIM: `multiscale`; PSNR and MSE: `distances`,
re-exported here).

Each function has its arguments checked and turned into kernel views (``_arguments``), hands
them to the engine (`fastssim.kernels.engine`) and returns plain floats or arrays.
"""

import numpy as np

from .._types import ArrayLike, Backend, DataRange  # noqa: F401

from ..conventions import checks as v
from ..conventions import data_range as dr
from ..conventions import presets
from ._arguments import _doc, _means, _prepare, batch_axes_error, masked_values, window_mask
from ..kernels.engine import raise_if_nonfinite
from .distances import mse, mse_batch, psnr  # noqa: F401 - part of this module's public face

__all__ = ["ssim", "ssim_map", "ssim_batch", "dssim", "psnr", "mse", "mse_batch"]


@_doc
def ssim(x: ArrayLike, y: ArrayLike, *, data_range: DataRange = None, channel_axis: int | None = None,
         win_size: int = 11, sigma: float = 1.5, gaussian: bool = True, K1: float = 0.01, K2: float = 0.03,
         sample_covariance: bool = False, backend: Backend = "auto", mask: ArrayLike | None = None,
         preset: str | None = None, y_channel: bool = False, crop_border: int = 0) -> float:
    """Mean structural similarity of two images or volumes.

    Defaults are those of Wang et al. (2004): an 11-tap Gaussian window of
    sigma 1.5, K = (0.01, 0.03), population covariance, and the mean over the
    'valid' region (windows that lie wholly inside the image). The result
    equals ``skimage.metrics.structural_similarity(x, y, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=L)``.

    Parameters
    ----------
    x, y : array_like
        2-D images (H, W) or 3-D volumes (D, H, W) of one shape, plus a channel
        axis if ``channel_axis`` is set. Any real dtype, any memory layout.
    {options}
    mask : array_like of bool, optional
        Score a region (an inpainted hole, an organ): the mean of the SSIM map over the
        windows wholly inside the image that are centred on pixels where ``mask`` is true.
        The images' spatial shape, shared by the channels; computed by the fused kernels.

    Returns
    -------
    float
        The mean SSIM, in [-1, 1]; exactly 1.0 for identical images.

    Raises
    ------
    ValueError
        For mismatched shapes, wrong dimensionality, a window larger than an
        axis, NaN or Inf values, a missing ``data_range`` for float input, or
        invalid options.
    TypeError
        For bool, complex or non-numeric input.

    Notes
    -----
    Inputs of 32 bits or fewer are computed in float32 with float64
    accumulation of the mean; 64-bit input in float64 throughout. 3-D input
    uses the separable 3-D window (``win_size ** 3`` taps).

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> x = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)
    >>> fastssim.ssim(x, x)
    1.0
    >>> round(fastssim.ssim(x, 255 - x), 4) < 0
    True
    """
    if preset is not None and presets.get(preset).slices and mask is None and channel_axis is None and np.ndim(x) == 3:
        # fastMRI's evaluation: the mean SSIM of the slices along axis 0, one data range for the volume
        return float(ssim_batch(x, y, spatial_ndim=2, data_range=data_range, win_size=win_size, sigma=sigma,
                                gaussian=gaussian, K1=K1, K2=K2, sample_covariance=sample_covariance,
                                backend=backend, preset=preset, y_channel=y_channel,
                                crop_border=crop_border).mean())
    job = _prepare(
        x, y, batch=False, spatial_ndim=None, channel_axis=channel_axis, data_range=data_range,
        win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
        sample_covariance=sample_covariance, backend=backend, preset=preset, y_channel=y_channel,
        crop_border=crop_border, keep_half=True)
    if mask is None:
        means, _ = _means(job)
        terms = means[..., 0]
        value = terms.sum() / terms.size  # np.mean's sum and division, without its 5 us of checks
    else:
        means, _ = _means(job, mask5=window_mask(mask, job, batch=False))
        value = masked_values(means).mean()
    raise_if_nonfinite(value, job.x, job.y, K1, K2)
    return float(value)


def ssim_transformed(t, *, backend="auto"):
    """`ssim` of a pair already through `fastssim.conventions.resolve.transform` (a
    ``Transformed``, with the default window and constants): the batch scorer transforms a pair
    once, so that its SSIM, PSNR and the others read the same images and the same data range.
    Returns ``(value, convention)``."""
    # the call's window options at their defaults (checked as such); the preset's own are in t
    job = _prepare(t.x, t.y, batch=False, spatial_ndim=None, channel_axis=t.channel_axis, data_range=t.data_range,
                   backend=backend, preset=t.preset, keep_half=True, transformed=t, K1=0.01, K2=0.03,
                   **presets.WINDOW_DEFAULTS)
    means, _ = _means(job)
    value = means[..., 0].mean()
    raise_if_nonfinite(value, job.x, job.y, 0.01, 0.03)
    return float(value), job.convention


@_doc
def ssim_map(x: ArrayLike, y: ArrayLike, *, mode: str = "same", data_range: DataRange = None,
             channel_axis: int | None = None, win_size: int = 11, sigma: float = 1.5, gaussian: bool = True,
             K1: float = 0.01, K2: float = 0.03, sample_covariance: bool = False,
             backend: Backend = "auto") -> np.ndarray:
    """The per-pixel (per-voxel) SSIM map.

    Parameters
    ----------
    x, y : array_like
        As for `ssim`.
    mode : {'same', 'valid'}
        'same': the map has the input's shape; near the borders the images are
        extended by reflection (scipy's 'reflect'), so it equals the map of
        ``skimage.metrics.structural_similarity(..., full=True)``. 'valid':
        only the windows wholly inside the image; each spatial axis shrinks by
        ``win_size - 1``, and the map's mean is `ssim`.
    {options}

    Returns
    -------
    ndarray
        float32 (float64 for 64-bit input), with the channel axis, if any,
        where it was.

    Raises
    ------
    ValueError, TypeError
        As for `ssim`, and for an unknown ``mode``.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> x = np.linspace(0, 1, 32 * 32).reshape(32, 32)
    >>> fastssim.ssim_map(x, x, data_range=1.0).shape
    (32, 32)
    >>> fastssim.ssim_map(x, x, data_range=1.0, mode="valid").shape
    (22, 22)
    """
    if mode not in ("same", "valid"):
        raise ValueError(f"mode must be 'same' or 'valid', got {mode!r}")
    if v.is_device_array(x) or v.is_device_array(y):
        raise TypeError("ssim_map takes host (NumPy) arrays; for GPU arrays use ssim, ssim_batch or "
                        "ssim_slices, or copy the arrays to the host")
    job = _prepare(
        x, y, batch=False, spatial_ndim=None, channel_axis=channel_axis, data_range=data_range,
        win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
        sample_covariance=sample_covariance, backend=backend, keep_half=True)
    # 'same': the images read as if extended by reflection (no padded copy on the CPU)
    means, smap = _means(job, want_map=True, pad=win_size // 2 if mode == "same" else 0)
    raise_if_nonfinite(means[..., 0].mean(), job.x, job.y, K1, K2)
    return v.from_5d(smap, job.nd, job.ca)


@_doc
def ssim_batch(x: ArrayLike, y: ArrayLike, *, spatial_ndim: int = 2, data_range: DataRange = None,
               channel_axis: int | None = None, win_size: int = 11, sigma: float = 1.5, gaussian: bool = True,
               K1: float = 0.01, K2: float = 0.03, sample_covariance: bool = False, backend: Backend = "auto",
               preset: str | None = None, y_channel: bool = False, crop_border: int = 0,
               mask: ArrayLike | None = None) -> np.ndarray:
    """SSIM of many pairs in one call, in parallel across pairs and within them.

    Parameters
    ----------
    x, y : array_like
        Stacks of pairs along axis 0: (N, H, W), (N, D, H, W), or with a
        channel axis, e.g. (N, H, W, 3) with ``channel_axis=-1``.
    spatial_ndim : {2, 3}
        Spatial axes per pair.
    {options}
    mask : array_like of bool, optional
        As for `ssim`: one mask for every pair (the spatial shape) or one per pair (N, ...).

    Returns
    -------
    ndarray, float64, (N,)
        ``ssim(x[i], y[i], ...)`` for every i.

    Raises
    ------
    ValueError, TypeError
        As for `ssim`; a pair with NaN or Inf is named by its index.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> rng = np.random.default_rng(0)
    >>> x = rng.integers(0, 256, (4, 32, 32), dtype=np.uint8)
    >>> s = fastssim.ssim_batch(x, x[::-1])
    >>> s.shape, float(s[0]) == fastssim.ssim(x[0], x[3])
    ((4,), True)

    Notes
    -----
    A data rule, ``data_range="pair"`` or ``"ref"``, scores every pair as its own call with its
    own range (``max(ptp(x[i]), ptp(y[i]))``, or ``ptp(x[i])``): with a data-driven preset
    (``torchmetrics``) and no ``data_range``, the range comes from the whole batch, as torchmetrics
    computes it (so one pair's score depends on the others). ``"per-pair"``, the old spelling of
    ``"pair"``, still works, with a DeprecationWarning.
    """
    return _batch(x, y, spatial_ndim=spatial_ndim, data_range=data_range, channel_axis=channel_axis,
                  win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
                  sample_covariance=sample_covariance, backend=backend, preset=preset, y_channel=y_channel,
                  crop_border=crop_border, mask=mask)


def _batch(x, y, *, spatial_ndim, data_range, channel_axis, win_size, sigma, gaussian, K1, K2, sample_covariance,
           backend, preset, y_channel, crop_border, mask, empty_ok=False):
    """`ssim_batch`; with ``empty_ok`` a pair whose mask selects no window is masked out of the
    returned masked array instead of refused."""
    if spatial_ndim not in (2, 3):
        raise ValueError(f"spatial_ndim must be 2 or 3, got {spatial_ndim!r}")
    rule = dr.check(data_range)
    if dr.needs_data(rule):
        if mask is not None:
            raise ValueError(f"data_range={data_range!r} and mask= are not combined; score the pairs one by one")
        return _pair_by_pair(ssim, x, y, spatial_ndim, rule, preset, dict(
            channel_axis=channel_axis, win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
            sample_covariance=sample_covariance, backend=backend, y_channel=y_channel, crop_border=crop_border))
    job = _prepare(
        x, y, batch=True, spatial_ndim=spatial_ndim, channel_axis=channel_axis,
        data_range=data_range, win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
        sample_covariance=sample_covariance, backend=backend, preset=preset, y_channel=y_channel,
        crop_border=crop_border, keep_half=True)
    if mask is None:
        means, _ = _means(job)
        values = means[..., 0].mean(axis=1)
    else:
        means, _ = _means(job, mask5=window_mask(mask, job, batch=True))
        if empty_ok:
            empty = (means[..., 1] == 0).all(axis=1)
            values = np.where(empty, 0.0, means[..., 0].mean(axis=1))
            raise_if_nonfinite(values, job.x, job.y, K1, K2)
            return np.ma.masked_array(values, mask=empty)
        values = masked_values(means).mean(axis=1)
    raise_if_nonfinite(values, job.x, job.y, K1, K2)
    return values


def _pair_by_pair(single, x, y, spatial_ndim, data_range, preset, options):
    """A data rule (``'ref'``, ``'pair'``, checked): every pair of a batch scored as its own call,
    with its own range."""
    rule = data_range
    if v.is_device_array(x) or v.is_device_array(y):
        raise TypeError(f"data_range={rule!r} takes host (NumPy) arrays")
    x, y = v.check_pair(x, y)
    if x.ndim - (options["channel_axis"] is not None) != spatial_ndim + 1:
        raise batch_axes_error(spatial_ndim, options["channel_axis"] is not None, x.shape)
    # the preset's own rule (torchmetrics' 'pair') is left to the preset, which applies it per scale
    own = preset is not None and dr.rule_of(None, presets.get(preset)) == rule
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        try:
            rng = None if own else dr.resolve(x[i], y[i], rule)
            out[i] = single(x[i], y[i], data_range=rng, preset=preset, **options)
        except ValueError as e:
            raise ValueError(f"pair {i}: {e}") from None
    return out


@_doc
def dssim(x: ArrayLike, y: ArrayLike, *, data_range: DataRange = None, channel_axis: int | None = None,
          win_size: int = 11, sigma: float = 1.5, gaussian: bool = True, K1: float = 0.01, K2: float = 0.03,
          sample_covariance: bool = False, backend: Backend = "auto", preset: str | None = None,
          y_channel: bool = False, crop_border: int = 0) -> float:
    """Structural dissimilarity, ``(1 - SSIM) / 2``, in [0, 1].

    Parameters
    ----------
    x, y : array_like
        As for `ssim`.
    {options}

    Returns
    -------
    float
        ``(1 - SSIM) / 2``: 0 for identical images.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> x = np.zeros((16, 16), np.uint8)
    >>> fastssim.dssim(x, x)
    0.0
    """
    s = ssim(x, y, data_range=data_range, channel_axis=channel_axis, win_size=win_size,
             sigma=sigma, gaussian=gaussian, K1=K1, K2=K2, sample_covariance=sample_covariance,
             backend=backend, preset=preset, y_channel=y_channel, crop_border=crop_border)
    return (1.0 - s) / 2.0
