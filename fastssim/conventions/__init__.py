"""Conventions: how a call's arguments and preset become what the kernels compute. Input checks
(`checks`), the named presets (`presets`) and the input transforms they use (`transforms`:
colour to grey or luma, border crop, MATLAB's, piq's and libvmaf's downsampling)."""
