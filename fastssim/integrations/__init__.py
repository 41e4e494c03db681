"""Bridges to other array and compute libraries: ``dask_arrays`` (out-of-core SSIM of
``dask.array`` inputs, public as ``fastssim.dask``)."""
