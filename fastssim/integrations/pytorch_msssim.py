"""A drop-in for pytorch_msssim: ``from fastssim.compat.pytorch_msssim import ssim, ms_ssim, SSIM,
MS_SSIM`` in place of ``from pytorch_msssim import ...``.

The same signatures, defaults and results as pytorch_msssim 1.0: ``data_range=255``,
``size_average``, ``win_size``, ``win_sigma``, ``win``, ``K``, ``nonnegative_ssim``,
``weights``; (N, C, H, W) and (N, C, D, H, W) tensors (spatial axes of length 1 squeezed
first, as it does); its float32 Gaussian window; its 'valid' convolution; for MS-SSIM its
halving, average pooling with a zero before an odd side's first sample, and a ReLU of each
channel's terms, one MS-SSIM per channel, then the mean. The value comes back in the input's
dtype on its device, differentiable in both inputs.

The numbers are fastssim's kernels' (`fastssim.integrations.torch_ops`), with pytorch_msssim's
float32 taps as they are (they sum to 1 only within float32 rounding, which moves its SSIM by up
to 5e-6 on images with flat regions, so they are not renormalised): float64 tensors agree with
pytorch_msssim to about 1e-14; float32 (and float16, bfloat16) tensors are computed in float32
with float64 sums and agree with its float64 result to about 1e-6, as closely as its own float32
convolutions do. GPU tensors are computed on the host.

What differs, on purpose: a spatial side shorter than the window is refused with a
ValueError (pytorch_msssim warns and skips the smoothing along that axis, so its "SSIM" there is
of a different window); NaN or infinite values raise a ValueError naming the cause instead of
returning NaN; the size check of `ms_ssim` raises an error that is both an AssertionError (as
pytorch_msssim's assert) and a ValueError.
"""

from ..conventions import checks as v
from .torch_ops import planes

try:
    import torch as _torch
except ImportError:
    _torch = None  # type: ignore[assignment]

__all__ = ["ssim", "ms_ssim", "SSIM", "MS_SSIM"]

#: pytorch_msssim's MS-SSIM exponents (Wang et al.'s five).
DEFAULT_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


class ImageSizeError(ValueError, AssertionError):
    """Images too small for MS-SSIM's scales (pytorch_msssim raises it as an AssertionError)."""


def _need_torch():
    if _torch is None:
        raise ImportError("fastssim.compat.pytorch_msssim needs PyTorch: pip install 'fastssim[torch]'")


def _fspecial_gauss_1d(size, sigma):
    """pytorch_msssim's window: a Gaussian of ``size`` taps computed and normalised in float32,
    shape (1, 1, size) (its taps differ from float64 ones by up to 1e-7 relative)."""
    r = _torch.arange(size, dtype=_torch.float32) - size // 2
    g = _torch.exp(-(r * r) / (2 * sigma ** 2))
    return (g / g.sum()).reshape(1, 1, size)


def _prepare(X, Y, win_size, win_sigma, win):
    """Checked (N, C, ...) tensors with unit spatial axes squeezed, and the window tensor."""
    _need_torch()
    if not X.shape == Y.shape:
        raise ValueError(f"Input images should have the same dimensions, but got {X.shape} and {Y.shape}.")
    for d in range(len(X.shape) - 1, 1, -1):
        X = X.squeeze(dim=d)
        Y = Y.squeeze(dim=d)
    if len(X.shape) not in (4, 5):
        raise ValueError(f"Input images should be 4-d or 5-d tensors, but got {X.shape}")
    if win is not None:
        win_size = win.shape[-1]
    if not (win_size % 2 == 1):
        raise ValueError("Window size should be odd.")
    if win is None:
        win = _fspecial_gauss_1d(win_size, win_sigma)
    if win.shape[-1] != win.reshape(win.shape[0], -1).shape[1]:
        raise ValueError(f"win must be a 1-D window of shape (C, 1, [1,] 1, size), as pytorch_msssim builds it; got "
                         f"{tuple(win.shape)}")
    short = [s for s in X.shape[2:] if s < win_size]
    if short:
        raise ValueError(f"every spatial side must be at least win_size={win_size}; got {tuple(X.shape[2:])}. "
                         "pytorch_msssim would skip the smoothing along the shorter axes (with a warning) and so "
                         "score another window; pass larger images or a smaller win_size")
    return X, Y, win


def _per_channel(X, Y, taps, data_range, K, level_weights=()):
    """Each (image, channel)'s SSIM (MS-SSIM with ``level_weights``), shape (N, C), float64."""
    N, C = X.shape[:2]
    K1, K2 = K
    values = planes(X.reshape((N * C,) + X.shape[2:]), Y.reshape((N * C,) + Y.shape[2:]), taps=taps,
                    data_range=float(data_range), K1=K1, K2=K2, level_weights=level_weights,
                    convention="pytorch_msssim")
    return values.reshape(N, C)


def _result(per_channel, X, size_average):
    out = X.dtype if X.dtype.is_floating_point else _torch.get_default_dtype()
    values = per_channel.mean() if size_average else per_channel.mean(1)
    return values.to(out)


def ssim(X, Y, data_range=255, size_average=True, win_size=11, win_sigma=1.5, win=None, K=(0.01, 0.03),
         nonnegative_ssim=False):
    """SSIM as pytorch_msssim's ``ssim``.

    Parameters
    ----------
    X, Y : torch.Tensor
        (N, C, H, W) or (N, C, D, H, W), one shape.
    data_range : float
        The range of the values (255 by default, as pytorch_msssim; 1.0 for images in [0, 1]).
    size_average : bool
        True: the mean over images and channels; False: each image's mean over its channels.
    win_size, win_sigma : int, float
        The Gaussian window (odd ``win_size``).
    win : torch.Tensor, optional
        A window (C, 1, [1,] 1, size) instead, as `SSIM` holds it.
    K : (float, float)
        K1 and K2.
    nonnegative_ssim : bool
        A ReLU of each channel's SSIM before the mean.

    Returns
    -------
    torch.Tensor
        A scalar, or shape (N,); in ``X``'s dtype on its device.

    Raises
    ------
    ValueError
        For tensors of different shapes or other ranks, an even window, a side shorter than
        the window, and values that are not finite.

    Examples
    --------
    >>> import torch
    >>> from fastssim.compat.pytorch_msssim import ssim
    >>> X = torch.rand(2, 3, 64, 64)
    >>> ssim(X, X, data_range=1.0).item()
    1.0
    """
    X, Y, taps = _prepare(X, Y, win_size, win_sigma, win)
    per_channel = _per_channel(X, Y, taps, data_range, K)
    if nonnegative_ssim:
        per_channel = _torch.relu(per_channel)
    return _result(per_channel, X, size_average)


def ms_ssim(X, Y, data_range=255, size_average=True, win_size=11, win_sigma=1.5, win=None, weights=None,
            K=(0.01, 0.03)):
    """MS-SSIM as pytorch_msssim's ``ms_ssim``: one scale per weight, each halving an average
    pooling that puts a zero before an odd side's first sample; the shorter of the last two
    sides must exceed ``(win_size - 1) * 16``.

    Parameters
    ----------
    X, Y, data_range, size_average, win_size, win_sigma, win, K
        As for `ssim`.
    weights : sequence of float, optional
        One exponent per scale; default Wang et al.'s five.

    Returns
    -------
    torch.Tensor
        A scalar, or shape (N,); in ``X``'s dtype on its device.

    Raises
    ------
    ImageSizeError
        (a ValueError and an AssertionError) for images too small for the scales.
    ValueError
        As `ssim`.
    """
    X, Y, taps = _prepare(X, Y, win_size, win_sigma, win)
    win_size = taps.shape[-1]
    smaller_side = min(X.shape[-2:])
    if not smaller_side > (win_size - 1) * (2 ** 4):
        raise ImageSizeError(f"Image size should be larger than {(win_size - 1) * (2 ** 4)} due to the 4 "
                             f"downsamplings in ms-ssim (got {tuple(X.shape[2:])}); pass larger images or a "
                             "smaller win_size")
    levels = v.check_level_weights(DEFAULT_WEIGHTS if weights is None else weights)
    per_channel = _per_channel(X, Y, taps, data_range, K, levels)
    return _result(per_channel, X, size_average)


_Module = _torch.nn.Module if _torch is not None else object


class _Windowed(_Module):  # type: ignore[valid-type,misc]
    """What both modules hold, as pytorch_msssim's do: the window for ``channel`` channels and
    ``spatial_dims`` axes, the range, the reduction and K."""

    def __init__(self, data_range, size_average, win_size, win_sigma, channel, spatial_dims, K):
        _need_torch()
        super().__init__()
        self.win_size = win_size
        self.win = _fspecial_gauss_1d(win_size, win_sigma).repeat([channel, 1] + [1] * spatial_dims)
        self.size_average = size_average
        self.data_range = data_range
        self.K = K


class SSIM(_Windowed):
    """pytorch_msssim's ``SSIM`` module: ``SSIM(data_range=1.0, channel=3)(X, Y)``; the
    arguments as for `ssim` (``channel`` and ``spatial_dims`` shape the window it holds)."""

    def __init__(self, data_range=255, size_average=True, win_size=11, win_sigma=1.5, channel=3, spatial_dims=2,
                 K=(0.01, 0.03), nonnegative_ssim=False):
        super().__init__(data_range, size_average, win_size, win_sigma, channel, spatial_dims, K)
        self.nonnegative_ssim = nonnegative_ssim

    def forward(self, X, Y):
        return ssim(X, Y, data_range=self.data_range, size_average=self.size_average, win=self.win, K=self.K,
                    nonnegative_ssim=self.nonnegative_ssim)


class MS_SSIM(_Windowed):
    """pytorch_msssim's ``MS_SSIM`` module; the arguments as for `ms_ssim`."""

    def __init__(self, data_range=255, size_average=True, win_size=11, win_sigma=1.5, channel=3, spatial_dims=2,
                 weights=None, K=(0.01, 0.03)):
        super().__init__(data_range, size_average, win_size, win_sigma, channel, spatial_dims, K)
        self.weights = weights

    def forward(self, X, Y):
        return ms_ssim(X, Y, data_range=self.data_range, size_average=self.size_average, win=self.win,
                       weights=self.weights, K=self.K)


if _torch is None:  # the example needs torch
    ssim.__doc__ = (ssim.__doc__ or "").split("    Examples")[0]
