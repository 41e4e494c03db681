"""Old import path: ``fastssim.cwssim`` is now `fastssim.metrics.cwssim` (CW-SSIM); its public names
are re-exported here so that existing code keeps working."""

from .metrics.cwssim import *  # noqa: F401,F403
from .metrics.cwssim import __all__  # noqa: F401
