"""``from fastssim.compat.kornia.losses import ssim_loss, ssim3d_loss, SSIMLoss, SSIM3DLoss``:
kornia.losses' SSIM losses computed by fastssim (`fastssim.integrations.kornia`)."""

from ...integrations.kornia import SSIM3DLoss, SSIMLoss, ssim3d_loss, ssim_loss

__all__ = ["ssim_loss", "ssim3d_loss", "SSIMLoss", "SSIM3DLoss"]
