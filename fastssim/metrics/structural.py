"""SSIM, its map, batches and slices, and DSSIM (MS-SSIM: `multiscale`; PSNR and MSE: `distances`,
re-exported here).

Each function has its arguments checked and turned into kernel views (``_arguments``), hands
them to the engine (`fastssim.kernels.engine`) and returns plain floats or arrays.
"""

import numpy as np

from ..conventions import checks as v
from ..conventions import presets
from ._arguments import _doc, _means, _prepare, batch_axes_error, masked_values, window_mask
from ..kernels.engine import raise_if_nonfinite
from .distances import mse, mse_batch, psnr  # noqa: F401 - part of this module's public face

__all__ = ["ssim", "ssim_map", "ssim_batch", "ssim_slices", "dssim", "psnr", "mse", "mse_batch"]

@_doc
def ssim(x, y, *, data_range=None, channel_axis=None, win_size=11, sigma=1.5, gaussian=True,
         K1=0.01, K2=0.03, sample_covariance=False, backend="auto", mask=None,
         preset=None, y_channel=False, crop_border=0):
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
    job = _prepare(
        x, y, batch=False, spatial_ndim=None, channel_axis=channel_axis, data_range=data_range,
        win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
        sample_covariance=sample_covariance, backend=backend, preset=preset, y_channel=y_channel,
        crop_border=crop_border, keep_half=True)
    if mask is None:
        means, _ = _means(job)
        value = means[..., 0].mean()
    else:
        means, _ = _means(job, mask5=window_mask(mask, job, batch=False))
        value = masked_values(means).mean()
    raise_if_nonfinite(value, job.x, job.y, K1, K2)
    return float(value)


@_doc
def ssim_map(x, y, *, mode="same", data_range=None, channel_axis=None, win_size=11, sigma=1.5,
             gaussian=True, K1=0.01, K2=0.03, sample_covariance=False, backend="auto"):
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
def ssim_batch(x, y, *, spatial_ndim=2, data_range=None, channel_axis=None, win_size=11,
               sigma=1.5, gaussian=True, K1=0.01, K2=0.03, sample_covariance=False,
               backend="auto", preset=None, y_channel=False, crop_border=0, mask=None):
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
    ``data_range="per-pair"`` scores every pair as its own call: with a data-driven preset
    (``torchmetrics``) each pair's range comes from that pair alone, where by default it comes
    from the whole batch, as torchmetrics computes it (so one pair's score depends on the
    others); without one, each pair's range is ``max(ptp(x[i]), ptp(y[i]))``.
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
    if isinstance(data_range, str):
        if mask is not None:
            raise ValueError("data_range='per-pair' and mask= are not combined; score the pairs one by one")
        return _pair_by_pair(ssim, x, y, spatial_ndim, data_range, preset, dict(
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


@_doc
def ssim_slices(x, y, *, axis=0, data_range=None, channel_axis=None, win_size=11, sigma=1.5,
                gaussian=True, K1=0.01, K2=0.03, sample_covariance=False, backend="auto",
                preset=None, y_channel=False, crop_border=0, mask=None):
    """2-D SSIM of every slice of two volumes along ``axis``.

    Parameters
    ----------
    x, y : array_like
        3-D volumes (plus a channel axis if ``channel_axis`` is set).
    axis : int
        The axis to slice along. Default 0.
    {options}
    mask : array_like of bool, optional
        A region of the volume (its spatial shape): each slice is scored over the windows
        centred on its masked pixels, as `ssim` does.

    Returns
    -------
    ndarray, float64, (x.shape[axis],)
        ``ssim(np.take(x, i, axis), np.take(y, i, axis), ...)`` for every i. With ``mask``, a
        ``numpy.ma.MaskedArray``: slices whose mask selects no window (an organ absent from
        them) are masked out, so ``.mean()`` is the mean over the slices that hold the region;
        a mask that selects no window in any slice is a ValueError.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> vol = np.random.default_rng(1).random((16, 24, 24))
    >>> fastssim.ssim_slices(vol, vol, axis=2, data_range=1.0).shape
    (24,)
    """
    xs, ys, ca = _slice_views(x, y, axis, channel_axis, "ssim_slices",
                              data_range is not None or preset is not None)
    opts = dict(spatial_ndim=2, data_range=data_range, channel_axis=ca, win_size=win_size, sigma=sigma,
                gaussian=gaussian, K1=K1, K2=K2, sample_covariance=sample_covariance, backend=backend,
                preset=preset, y_channel=y_channel, crop_border=crop_border)
    if mask is None:
        return ssim_batch(xs, ys, **opts)
    m = np.asarray(mask)
    spatial = tuple(n for i, n in enumerate(np.shape(x)) if channel_axis is None
                    or i != v.normalise_axis(channel_axis, np.ndim(x), "channel_axis"))
    if m.shape != spatial:
        raise ValueError(f"mask shape {m.shape} does not match the volumes' spatial shape {spatial}")
    ax = v.normalise_axis(axis, np.ndim(x), "axis")
    ax -= channel_axis is not None and v.normalise_axis(channel_axis, np.ndim(x), "channel_axis") < ax
    values = _batch(xs, ys, mask=np.moveaxis(m, ax, 0), empty_ok=True, **opts)
    if values.mask.all():
        raise ValueError("the mask selects no window inside any slice: windows are centred on masked pixels at "
                         "least win_size // 2 from every border; grow the mask or use a smaller win_size")
    return values


def _pair_by_pair(single, x, y, spatial_ndim, data_range, preset, options):
    """``data_range="per-pair"``: every pair of a batch scored as its own call."""
    if data_range != "per-pair":
        raise ValueError(f"data_range must be a number, None or 'per-pair', got {data_range!r}")
    if v.is_device_array(x) or v.is_device_array(y):
        raise TypeError("data_range='per-pair' takes host (NumPy) arrays")
    x, y = v.check_pair(x, y)
    if x.ndim - (options["channel_axis"] is not None) != spatial_ndim + 1:
        raise batch_axes_error(spatial_ndim, options["channel_axis"] is not None, x.shape)
    data_driven = preset is not None and presets.get(preset).data_range == "data"
    out = np.empty(x.shape[0])
    for i in range(x.shape[0]):
        rng = None if data_driven else presets.data_driven_range(x[i], y[i])
        try:
            out[i] = single(x[i], y[i], data_range=rng, preset=preset, **options)
        except ValueError as e:
            raise ValueError(f"pair {i}: {e}") from None
    return out


def _slice_views(x, y, axis, channel_axis, name, range_given):
    """Views of two volumes with the slicing axis first, and the channel axis of a slice."""
    xd, yd = x, y
    x, y = v.check_pair(x, y, range_given=range_given)
    ndim = x.ndim
    if ndim - (channel_axis is not None) != 3:
        raise ValueError(
            f"{name} expects 3-D volumes (plus a channel axis if set), got shape {x.shape}"
        )
    ax = v.normalise_axis(axis, ndim, "axis")
    ca = None
    if channel_axis is not None:
        ca = v.normalise_axis(channel_axis, ndim, "channel_axis")
        if ca == ax:
            raise ValueError(f"axis and channel_axis are the same axis ({axis}); slice along another")
        ca = ca - 1 if ca > ax else ca
    xs = np.moveaxis(x, ax, 0)
    ys = np.moveaxis(y, ax, 0)
    if v.is_device_array(xd) and v.is_device_array(yd):
        from ..kernels.cuda.ssim import device_view

        xs = device_view(xd, xs)
        ys = device_view(yd, ys)
    return xs, ys, ca


@_doc
def dssim(x, y, *, data_range=None, channel_axis=None, win_size=11, sigma=1.5, gaussian=True,
          K1=0.01, K2=0.03, sample_covariance=False, backend="auto",
          preset=None, y_channel=False, crop_border=0):
    """Structural dissimilarity, ``(1 - SSIM) / 2``, in [0, 1].

    Parameters
    ----------
    x, y : array_like
        As for `ssim`.
    {options}

    Returns
    -------
    float

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
