"""The first PyTorch wrapper, kept as an alias of `fastssim.torch` (which adds
``reduction``, float32 work for float32/16 tensors and the `fastssim.torch.SSIMLoss` module)."""

from .torch import SSIMFunction, _need_torch
from .torch import ssim as _ssim

__all__ = ["ssim", "SSIMFunction"]


def ssim(x, y, data_range, win_size=11, sigma=1.5):
    """Differentiable mean SSIM of two (N, C, H, W) or (N, C, D, H, W) tensors:
    ``fastssim.torch.ssim(x, y, data_range=data_range, win_size=win_size, sigma=sigma)``.

    Examples
    --------
    >>> import torch
    >>> from fastssim.autograd import ssim
    >>> x = torch.rand(2, 1, 32, 32, dtype=torch.float64)
    >>> y = (x + 0.1 * torch.rand_like(x)).requires_grad_()
    >>> loss = 1 - ssim(x, y, data_range=1.0)
    >>> loss.backward()
    >>> y.grad.shape
    torch.Size([2, 1, 32, 32])
    """
    _need_torch()
    return _ssim(x, y, data_range=data_range, win_size=win_size, sigma=sigma)


try:
    import torch  # noqa: F401 - the example needs it
except ImportError:
    ssim.__doc__ = ssim.__doc__.split("    Examples")[0]
