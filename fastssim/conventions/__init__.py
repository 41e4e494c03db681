"""Conventions: how a call's arguments and preset become what the kernels compute. Input checks
(`checks`), the data range in one vocabulary and one resolver (`data_range`), the named presets
(`presets`), the input transforms they use (`transforms`: colour to grey or luma, border crop,
MATLAB's, piq's and libvmaf's downsampling), and the frozen `Convention` a call resolves to
(`resolve`)."""
