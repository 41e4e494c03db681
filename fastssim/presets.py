"""Old import path: ``fastssim.presets`` is now `fastssim.conventions.presets` (the named conventions); its public names
are re-exported here so that existing code keeps working."""

from .conventions.presets import *  # noqa: F401,F403
from .conventions.presets import __all__  # noqa: F401
