"""``structural_similarity`` with scikit-image's exact signature and defaults.

Use it in place of ``skimage.metrics.structural_similarity``: same arguments,
same defaults (7x7 uniform window, sample covariance), same return values
(``np.float64``, or ``(mssim, S)`` with ``full=True``), same numbers and warnings,
computed by fastssim's kernels. scikit-image's own test file for the function
passes against it (``tests/test_skimage_suite.py``).
"""


import numpy as np

from ..conventions import checks as v
from ..conventions import data_range as dr
from ..kernels.engine import kernel_constants, pad_same, raise_if_nonfinite, ssim_means
from ..kernels.separable import ssim_map_separable
from ..kernels.arrays import HOST_KERNEL_DTYPES
from ..kernels.engine_gradient import avanaki_gradient
from ..kernels.math import gaussian_radius, window_weights

__all__ = ["structural_similarity"]

_TRUNCATE = 3.5  # scikit-image's Gaussian truncation, in standard deviations


def _float_type(dtype):
    """scikit-image's ``_supported_float_type``: float32 stays, float16 goes to
    float32, everything else to float64 (the dtype of the maps returned)."""
    if dtype in (np.float16, np.float32):
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def _planes(a, ca):
    """``(1, C, *spatial)`` view: the layout every path below works on."""
    return (a[None] if ca is None else np.moveaxis(a, ca, 0))[None]


def _unplanes(g, ca):
    return g[0, 0] if ca is None else np.moveaxis(g[0], 0, ca)


def structural_similarity(im1, im2, *, win_size=None, gradient=False, data_range=None,
                          channel_axis=None, gaussian_weights=False, full=False, **kwargs):
    """Mean structural similarity, as ``skimage.metrics.structural_similarity``.

    Parameters
    ----------
    im1, im2 : ndarray
        Images of one shape, with any number of spatial axes (2-D and 3-D by the fused
        kernels, others by separable float64 passes), and a channel axis if
        ``channel_axis`` says so.
    win_size : int, optional
        Side of the window; by default 7, or with ``gaussian_weights`` the
        Gaussian's support, ``2 * int(3.5 * sigma + 0.5) + 1`` (11 for sigma 1.5).
        The mean is taken after cropping ``(win_size - 1) // 2`` from each border.
    gradient : bool, optional
        Also return the gradient with respect to ``im2``, by scikit-image's formula
        (Avanaki 2009 on full-size maps, borders by reflection).
    data_range : float, optional
        Required for floating-point input; from ``im1``'s integer dtype otherwise
        (with scikit-image's ``UserWarning`` for dtypes other than uint8 or mismatched
        dtypes).
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
    mssim : numpy.float64
        Equal whether or not ``full``/``gradient`` are asked for.
    grad : ndarray
        With ``gradient=True``.
    S : ndarray
        The map, with ``full=True``.

    Notes
    -----
    Every input is computed in float64 (float16/float32 too: scikit-image computes them
    in float32 with float64 filter accumulators, within about 1e-7 of float64); the map and the
    gradient are returned in scikit-image's float dtype (float32 for float16/float32
    input, float64 otherwise). The mean of 8-bit images under a uniform window (the default) is
    summed exactly in float32, its formula in float64 (``fastssim.kernels.exact``): the float64
    result to about 1e-15, about twice as fast.

    Raises
    ------
    ValueError
        As scikit-image.
    TypeError
        For unknown keyword arguments, bool or complex input.

    Examples
    --------
    >>> import numpy as np
    >>> from fastssim.compat.skimage import structural_similarity
    >>> x = np.arange(400, dtype=np.uint8).reshape(20, 20)
    >>> structural_similarity(x, x)
    np.float64(1.0)
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
    if not spatial:
        raise ValueError(f"im1 of shape {im1.shape} has no axis but the channel axis ({channel_axis})")
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
    data_range = dr.resolve(im1, im2, "skimage" if data_range is None else dr.check(data_range))

    nd = len(spatial)
    ftype = _float_type(im1.dtype)
    if gaussian_weights:
        radius = gaussian_radius(sigma, _TRUNCATE)
        weights = window_weights(2 * radius + 1, sigma, True)
    else:
        radius = win_size // 2
        weights = window_weights(win_size, sigma, False)
    n = win_size ** nd
    cov_norm = n / (n - 1) if sample_cov else 1.0
    consts = kernel_constants(data_range, K1, K2, cov_norm, np.dtype(np.float64))
    pad = (win_size - 1) // 2
    # float64 planes, made only where used: the means read images of a dtype the kernels convert
    # exactly as they load (uint8, uint16, int16, int32, float32, float64) as they are: the same
    # numbers without a float64 copy, and for 8-bit images under a uniform window exact sums
    # (`kernels.exact`)
    direct = im1.dtype == im2.dtype and im1.dtype in HOST_KERNEL_DTYPES
    need64 = not (direct and pad == radius) or gradient or full
    x = _planes(im1.astype(np.float64, copy=False), ca) if need64 else None
    y = _planes(im2.astype(np.float64, copy=False), ca) if need64 else None

    def valid_map(a, b, want_map):
        """Per-channel means and (optionally) the 'valid' map of ``(1, C, *spatial)`` arrays."""
        if nd in (2, 3):
            a5, b5 = (a[:, :, None], b[:, :, None]) if nd == 2 else (a, b)
            means, smap = ssim_means(a5, b5, nd, weights, consts, want_map=want_map)
            return means[0, :, 0], (None if smap is None else smap[:, :, 0] if nd == 2 else smap)
        smap = ssim_map_separable(a, b, nd, weights, consts)
        return smap.reshape(smap.shape[1], -1).mean(axis=1), smap

    # the mean is computed one way whatever else is asked for, so that it is the same number
    # with or without full/gradient
    smap = grad = None
    if pad == radius:  # the mean over the valid windows: that of the cropped full map
        channel_means, _ = valid_map(_planes(im1, ca), _planes(im2, ca), False) if direct else valid_map(x, y, False)
    else:  # scikit-image crops (win_size - 1) // 2 from the full map, then averages per channel
        _, smap = valid_map(pad_same(x, radius, nd), pad_same(y, radius, nd), True)
        inner = (0, slice(None)) + tuple(slice(pad, s - pad) for s in smap.shape[2:])
        channel_means = smap[inner].reshape(smap.shape[1], -1).mean(axis=1, dtype=np.float64)
    if gradient:
        gmap, grad = avanaki_gradient(x, y, nd, weights, consts, "symmetric")
        smap = gmap if smap is None else smap
    elif full and smap is None:
        _, smap = valid_map(pad_same(x, radius, nd), pad_same(y, radius, nd), True)
    mssim = np.float64(np.mean(channel_means))
    raise_if_nonfinite(mssim, im1, im2, K1, K2)
    out = (mssim,)
    if gradient:
        out += (_unplanes(grad, ca).astype(ftype),)
    if full:
        out += (_unplanes(smap, ca).astype(ftype),)
    return out if len(out) > 1 else mssim
