"""``structural_similarity`` with scikit-image's exact signature and defaults.

Use it in place of ``skimage.metrics.structural_similarity``: same arguments,
same defaults (7x7 uniform window, sample covariance), same return values
(a float, or ``(mssim, S)`` with ``full=True``), same numbers, computed by
fastssim's kernels.
"""

import numpy as np

from .. import _validate as v
from .._engine import kernel_constants, pad_same, raise_if_nonfinite, ssim_means
from .._engine_gradient import avanaki_gradient
from .._math import gaussian_radius, window_weights

__all__ = ["structural_similarity"]

_TRUNCATE = 3.5  # scikit-image's Gaussian truncation, in standard deviations


def _float_type(dtype):
    """scikit-image's ``_supported_float_type``: float32 stays, float16 goes to
    float32, everything else to float64."""
    if dtype in (np.float16, np.float32):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def structural_similarity(im1, im2, *, win_size=None, gradient=False, data_range=None,
                          channel_axis=None, gaussian_weights=False, full=False, **kwargs):
    """Mean structural similarity, as ``skimage.metrics.structural_similarity``.

    Parameters
    ----------
    im1, im2 : ndarray
        Images of one shape: 2-D, or 3-D (a volume, or an image with
        ``channel_axis``), or 4-D with ``channel_axis``.
    win_size : int, optional
        Side of the window; by default 7, or with ``gaussian_weights`` the
        Gaussian's support, ``2 * int(3.5 * sigma + 0.5) + 1`` (11 for sigma 1.5).
        The mean is taken after cropping ``(win_size - 1) // 2`` from each border.
    gradient : bool, optional
        Also return the gradient with respect to ``im2``, by scikit-image's formula
        (Avanaki 2009 on full-size maps, borders by reflection).
    data_range : float, optional
        Required for floating-point input; from ``im1``'s integer dtype otherwise.
    channel_axis : int, optional
        Channel axis: SSIM per channel, then the mean.
    gaussian_weights : bool, optional
        Gaussian window of ``sigma`` (truncated at 3.5 sigma) instead of uniform.
    full : bool, optional
        Also return the full SSIM map (borders by reflection).
    **kwargs
        ``K1`` (0.01), ``K2`` (0.03), ``sigma`` (1.5), ``use_sample_covariance`` (True).

    Returns
    -------
    mssim : float
    grad : ndarray
        With ``gradient=True``.
    S : ndarray
        The map, with ``full=True``, in scikit-image's float dtype (float32 for
        float16/float32 input, float64 otherwise).

    Raises
    ------
    ValueError
        As scikit-image, and for images with other than 2 or 3 spatial axes.
    TypeError
        For unknown keyword arguments, bool or complex input.

    Examples
    --------
    >>> import numpy as np
    >>> from fastssim.compat.skimage import structural_similarity
    >>> x = np.arange(400, dtype=np.uint8).reshape(20, 20)
    >>> structural_similarity(x, x)
    1.0
    """
    unknown = set(kwargs) - {"K1", "K2", "sigma", "use_sample_covariance"}
    if unknown:
        raise TypeError(f"unexpected keyword argument(s) {sorted(unknown)}")
    K1 = kwargs.get("K1", 0.01)
    K2 = kwargs.get("K2", 0.03)
    sigma = kwargs.get("sigma", 1.5)
    sample_cov = kwargs.get("use_sample_covariance", True)
    im1, im2 = v.check_pair(im1, im2, range_given=data_range is not None)
    if K1 < 0:
        raise ValueError("K1 must be positive")
    if K2 < 0:
        raise ValueError("K2 must be positive")
    if sigma < 0:
        raise ValueError("sigma must be positive")
    if win_size is None:
        win_size = 2 * gaussian_radius(sigma, _TRUNCATE) + 1 if gaussian_weights else 7
    ca = None if channel_axis is None else v.normalise_axis(channel_axis, im1.ndim, "channel_axis")
    spatial = [s for i, s in enumerate(im1.shape) if i != ca]
    if len(spatial) not in (2, 3):
        raise ValueError(
            f"fastssim supports 2 or 3 spatial axes, got {len(spatial)} (shape {im1.shape}"
            + (f", channel_axis={channel_axis}" if ca is not None else "") + ")"
        )
    if min(spatial) < win_size:
        raise ValueError(
            "win_size exceeds image extent. Either ensure that your images are at least "
            f"{win_size}x{win_size}; or pass win_size explicitly in the function call, with an "
            "odd value less than or equal to the smaller side of your images. If your images "
            "are multichannel (with color channels), set channel_axis to the axis number "
            "corresponding to the channels."
        )
    if win_size % 2 != 1:
        raise ValueError("Window size must be odd.")
    if data_range is None:
        if im1.dtype.kind == "f" or im2.dtype.kind == "f":
            raise ValueError(
                "Since image dtype is floating point, you must specify the data_range parameter."
            )
        info = np.iinfo(im1.dtype)
        data_range = float(info.max) - float(info.min)
    data_range = v.resolve_data_range(im1, im2, data_range)

    nd = len(spatial)
    ftype = _float_type(im1.dtype)
    x = im1.astype(ftype, copy=False)
    y = im2.astype(ftype, copy=False)
    x5 = v.to_5d(x, False, ca, nd)
    y5 = v.to_5d(y, False, ca, nd)
    if gaussian_weights:
        radius = gaussian_radius(sigma, _TRUNCATE)
        weights = window_weights(2 * radius + 1, sigma, True)
    else:
        radius = win_size // 2
        weights = window_weights(win_size, sigma, False)
    n = win_size ** nd
    cov_norm = n / (n - 1) if sample_cov else 1.0
    consts = kernel_constants(data_range, K1, K2, cov_norm, ftype)
    pad = (win_size - 1) // 2

    if not gradient and not full and pad == radius:
        means, _ = ssim_means(x5, y5, nd, weights, consts)
        mssim = means[0, :, 0].mean()
        raise_if_nonfinite(mssim, im1, im2, K1, K2)
        return float(mssim)

    if gradient:
        smap5, grad5 = avanaki_gradient(x5, y5, nd, weights, consts, "symmetric")
    else:
        _, smap5 = ssim_means(pad_same(x5, radius, nd), pad_same(y5, radius, nd), nd, weights,
                              consts, want_map=True)
    # scikit-image crops (win_size - 1) // 2 from the full map, then averages per channel
    planes = smap5[0] if nd == 3 else smap5[0, :, 0]  # (C, *spatial)
    inner = (slice(None),) + tuple(slice(pad, n - pad) for n in planes.shape[1:])
    mssim = float(planes[inner].reshape(planes.shape[0], -1).mean(axis=1, dtype=np.float64).mean())
    raise_if_nonfinite(mssim, im1, im2, K1, K2)
    out = (mssim,)
    if gradient:
        out += (v.from_5d(grad5, nd, ca).astype(ftype, copy=False),)
    if full:
        out += (v.from_5d(smap5, nd, ca).astype(ftype, copy=False),)
    return out if len(out) > 1 else mssim
