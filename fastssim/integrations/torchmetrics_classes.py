"""torchmetrics' metric classes, ``StructuralSimilarityIndexMeasure`` and
``MultiScaleStructuralSimilarityIndexMeasure``, with an ``update`` that computes through fastssim
(`fastssim.integrations.torchmetrics`); built on first use, since they need torchmetrics."""

from .torchmetrics import _check_inputs, _ms_update, _update

__all__ = ["StructuralSimilarityIndexMeasure", "MultiScaleStructuralSimilarityIndexMeasure"]  # noqa: F822


def _classes():
    """torchmetrics' metric classes with an ``update`` that computes through fastssim."""
    from torchmetrics.image import MultiScaleStructuralSimilarityIndexMeasure as _MS
    from torchmetrics.image import StructuralSimilarityIndexMeasure as _SSIM

    class StructuralSimilarityIndexMeasure(_SSIM):
        """torchmetrics' ``StructuralSimilarityIndexMeasure`` (same constructor, states,
        ``compute``, ``reset``, ``forward`` and distributed reduction), its ``update`` computed by
        fastssim."""

        def update(self, preds, target):
            preds, target = _check_inputs(preds, target)
            pack = _update(preds, target, self.gaussian_kernel, self.sigma, self.kernel_size, self.data_range,
                           self.k1, self.k2, self.return_full_image, self.return_contrast_sensitivity)
            similarity = pack[0] if isinstance(pack, tuple) else pack
            if self.return_contrast_sensitivity or self.return_full_image:
                self.image_return.append(pack[1])
            if self.reduction in ("elementwise_mean", "sum"):
                self.similarity += similarity.sum()
                self.total += preds.shape[0]
            else:
                self.similarity.append(similarity)

    class MultiScaleStructuralSimilarityIndexMeasure(_MS):
        """torchmetrics' ``MultiScaleStructuralSimilarityIndexMeasure``, its ``update`` computed
        by fastssim."""

        def update(self, preds, target):
            preds, target = _check_inputs(preds, target)
            similarity = _ms_update(preds, target, self.gaussian_kernel, self.sigma, self.kernel_size,
                                    self.data_range, self.k1, self.k2, self.betas, self.normalize)
            if self.reduction in ("none", None):
                self.similarity.append(similarity)
            else:
                self.similarity += similarity.sum()
            self.total += preds.shape[0]

    for cls in (StructuralSimilarityIndexMeasure, MultiScaleStructuralSimilarityIndexMeasure):
        cls.__qualname__ = cls.__name__  # found by pickle as a module attribute (checkpoints, workers)
    return StructuralSimilarityIndexMeasure, MultiScaleStructuralSimilarityIndexMeasure


def __getattr__(name):
    """The metric classes, built on first use (they need torchmetrics installed)."""
    if name in ("StructuralSimilarityIndexMeasure", "MultiScaleStructuralSimilarityIndexMeasure"):
        try:
            classes = dict(zip(("StructuralSimilarityIndexMeasure", "MultiScaleStructuralSimilarityIndexMeasure"),
                               _classes()))
        except ImportError as exc:
            raise ImportError(f"fastssim.compat.torchmetrics.{name} is torchmetrics' class with fastssim's update: "
                              f"it needs torchmetrics installed (pip install torchmetrics) ({exc})") from None
        globals().update(classes)
        return classes[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
