"""The Numba CPU kernels (parallel over all cores): fused SSIM, windows, row loading, passes,
reductions, gradient."""
