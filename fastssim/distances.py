"""Old import path: ``fastssim.distances`` is now `fastssim.metrics.distances` (MSE, PSNR, L2, cosine); its public names
are re-exported here so that existing code keeps working."""

from .metrics.distances import *  # noqa: F401,F403
from .metrics.distances import __all__  # noqa: F401
