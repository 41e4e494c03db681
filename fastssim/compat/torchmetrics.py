"""``from fastssim.compat.torchmetrics import structural_similarity_index_measure, ...``: torchmetrics'
SSIM and MS-SSIM computed by fastssim (`fastssim.integrations.torchmetrics`)."""

from ..integrations import torchmetrics as _impl
from ..integrations.torchmetrics import (__all__, multiscale_structural_similarity_index_measure,  # noqa: F401
                                         structural_similarity_index_measure)


def __getattr__(name):
    return getattr(_impl, name)  # the metric classes, built on first use
