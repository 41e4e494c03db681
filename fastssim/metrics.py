"""The public metric functions: SSIM, its map, batches and slices, DSSIM, PSNR, MSE
(MS-SSIM: ``multiscale``).

Each function checks its arguments (``_validate``), hands 5-D views to the
engine (``_engine``) and returns plain floats or arrays.
"""

import math

import numpy as np

from . import _validate as v
from . import presets
from ._engine import (
    grid_ssim_means,
    kernel_constants,
    pad_same,
    raise_if_nonfinite,
    resolve_backend,
    ssim_map_separable,
    ssim_means,
)
from ._math import grid_constants, window_weights
from .distances import mse, mse_batch, psnr  # noqa: F401 - part of this module's public face

__all__ = ["ssim", "ssim_map", "ssim_batch", "ssim_slices", "dssim", "psnr", "mse", "mse_batch"]

_MULTISCALE = ("ms_ssim", "ms_ssim_batch", "ms_ssim_slices", "MS_SSIM_WEIGHTS")


def __getattr__(name):
    """MS-SSIM moved to ``fastssim.multiscale``; ``fastssim.metrics.ms_ssim`` still finds it."""
    if name in _MULTISCALE:
        from . import multiscale

        return getattr(multiscale, name)
    raise AttributeError(f"module 'fastssim.metrics' has no attribute {name!r}")


_OPTIONS_DOC = """
    data_range : float, optional
        The range L of the data (max - min of the values it can take). Defaults
        to the range of an integer dtype (255 for uint8, 65535 for uint16);
        required for floating-point input.
    channel_axis : int, optional
        Axis of the image that holds channels (colour). SSIM is computed per
        channel and averaged. Counted among the axes of one image.
    win_size : int, optional
        Taps of the window along each spatial axis (odd). Default 11.
    sigma : float, optional
        Standard deviation of the Gaussian window. Default 1.5.
    gaussian : bool, optional
        Gaussian window (default) or uniform ``win_size`` window.
    K1, K2 : float, optional
        Stabilising constants, ``C1 = (K1 L)^2`` and ``C2 = (K2 L)^2``.
    sample_covariance : bool, optional
        Normalise (co)variances by ``N / (N - 1)`` with ``N = win_size ** ndim``,
        as scikit-image's ``use_sample_covariance=True``. Default False
        (population covariance, as Wang et al.).
    backend : {'auto', 'cpu', 'cuda'}, optional
        Where to compute. 'auto': the GPU for GPU arrays, and for inputs of 4 Mpx or
        more when a GPU is present; else the CPU.
    preset : str, optional
        Reproduce another implementation's numbers: 'wang' (the defaults), 'matlab',
        'matlab2009', 'skimage', 'tensorflow', 'torchmetrics', 'basicsr' (see
        ``fastssim.presets.PRESETS`` or ``fastssim presets``). A preset fixes the window,
        covariance, averaged region, data range and colour handling: leave those
        arguments at their defaults.
    y_channel : bool, optional
        Score the BT.601 luma (studio swing) of RGB input (``channel_axis`` must be set),
        as super-resolution papers do.
    crop_border : int, optional
        Drop this many pixels from each border first (super-resolution convention).
"""


def _doc(f):
    f.__doc__ = f.__doc__.replace("    {options}\n", _OPTIONS_DOC.lstrip("\n"))
    return v.accepts_tensors(f)


class _Job:
    """Checked inputs of one call: kernel views, parameters, and where to run."""

    __slots__ = ("x", "y", "x5", "y5", "ca", "nd", "weights", "consts", "backend", "devices", "grid", "raw")


def _prepare(x, y, *, batch, spatial_ndim, channel_axis, data_range, win_size, sigma,
             gaussian, K1, K2, sample_covariance, backend, preset=None, y_channel=False,
             crop_border=0, ms=False):
    """Checked 5-D kernel inputs and the kernel parameters."""
    aniso = None
    if preset == "torchmetrics" and isinstance(sigma, (tuple, list)):
        aniso, sigma = tuple(sigma), 1.5  # torchmetrics' per-axis sigma (checked below)
    v.check_options(win_size, sigma, K1, K2, backend)
    devices = (x if v.is_device_array(x) else None, y if v.is_device_array(y) else None)
    x, y = v.check_pair(x, y, range_given=data_range is not None or preset is not None)
    region = "valid"
    if preset is not None or y_channel or crop_border:
        if devices != (None, None):
            raise TypeError("preset, y_channel and crop_border take host (NumPy) arrays")
        window = dict(win_size=win_size, sigma=sigma, gaussian=gaussian, sample_covariance=sample_covariance)
        x, y, channel_axis, data_range, window, region = presets.apply(
            x, y, preset=preset, y_channel=y_channel, crop_border=crop_border, channel_axis=channel_axis,
            data_range=data_range, batch=batch, window=window, ms=ms)
        win_size, sigma, gaussian, sample_covariance = (
            window["win_size"], window["sigma"], window["gaussian"], window["sample_covariance"])
    image_ndim = x.ndim - 1 if batch else x.ndim
    if image_ndim < 1:
        raise ValueError(
            f"{'ssim_batch' if batch else 'x'} needs at least {2 if batch else 1} axes, got shape {x.shape}"
        )
    ca = None if channel_axis is None else v.normalise_axis(channel_axis, image_ndim, "channel_axis")
    if spatial_ndim is None:
        spatial_ndim = image_ndim - (ca is not None)
        if spatial_ndim not in (2, 3):
            raise ValueError(
                f"expected a 2-D image (H, W) or a 3-D volume (D, H, W), got {x.ndim} axes "
                f"(shape {x.shape}"
                + (f", channel_axis={channel_axis}" if ca is not None else "")
                + "); for colour images set channel_axis, for a stack of images use ssim_batch"
            )
    elif image_ndim - (ca is not None) != spatial_ndim:
        raise ValueError(
            f"with spatial_ndim={spatial_ndim}"
            + (" and a channel axis" if ca is not None else "")
            + f", each pair needs {spatial_ndim + (ca is not None)} axes after the batch axis; "
            f"got shape {x.shape}"
        )
    if aniso is not None:
        if spatial_ndim != 2 or ms or len(aniso) != 2 or not all(
                isinstance(s, (int, float)) and math.isfinite(s) and s > 0 for s in aniso):
            raise ValueError(f"torchmetrics' per-axis sigma takes two positive numbers (H, W) for the SSIM of "
                             f"2-D images, got sigma={aniso!r}")
        taps_hw = [2 * int(3.5 * s + 0.5) + 1 for s in aniso]
    L = v.resolve_data_range(x, y, data_range)
    wdt = v.work_dtype(x, y, host=devices == (None, None))
    if aniso is not None or (preset is not None and presets.get(preset).taps is not None):
        wdt = np.dtype(np.float64)  # the host separable path is float64 throughout
    if devices != (None, None):
        v.check_device_dtypes(x, y, devices)
        xk, yk = x, y
    else:
        xk, yk = v.kernel_inputs(x, y, wdt)
    job = _Job()
    job.x5 = v.to_5d(xk, batch, ca, spatial_ndim)
    job.y5 = v.to_5d(yk, batch, ca, spatial_ndim)
    if region != "same-replicate":  # replicate padding makes a full map of any size
        v.check_extent(job.x5.shape, win_size if aniso is None else max(taps_hw), spatial_ndim, channel_axis)
    if aniso is not None:  # reflect padding by each axis's own radius
        pads = [(0, 0)] * 3 + [(t // 2, t // 2) for t in taps_hw]
        job.x5, job.y5 = np.pad(job.x5, pads, mode="reflect"), np.pad(job.y5, pads, mode="reflect")
    elif region in ("same-reflect", "same-replicate") and not ms:
        # the full map: the images extended by reflection without the edge (PyTorch's 'reflect')
        # or by repeating the edge (MATLAB's 'replicate')
        mode = "reflect" if region == "same-reflect" else "edge"
        job.x5 = pad_same(job.x5, win_size // 2, spatial_ndim, mode=mode)
        job.y5 = pad_same(job.y5, win_size // 2, spatial_ndim, mode=mode)
    job.backend = resolve_backend(backend, *devices, x.size)
    taps = presets.get(preset).taps if preset is not None else None
    job.weights = window_weights(win_size, sigma, gaussian) if taps is None else np.array(taps)
    # explicit taps that need not sum to 1 (libvmaf's): raw moments in float64 on the host;
    # an anisotropic window: one float64 pass per axis with its own taps
    job.raw = "raw" if taps is not None else None
    if aniso is not None:
        job.weights = [window_weights(t, s, True) for t, s in zip(taps_hw, aniso)]
        job.raw = "shifted"
    n = win_size ** spatial_ndim
    cov_norm = n / (n - 1) if sample_covariance and n > 1 else 1.0
    cs_floor = presets.get(preset).cs_floor if preset is not None else -np.inf
    job.consts = kernel_constants(L, K1, K2, cov_norm, wdt, cs_floor)
    job.x = devices[0] if devices[0] is not None else x
    job.y = devices[1] if devices[1] is not None else y
    job.ca, job.nd, job.devices = ca, spatial_ndim, devices
    job.grid = None
    if region == "grid":  # ffmpeg: 8x8 windows on a 4-pixel grid, its own constants
        if spatial_ndim != 2:
            raise ValueError(f"preset {preset!r} scores 2-D planes: for a volume use ssim_slices")
        job.grid = (win_size, win_size // 2) + grid_constants(L, K1, K2, win_size, x.dtype.kind in "iu")
    return job


def _means(job, want_map=False):
    if job.grid is not None:
        m = grid_ssim_means(job.x5, job.y5, *job.grid, backend=job.backend, devices=job.devices)
        return np.stack([m, np.full_like(m, np.nan)], axis=-1), None
    if job.raw:
        smap = ssim_map_separable(job.x5, job.y5, job.nd, job.weights, job.consts, shift=job.raw == "shifted")
        m = smap.reshape(smap.shape[:2] + (-1,)).mean(axis=2)
        return np.stack([m, np.full_like(m, np.nan)], axis=-1), None
    return ssim_means(job.x5, job.y5, job.nd, job.weights, job.consts, want_map=want_map,
                      backend=job.backend, devices=job.devices)


@_doc
def ssim(x, y, *, data_range=None, channel_axis=None, win_size=11, sigma=1.5, gaussian=True,
         K1=0.01, K2=0.03, sample_covariance=False, backend="auto",
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
        crop_border=crop_border)
    means, _ = _means(job)
    value = means[..., 0].mean()
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
        sample_covariance=sample_covariance, backend=backend)
    if mode == "same":
        r = win_size // 2
        job.x5 = pad_same(job.x5, r, job.nd)
        job.y5 = pad_same(job.y5, r, job.nd)
    means, smap = _means(job, want_map=True)
    raise_if_nonfinite(means[..., 0].mean(), job.x, job.y, K1, K2)
    return v.from_5d(smap, job.nd, job.ca)


@_doc
def ssim_batch(x, y, *, spatial_ndim=2, data_range=None, channel_axis=None, win_size=11,
               sigma=1.5, gaussian=True, K1=0.01, K2=0.03, sample_covariance=False,
               backend="auto", preset=None, y_channel=False, crop_border=0):
    """SSIM of many pairs in one call, in parallel across pairs and within them.

    Parameters
    ----------
    x, y : array_like
        Stacks of pairs along axis 0: (N, H, W), (N, D, H, W), or with a
        channel axis, e.g. (N, H, W, 3) with ``channel_axis=-1``.
    spatial_ndim : {2, 3}
        Spatial axes per pair.
    {options}

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
    if spatial_ndim not in (2, 3):
        raise ValueError(f"spatial_ndim must be 2 or 3, got {spatial_ndim!r}")
    if isinstance(data_range, str):
        return _pair_by_pair(ssim, x, y, spatial_ndim, data_range, preset, dict(
            channel_axis=channel_axis, win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
            sample_covariance=sample_covariance, backend=backend, y_channel=y_channel, crop_border=crop_border))
    job = _prepare(
        x, y, batch=True, spatial_ndim=spatial_ndim, channel_axis=channel_axis,
        data_range=data_range, win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
        sample_covariance=sample_covariance, backend=backend, preset=preset, y_channel=y_channel,
        crop_border=crop_border)
    means, _ = _means(job)
    values = means[..., 0].mean(axis=1)
    raise_if_nonfinite(values, job.x, job.y, K1, K2)
    return values


@_doc
def ssim_slices(x, y, *, axis=0, data_range=None, channel_axis=None, win_size=11, sigma=1.5,
                gaussian=True, K1=0.01, K2=0.03, sample_covariance=False, backend="auto",
                preset=None, y_channel=False, crop_border=0):
    """2-D SSIM of every slice of two volumes along ``axis``.

    Parameters
    ----------
    x, y : array_like
        3-D volumes (plus a channel axis if ``channel_axis`` is set).
    axis : int
        The axis to slice along. Default 0.
    {options}

    Returns
    -------
    ndarray, float64, (x.shape[axis],)
        ``ssim(np.take(x, i, axis), np.take(y, i, axis), ...)`` for every i.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> vol = np.random.default_rng(1).random((16, 24, 24))
    >>> fastssim.ssim_slices(vol, vol, axis=2, data_range=1.0).shape
    (24,)
    """
    xs, ys, ca = _slice_views(x, y, axis, channel_axis, "ssim_slices",
                              data_range is not None or preset is not None)
    return ssim_batch(xs, ys, spatial_ndim=2, data_range=data_range, channel_axis=ca,
                      win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
                      sample_covariance=sample_covariance, backend=backend, preset=preset,
                      y_channel=y_channel, crop_border=crop_border)


def _pair_by_pair(single, x, y, spatial_ndim, data_range, preset, options):
    """``data_range="per-pair"``: every pair of a batch scored as its own call."""
    if data_range != "per-pair":
        raise ValueError(f"data_range must be a number, None or 'per-pair', got {data_range!r}")
    if v.is_device_array(x) or v.is_device_array(y):
        raise TypeError("data_range='per-pair' takes host (NumPy) arrays")
    x, y = v.check_pair(x, y)
    if x.ndim - (options["channel_axis"] is not None) != spatial_ndim + 1:
        raise ValueError(f"with spatial_ndim={spatial_ndim}, each pair needs "
                         f"{spatial_ndim + (options['channel_axis'] is not None)} axes after the batch axis; "
                         f"got shape {x.shape}")
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
        from ._cuda import device_view

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
