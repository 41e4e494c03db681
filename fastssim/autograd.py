"""The first PyTorch wrapper, kept as an alias of `fastssim.torch` (which adds
``reduction``, float32 work for float32/16 tensors and the `fastssim.torch.SSIMLoss` module)."""

from .integrations.torch import SSIMFunction, _need_torch
from .integrations.torch import ssim as _ssim

__all__ = ["ssim", "SSIMFunction"]


def ssim(x, y, data_range, win_size=11, sigma=1.5):
    """Differentiable mean SSIM of two (N, C, H, W) or (N, C, D, H, W) tensors:
    ``fastssim.torch.ssim(x, y, data_range=data_range, win_size=win_size, sigma=sigma)``
    (see there for ``reduction`` and the examples).
    """
    _need_torch()
    return _ssim(x, y, data_range=data_range, win_size=win_size, sigma=sigma)
