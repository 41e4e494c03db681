"""fastssim: fast SSIM, DSSIM, PSNR, MSE, L2 and cosine for 2-D images and 3-D volumes.

Numba-compiled, fused, parallel kernels; results equal scikit-image's.
"""

from ._version import __version__
from .metrics.compile import compile
from . import three_ssim as _three_ssim_path  # noqa: F401 - the old module path, loaded before the function
from .metrics import (MS_SSIM_WEIGHTS, cosine, cosine_channels, cw_ssim, dssim, l2, l2_channels, ms_ssim, ms_ssim_batch,
                      ms_ssim_batch_with_gradient, ms_ssim_slices, mse, mse_batch, psnr, ssim, ssim_batch,
                      ssim_batch_with_gradient, ssim_map, ssim_slices, ssim_slices_masked, ssim_with_gradient,
                      three_ssim)


def __getattr__(name):
    """``score_pairs``, ``score_dataset`` and ``ConfigError`` load the batch scorer (and pyarrow) on
    first use, so that ``import fastssim`` for the metric functions does not pay for them."""
    if name in ("score_pairs", "score_dataset", "ConfigError"):
        from . import batch

        return getattr(batch, name)
    raise AttributeError(f"module 'fastssim' has no attribute {name!r}")


__all__ = ["__version__", "ssim", "ssim_map", "ssim_batch", "ssim_slices", "ssim_with_gradient",
           "ssim_batch_with_gradient", "ms_ssim_batch_with_gradient", "dssim", "psnr", "mse",
           "ms_ssim", "ms_ssim_batch", "ms_ssim_slices", "mse_batch", "l2", "cosine", "l2_channels", "cosine_channels",
           "ssim_slices_masked", "cw_ssim", "three_ssim", "MS_SSIM_WEIGHTS", "score_pairs", "score_dataset", "compile",
           "ConfigError"]
