"""The Numba CPU kernels (parallel over all cores): fused SSIM, windows, row loading, passes,
reductions, gradient."""

from .threads import prefer_tbb

prefer_tbb()  # before any kernel starts Numba's threads (see `threads`)
