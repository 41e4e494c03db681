"""Compute only, never validate: the one SSIM formula (`math`), compiled for the CPU (`cpu`) and
for NVIDIA GPUs (`cuda`), and the engine that launches either and reduces their sums (`engine`,
`engine_ms`, `engine_gradient`)."""
