"""Old import path: ``fastssim.torch`` is now `fastssim.integrations.torch` (the PyTorch functions and
losses); its public names are re-exported here so that existing code keeps working."""

from .integrations.torch import *  # noqa: F401,F403
from .integrations.torch import __all__  # noqa: F401
