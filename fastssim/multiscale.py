"""Old import path: ``fastssim.multiscale`` is now `fastssim.metrics.multiscale` (MS-SSIM); its public names
are re-exported here so that existing code keeps working."""

from .metrics.multiscale import *  # noqa: F401,F403
from .metrics.multiscale import __all__  # noqa: F401
