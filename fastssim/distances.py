"""Old import path: ``fastssim.distances`` is now `fastssim.metrics.distances` (MSE, PSNR) and
`fastssim.metrics.products` (L2, cosine); their public names are re-exported here so that existing
code keeps working."""

from .metrics.distances import *  # noqa: F401,F403
from .metrics.products import *  # noqa: F401,F403
from .metrics import distances as _d, products as _p

__all__ = _d.__all__ + _p.__all__
