"""``from fastssim.compat.torchmetrics import structural_similarity_index_measure, ...``: torchmetrics'
SSIM and MS-SSIM computed by fastssim (`fastssim.integrations.torchmetrics`), and its metric classes
(`fastssim.integrations.torchmetrics_classes`, built on first use)."""

from ..integrations import torchmetrics_classes as _classes
from ..integrations.torchmetrics import multiscale_structural_similarity_index_measure  # noqa: F401
from ..integrations.torchmetrics import structural_similarity_index_measure  # noqa: F401

__all__ = ["structural_similarity_index_measure", "multiscale_structural_similarity_index_measure",  # noqa: F822
           "StructuralSimilarityIndexMeasure", "MultiScaleStructuralSimilarityIndexMeasure"]  # (module __getattr__)


def __getattr__(name):
    return getattr(_classes, name)  # the metric classes, built on first use
