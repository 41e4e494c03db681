"""Old import path: ``fastssim.three_ssim`` is now `fastssim.metrics.three_ssim` (3-SSIM); its public names
are re-exported here so that existing code keeps working."""

from .metrics.three_ssim import *  # noqa: F401,F403
from .metrics.three_ssim import __all__  # noqa: F401
