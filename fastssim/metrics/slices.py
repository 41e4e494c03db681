"""2-D SSIM of every slice of two volumes (``ssim_slices``), and over a region of them
(``ssim_slices_masked``): the slices become one batch of `ssim_batch`."""

from typing import Any

import numpy as np

from .._types import ArrayLike, Backend, DataRange  # noqa: F401

from .._deprecation import deprecated

from ..conventions import checks as v
from ._arguments import _doc
from .structural import _batch, ssim_batch

__all__ = ["ssim_slices", "ssim_slices_masked"]


@_doc
def ssim_slices(x: ArrayLike, y: ArrayLike, *, axis: int = 0, data_range: DataRange = None,
                channel_axis: int | None = None, win_size: int = 11, sigma: float = 1.5, gaussian: bool = True,
                K1: float = 0.01, K2: float = 0.03, sample_covariance: bool = False, backend: Backend = "auto",
                preset: str | None = None, y_channel: bool = False, crop_border: int = 0,
                mask: ArrayLike | None = None) -> np.ndarray:
    """2-D SSIM of every slice of two volumes along ``axis``.

    Parameters
    ----------
    x, y : array_like
        3-D volumes (plus a channel axis if ``channel_axis`` is set).
    axis : int
        The axis to slice along. Default 0.
    {options}
    mask : array_like of bool, optional
        Deprecated here (it changed the return type): use `ssim_slices_masked`.

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
    opts: dict[str, Any] = dict(data_range=data_range, win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
                sample_covariance=sample_covariance, backend=backend, preset=preset, y_channel=y_channel,
                crop_border=crop_border)
    if mask is not None:
        deprecated("ssim_slices(..., mask=) returns a masked array: call ssim_slices_masked(x, y, mask, ...) "
                   "instead (ssim_slices will return only ndarrays from the next release)")
        return ssim_slices_masked(x, y, mask, axis=axis, channel_axis=channel_axis, **opts)
    xs, ys, ca = _slice_views(x, y, axis, channel_axis, "ssim_slices",
                              data_range is not None or preset is not None)
    return ssim_batch(xs, ys, spatial_ndim=2, channel_axis=ca, **opts)


@_doc
def ssim_slices_masked(x: ArrayLike, y: ArrayLike, mask: ArrayLike, *, axis: int = 0, data_range: DataRange = None,
                       channel_axis: int | None = None, win_size: int = 11, sigma: float = 1.5, gaussian: bool = True,
                       K1: float = 0.01, K2: float = 0.03, sample_covariance: bool = False, backend: Backend = "auto",
                       preset: str | None = None, y_channel: bool = False, crop_border: int = 0) -> np.ma.MaskedArray:
    """`ssim_slices` over a region: each slice scored over the windows centred on its part of
    ``mask``, as `ssim` does with ``mask=``.

    Parameters
    ----------
    x, y : array_like
        3-D volumes (plus a channel axis if ``channel_axis`` is set).
    mask : array_like of bool
        A region of the volume (its spatial shape, shared by the channels).
    axis : int
        The axis to slice along. Default 0.
    {options}

    Returns
    -------
    numpy.ma.MaskedArray, float64, (x.shape[axis],)
        Slices whose mask selects no window (an organ absent from them) are masked out, so
        ``.mean()`` is the mean over the slices that hold the region.

    Raises
    ------
    ValueError
        As for `ssim_slices`; for a mask of another shape, or one that selects no window in
        any slice.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> vol = np.random.default_rng(1).random((4, 24, 24))
    >>> region = np.zeros(vol.shape, bool); region[1:3, 8:16, 8:16] = True
    >>> fastssim.ssim_slices_masked(vol, vol, region, data_range=1.0, win_size=7).tolist()
    [None, 1.0, 1.0, None]
    """
    xs, ys, ca = _slice_views(x, y, axis, channel_axis, "ssim_slices_masked",
                              data_range is not None or preset is not None)
    opts: dict[str, Any] = dict(spatial_ndim=2, data_range=data_range, channel_axis=ca, win_size=win_size, sigma=sigma,
                gaussian=gaussian, K1=K1, K2=K2, sample_covariance=sample_covariance, backend=backend,
                preset=preset, y_channel=y_channel, crop_border=crop_border)
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
