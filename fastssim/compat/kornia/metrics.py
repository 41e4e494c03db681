"""``from fastssim.compat.kornia.metrics import ssim, ssim3d, SSIM, SSIM3D``: kornia.metrics' SSIM
computed by fastssim (`fastssim.integrations.kornia`)."""

from ...integrations.kornia import SSIM, SSIM3D, ssim, ssim3d

__all__ = ["ssim", "ssim3d", "SSIM", "SSIM3D"]
