"""The L2 distance and cosine similarity of two images (whole, or per channel), from the float64
sums of one pass over them (``kernels.engine.product_sums``)."""

import numpy as np

from .._types import ArrayLike, Backend, DataRange  # noqa: F401

from .._deprecation import deprecated

from ..conventions import checks as v
from .distances import _product_sums

__all__ = ["l2", "cosine", "l2_channels", "cosine_channels"]


def _per_channel_moved(name, channel_axis):
    deprecated(f"{name}(..., channel_axis=) gives one value per channel, so its return type changed with a flag: "
               f"call {name}_channels(x, y, channel_axis=...) for those; from the next release {name} takes no "
               "channel_axis and returns one float")


@v.accepts_tensors
def l2(x: ArrayLike, y: ArrayLike, *, channel_axis: int | None = None, backend: Backend = "auto") -> float:
    """Euclidean (L2) distance between two images, ``sqrt(sum (x - y)^2)``, in float64.

    Parameters
    ----------
    x, y : array_like
        Arrays of one shape (any number of axes), any real dtype; flattened.
    channel_axis : int, optional
        Deprecated here: `l2_channels` gives one distance per channel.
    backend : {'auto', 'cpu', 'cuda'}, optional
        Where to compute (GPU arrays: over the whole array).

    Returns
    -------
    float
        The value, computed from float64 sums.

    Raises
    ------
    ValueError, TypeError
        For mismatched shapes, empty, NaN/Inf or non-numeric input, or an invalid axis.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> fastssim.l2(np.array([0, 0]), np.array([3, 4]))
    5.0
    """
    if channel_axis is not None:
        _per_channel_moved("l2", channel_axis)
    return _l2(_product_sums(x, y, channel_axis, backend)[0])


@v.accepts_tensors
def l2_channels(x: ArrayLike, y: ArrayLike, *, channel_axis: int, backend: Backend = "auto") -> np.ndarray:
    """`l2` of each channel along ``channel_axis``.

    Parameters
    ----------
    x, y : array_like
        Arrays of one shape with a channel axis, any real dtype.
    channel_axis : int
        The axis that holds the channels.
    backend : {'auto', 'cpu', 'cuda'}, optional
        Where to compute.

    Returns
    -------
    ndarray of float64, (C,)
        The distance of each channel's values as vectors.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> fastssim.l2_channels(np.zeros((2, 2)), np.array([[3., 0.], [4., 1.]]), channel_axis=1).tolist()
    [5.0, 1.0]
    """
    if channel_axis is None:
        raise ValueError("l2_channels needs channel_axis (the axis of the channels); for one distance use l2")
    return _l2(_product_sums(x, y, channel_axis, backend)[0])


def _l2(sums):
    out = np.sqrt(sums[..., 0])
    return float(out) if out.ndim == 0 else out


def _cosine(sums):
    zero = (sums[..., 2] == 0) | (sums[..., 3] == 0)
    if np.any(zero):
        which = "x" if np.any(sums[..., 2] == 0) else "y"
        where = "" if sums.ndim == 1 else f" in channel {int(np.flatnonzero(zero)[0])}"
        raise ValueError(f"cosine similarity is undefined: {which} is all zeros{where} (its vector has no "
                         "direction); use l2 or mse for such images")
    with np.errstate(over="ignore"):
        product = sums[..., 2] * sums[..., 3]  # sqrt(a * a) is a: identical images give exactly 1
    norm = np.where(np.isfinite(product), np.sqrt(product), np.sqrt(sums[..., 2]) * np.sqrt(sums[..., 3]))
    out = np.clip(sums[..., 1] / norm, -1.0, 1.0)
    return float(out) if out.ndim == 0 else out


@v.accepts_tensors
def cosine(x: ArrayLike, y: ArrayLike, *, channel_axis: int | None = None, backend: Backend = "auto") -> float:
    """Cosine similarity of two images as vectors, ``sum x y / sqrt(sum x^2 sum y^2)``, in
    float64: 1 for images equal up to a positive factor, -1 to 1 in general.

    Parameters
    ----------
    x, y : array_like
        Arrays of one shape (any number of axes), any real dtype; flattened.
    channel_axis : int, optional
        Deprecated here: `cosine_channels` gives one similarity per channel.
    backend : {'auto', 'cpu', 'cuda'}, optional
        Where to compute (GPU arrays: over the whole array).

    Returns
    -------
    float
        The value, computed from float64 sums.

    Raises
    ------
    ValueError, TypeError
        As for `l2`, and when an image (or a channel of one) is all zeros: the angle to a
        zero vector is undefined.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> fastssim.cosine(np.array([1, 2, 3]), np.array([2, 4, 6]))
    1.0
    """
    if channel_axis is not None:
        _per_channel_moved("cosine", channel_axis)
    return _cosine(_product_sums(x, y, channel_axis, backend)[0])


@v.accepts_tensors
def cosine_channels(x: ArrayLike, y: ArrayLike, *, channel_axis: int, backend: Backend = "auto") -> np.ndarray:
    """`cosine` of each channel along ``channel_axis``.

    Parameters
    ----------
    x, y : array_like
        Arrays of one shape with a channel axis, any real dtype.
    channel_axis : int
        The axis that holds the channels.
    backend : {'auto', 'cpu', 'cuda'}, optional
        Where to compute.

    Returns
    -------
    ndarray of float64, (C,)
        The cosine similarity of each channel's values as vectors.

    Examples
    --------
    >>> import numpy as np, fastssim
    >>> fastssim.cosine_channels(np.array([[1., 1.], [2., 0.]]), np.array([[2., 1.], [4., 0.]]),
    ...                          channel_axis=1).tolist()
    [1.0, 1.0]
    """
    if channel_axis is None:
        raise ValueError("cosine_channels needs channel_axis (the axis of the channels); for one value use cosine")
    return _cosine(_product_sums(x, y, channel_axis, backend)[0])


def l2_cosine_sums(x, y, *, backend="auto"):
    """The sums L2 and cosine are computed from, in one pass over the images (the batch scorer's
    call): give them to `l2_from_sums` and `cosine_from_sums`, each with its own outcome."""
    return _product_sums(x, y, None, backend)[0]


#: L2 of `l2_cosine_sums`' sums.
l2_from_sums = _l2
#: Cosine of `l2_cosine_sums`' sums (a ValueError when an image is all zeros).
cosine_from_sums = _cosine
