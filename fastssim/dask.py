"""``fastssim.dask``: SSIM, MS-SSIM, PSNR and MSE of ``dask.array`` inputs larger than memory
(``pip install 'fastssim[dask]'``); see `fastssim.integrations.dask_arrays`.

Examples
--------
>>> import dask.array as da, fastssim.dask
>>> x = da.zeros((64, 64), dtype="uint8", chunks=32)
>>> fastssim.dask.ssim(x, x)
1.0
"""

from .integrations.dask_arrays import ms_ssim, mse, psnr, ssim, ssim_map

__all__ = ["ssim", "ms_ssim", "ssim_map", "psnr", "mse"]
