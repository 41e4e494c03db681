"""Old import path: ``fastssim.three_ssim`` is now `fastssim.metrics.three_ssim` (3-SSIM); its public names
are re-exported here so that existing code keeps working (loaded on first use, as the package's
names are: importing this path does not import the kernels)."""

__all__ = ["THREE_SSIM_WEIGHTS", "three_ssim", "three_ssim_regions"]  # noqa: F822 - loaded by __getattr__


def __getattr__(name):
    import importlib

    return getattr(importlib.import_module(".metrics.three_ssim", __package__), name)
