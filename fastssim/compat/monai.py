"""``from fastssim.compat.monai import SSIMMetric, MultiScaleSSIMMetric, SSIMLoss, compute_ms_ssim``:
MONAI's SSIM classes computed by fastssim (`fastssim.integrations.monai`)."""

from ..integrations import monai as _impl
from ..integrations.monai import __all__, compute_ms_ssim  # noqa: F401


def __getattr__(name):
    return getattr(_impl, name)  # the classes, built on first use
