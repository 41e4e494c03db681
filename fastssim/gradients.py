"""Old import path: ``fastssim.gradients`` is now `fastssim.metrics.gradient` (SSIM with its gradient); its public names
are re-exported here so that existing code keeps working."""

from .metrics.gradient import *  # noqa: F401,F403
from .metrics.gradient import __all__  # noqa: F401
