"""The numba.cuda kernels and everything that touches ``numba.cuda``: device arrays, SSIM,
errors, gradient."""
