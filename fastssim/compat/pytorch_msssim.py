"""``from fastssim.compat.pytorch_msssim import ssim, ms_ssim, SSIM, MS_SSIM``: pytorch_msssim's
API computed by fastssim (`fastssim.integrations.pytorch_msssim`)."""

from ..integrations.pytorch_msssim import *  # noqa: F401,F403
from ..integrations.pytorch_msssim import DEFAULT_WEIGHTS, ImageSizeError, __all__  # noqa: F401
