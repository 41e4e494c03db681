"""A drop-in for kornia's SSIM: ``from fastssim.compat.kornia.metrics import ssim, ssim3d, SSIM,
SSIM3D`` and ``from fastssim.compat.kornia.losses import ssim_loss, ssim3d_loss, SSIMLoss,
SSIM3DLoss`` in place of the same imports from ``kornia.metrics`` and ``kornia.losses``.

The same signatures, defaults and results as kornia 0.7-0.9: a Gaussian window of
``window_size`` taps with sigma 1.5; ``max_val`` (a Python float, as kornia requires) the data
range; ``eps`` (1e-12) added to each window's denominator, as kornia adds it (it moves dark
flat windows by about 1e-5 at ``max_val=1.0``); ``padding='same'`` extends the images by
PyTorch's 'reflect' (no edge sample repeated) so that the map has the input's size,
``'valid'`` keeps the windows inside the images; the map is returned unreduced, (B, C, H, W) or
(B, C, D, H, W). The losses are ``clamp((1 - SSIM) / 2, 0, 1)`` reduced by ``reduction``
('mean', 'sum' or 'none'). Integer images are computed in float32, float16 and bfloat16 in
float32, a float32/float64 pair in float64; the map comes back in the promoted input dtype, as
kornia returns it.

The map and its gradient (for both images) come from fastssim's kernels through the
``fastssim::ssim_map`` operator (`fastssim.integrations.torch_ops.ssim_map`); the reflection is
read in place by the kernels. The losses reduced by 'mean' or 'sum' take each plane's mean SSIM
and its gradient from the ``fastssim::planes`` operator instead, with no map (`_loss` says why
that is the same number); the loss's arithmetic is PyTorch's, so autograd and ``torch.compile``
see it. float64 tensors agree with kornia to about 1e-14. What differs, on purpose:

- the window is built in float64 for every input dtype (kornia builds it in the compute dtype,
  where float32 taps sum to 1 only within rounding); float32 tensors give kornia's float64 map
  within about 1.5e-4 per pixel and its mean within 1e-6, where kornia's own float32 map is up
  to 5e-4 from it (measured on photographs);
- bad arguments raise ValueError (kornia raises its own ``BaseError`` for a bad ``padding`` or
  an even ``window_size``, and returns an empty map for a 'valid' window larger than the image).

Gradients of gradients (``create_graph=True``) go through PyTorch operations
(`fastssim.integrations.torch_reference`), as kornia's do.
"""

import math

from .torch_ops import planes, ssim_map

try:
    import torch as _torch
except ImportError:
    _torch = None  # type: ignore[assignment]

__all__ = ["ssim", "ssim3d", "SSIM", "SSIM3D", "ssim_loss", "ssim3d_loss", "SSIMLoss", "SSIM3DLoss"]

SIGMA = 1.5
REDUCTIONS = ("mean", "sum", "none")


def _need_torch():
    if _torch is None:
        raise ImportError("fastssim.compat.kornia needs PyTorch: pip install 'fastssim[torch]'")


def _taps(window_size):
    """kornia's Gaussian window of ``window_size`` taps (sigma 1.5), in float64, normalised."""
    t = _torch.arange(window_size, dtype=_torch.float64) - window_size // 2
    g = _torch.exp(-(t * t) / (2.0 * SIGMA ** 2))
    return g / g.sum()


def _compute_dtypes(img1, img2):
    """(the dtype kornia returns, the dtype it computes in) for two tensors."""
    def floating(t):
        return t.dtype if t.is_floating_point() else _torch.float32

    out = _torch.promote_types(floating(img1), floating(img2))
    half = (_torch.float16, _torch.bfloat16)
    work = _torch.promote_types(*(_torch.float32 if floating(t) in half else floating(t) for t in (img1, img2)))
    return out, work


def _prepared(img1, img2, window_size, max_val, padding, nd):
    """kornia's checks on (B, C, *spatial) tensors with ``nd`` spatial axes: ``(x, y)`` as (B C,
    *spatial) planes in the compute dtype, the reflection's width, the dtype kornia returns and
    the map's shape."""
    _need_torch()
    name = "ssim" if nd == 2 else "ssim3d"
    for label, t in (("img1", img1), ("img2", img2)):
        if not isinstance(t, _torch.Tensor):
            raise TypeError(f"Input {label} type is not a torch.Tensor. Got {type(t)}")
        if t.dim() != nd + 2:
            raise ValueError(f"Invalid {label} shape, {name} expects {'BxCxHxW' if nd == 2 else 'BxCxDxHxW'}. "
                             f"Got: {tuple(t.shape)}")
    if img1.shape != img2.shape:
        raise ValueError(f"img1 and img2 shapes must be the same. Got: {tuple(img1.shape)} and {tuple(img2.shape)}")
    if not isinstance(max_val, float):
        raise TypeError(f"Input max_val type is not a float. Got {type(max_val)}; pass e.g. max_val=1.0 or 255.0")
    if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1 or window_size % 2 == 0:
        raise ValueError(f"window_size must be an odd integer bigger than 0, got {window_size!r}")
    padding = str(padding).lower()
    if padding not in ("same", "valid"):
        raise ValueError(f"Invalid padding mode, {padding!r}. Expected one of 'same' or 'valid'")
    out_dtype, work = _compute_dtypes(img1, img2)
    x, y = img1.to(work), img2.to(work)
    spatial = tuple(x.shape[2:])
    r = window_size // 2 if padding == "same" else 0
    if padding == "same" and min(spatial) <= r:
        raise ValueError(f"padding='same' reflects the images by window_size // 2 = {r} samples, which needs every "
                         f"spatial side longer than {r}; got {spatial}. Pass a smaller window_size")
    if padding == "valid" and min(spatial) < window_size:
        raise ValueError(f"padding='valid' needs every spatial side at least window_size={window_size}, got "
                         f"{spatial} (kornia would return an empty map); pass larger images or padding='same'")
    B, C = x.shape[:2]
    shape = (B, C) + (spatial if r else tuple(n - window_size + 1 for n in spatial))
    return x.reshape((B * C,) + spatial), y.reshape((B * C,) + spatial), r, out_dtype, shape


def _ssim_map(img1, img2, window_size, max_val, eps, padding, nd):
    """The SSIM map of (B, C, *spatial) tensors with ``nd`` spatial axes, as kornia's."""
    x, y, r, out_dtype, shape = _prepared(img1, img2, window_size, max_val, padding, nd)
    # the reflection is read in place by the kernels, forward and gradient (folded back in the kernel)
    smap = ssim_map(x, y, taps=_taps(window_size), data_range=max_val, eps=float(eps), pad=r)
    return smap.reshape(shape).to(out_dtype)


def ssim(img1, img2, window_size, max_val=1.0, eps=1e-12, padding="same"):
    """The SSIM map of two image batches, as kornia's ``kornia.metrics.ssim``.

    Parameters
    ----------
    img1, img2 : torch.Tensor
        (B, C, H, W), one shape.
    window_size : int
        The Gaussian window's taps (odd; sigma 1.5).
    max_val : float
        The data range L (a Python float): ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``.
    eps : float
        Added to each window's denominator.
    padding : {'same', 'valid'}
        'same': the images reflected (PyTorch's 'reflect') by ``window_size // 2``, a map of
        their size; 'valid': the windows inside the images only.

    Returns
    -------
    torch.Tensor
        The map, (B, C, H, W) ('same') or (B, C, H - 2p, W - 2p) ('valid', ``p = window_size //
        2``), in the promoted input dtype, on ``img1``'s device; differentiable in both images.

    Raises
    ------
    TypeError
        For inputs that are not tensors and a ``max_val`` that is not a float (as kornia).
    ValueError
        For tensors of other ranks or different shapes, an even ``window_size``, a ``padding``
        other than 'same' and 'valid', sides too short for it, and values that are not finite.

    Examples
    --------
    >>> import torch
    >>> from fastssim.compat.kornia.metrics import ssim
    >>> x = torch.rand(1, 3, 32, 32)
    >>> ssim(x, x, 11).shape
    torch.Size([1, 3, 32, 32])
    """
    return _ssim_map(img1, img2, window_size, max_val, eps, padding, 2)


def ssim3d(img1, img2, window_size, max_val=1.0, eps=1e-12, padding="same"):
    """The SSIM map of two volume batches (B, C, D, H, W), as kornia's ``kornia.metrics.ssim3d``:
    the window is the Gaussian along D, H and W.

    Parameters
    ----------
    img1, img2 : torch.Tensor
        (B, C, D, H, W), one shape.
    window_size, max_val, eps, padding
        As for `ssim`.

    Returns
    -------
    torch.Tensor
        The map, (B, C, D, H, W) or each side less ``2 (window_size // 2)`` ('valid').

    Raises
    ------
    TypeError, ValueError
        As `ssim`.
    """
    return _ssim_map(img1, img2, window_size, max_val, eps, padding, 3)


def _loss(img1, img2, window_size, max_val, eps, padding, nd, reduction):
    """kornia's loss of (B, C, *spatial) tensors: ``clamp((1 - SSIM) / 2, 0, 1)`` of the map, reduced.

    The clamp never binds: every window's SSIM is within [-1, 1] (``|2 ux uy| <= ux^2 + uy^2``,
    ``|2 vxy| <= vx + vy``, and ``eps`` only shrinks it), so the mean (sum) of the clamped map is
    ``(1 - mean SSIM) / 2`` (times the map's size), up to a window whose SSIM rounds an ulp past 1.
    'mean' and 'sum' therefore take each plane's mean SSIM and its gradient from the planes
    operator (`torch_ops.planes`: no map is written, nor read back through its vector-Jacobian
    product, 2.2-2.8x the time of `fastssim.torch` before); 'none' takes the map."""
    if reduction == "none":
        return _torch.clamp((1.0 - _ssim_map(img1, img2, window_size, max_val, eps, padding, nd)) / 2, min=0, max=1)
    x, y, r, out_dtype, shape = _prepared(img1, img2, window_size, max_val, padding, nd)
    if reduction not in REDUCTIONS:
        raise NotImplementedError(f"Invalid reduction option {reduction!r}: use one of {', '.join(REDUCTIONS)}")
    values = planes(x, y, taps=_taps(window_size), data_range=max_val, eps=float(eps), pad=r)
    loss = (1.0 - values.mean()) / 2
    if reduction == "sum":
        loss = loss * math.prod(shape)
    return loss.to(out_dtype)


def ssim_loss(img1, img2, window_size, max_val=1.0, eps=1e-12, reduction="mean", padding="same"):
    """kornia's ``kornia.losses.ssim_loss``: ``clamp((1 - SSIM) / 2, 0, 1)`` of the map of `ssim`,
    reduced.

    Parameters
    ----------
    img1, img2, window_size, max_val, eps, padding
        As for `ssim`.
    reduction : {'mean', 'sum', 'none'}
        The mean or sum over every element, or the per-pixel loss.

    Returns
    -------
    torch.Tensor
        A scalar, or the map's shape with ``reduction='none'``.

    Raises
    ------
    NotImplementedError
        For another ``reduction`` (as kornia).
    TypeError, ValueError
        As `ssim`.
    """
    return _loss(img1, img2, window_size, max_val, eps, padding, 2, reduction)


def ssim3d_loss(img1, img2, window_size, max_val=1.0, eps=1e-12, reduction="mean", padding="same"):
    """kornia's ``kornia.losses.ssim3d_loss``: `ssim_loss` of the volumes' map (`ssim3d`).

    Parameters
    ----------
    img1, img2, window_size, max_val, eps, reduction, padding
        As for `ssim_loss`, on (B, C, D, H, W) volumes.

    Returns
    -------
    torch.Tensor
        A scalar, or the map's shape with ``reduction='none'``.

    Raises
    ------
    NotImplementedError, TypeError, ValueError
        As `ssim_loss`.
    """
    return _loss(img1, img2, window_size, max_val, eps, padding, 3, reduction)


_Module = _torch.nn.Module if _torch is not None else object


class _KorniaModule(_Module):  # type: ignore[valid-type,misc]
    """What kornia's SSIM modules hold: ``window_size``, ``max_val``, ``eps``, ``padding``."""

    def __init__(self, window_size, max_val=1.0, eps=1e-12, padding="same"):
        _need_torch()
        super().__init__()
        self.window_size = window_size
        self.max_val = max_val
        self.eps = eps
        self.padding = padding


class SSIM(_KorniaModule):
    """kornia's ``kornia.metrics.SSIM``: ``SSIM(11)(img1, img2)`` is `ssim`'s map."""

    def forward(self, img1, img2):
        return ssim(img1, img2, self.window_size, self.max_val, self.eps, self.padding)


class SSIM3D(_KorniaModule):
    """kornia's ``kornia.metrics.SSIM3D``: `ssim3d`'s map."""

    def forward(self, img1, img2):
        return ssim3d(img1, img2, self.window_size, self.max_val, self.eps, self.padding)


class SSIMLoss(_KorniaModule):
    """kornia's ``kornia.losses.SSIMLoss``: ``SSIMLoss(11, reduction='mean')(img1, img2)`` is
    `ssim_loss`."""

    def __init__(self, window_size, max_val=1.0, eps=1e-12, reduction="mean", padding="same"):
        super().__init__(window_size, max_val, eps, padding)
        self.reduction = reduction

    def forward(self, img1, img2):
        return ssim_loss(img1, img2, self.window_size, self.max_val, self.eps, self.reduction, self.padding)


class SSIM3DLoss(SSIMLoss):
    """kornia's ``kornia.losses.SSIM3DLoss``: `ssim3d_loss`."""

    def forward(self, img1, img2):
        return ssim3d_loss(img1, img2, self.window_size, self.max_val, self.eps, self.reduction, self.padding)


if _torch is None:  # the example needs torch
    ssim.__doc__ = (ssim.__doc__ or "").split("    Examples")[0]
