"""The public array API: each function checks its arguments, resolves its convention
(`fastssim.conventions`), calls the engine (`fastssim.kernels.engine`) and returns floats or
arrays. Everything here is also importable from ``fastssim``."""

from .structural import dssim, ssim, ssim_batch, ssim_map
from .slices import ssim_slices, ssim_slices_masked
from .distances import mse, mse_batch, psnr
from .products import cosine, cosine_channels, l2, l2_channels
from .multiscale import MS_SSIM_WEIGHTS, ms_ssim, ms_ssim_batch, ms_ssim_slices
from .gradient import ms_ssim_batch_with_gradient, ssim_batch_with_gradient, ssim_with_gradient
from .cwssim import cw_ssim
from .three_ssim import THREE_SSIM_WEIGHTS, three_ssim, three_ssim_regions

__all__ = ["ssim", "ssim_map", "ssim_batch", "ssim_slices", "ssim_slices_masked", "dssim", "psnr", "mse", "mse_batch",
           "l2", "cosine", "l2_channels", "cosine_channels",
           "ms_ssim", "ms_ssim_batch", "ms_ssim_slices", "MS_SSIM_WEIGHTS", "ssim_with_gradient",
           "ssim_batch_with_gradient", "ms_ssim_batch_with_gradient", "cw_ssim", "three_ssim",
           "THREE_SSIM_WEIGHTS", "three_ssim_regions"]
