"""kornia's SSIM computed by fastssim (`fastssim.integrations.kornia`): replace
``from kornia.metrics import ssim`` by ``from fastssim.compat.kornia.metrics import ssim``, and
``from kornia.losses import SSIMLoss`` by ``from fastssim.compat.kornia.losses import SSIMLoss``
(or ``from fastssim.compat import kornia`` for ``kornia.metrics.ssim`` and
``kornia.losses.SSIMLoss`` as attributes)."""

from . import losses, metrics

__all__ = ["metrics", "losses"]
