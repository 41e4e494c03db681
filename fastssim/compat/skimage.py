"""Old import path: ``fastssim.compat.skimage`` is now `fastssim.integrations.skimage` (scikit-image's
drop-in); its public names are re-exported here so that existing code keeps working."""

from ..integrations.skimage import *  # noqa: F401,F403
from ..integrations.skimage import __all__  # noqa: F401
