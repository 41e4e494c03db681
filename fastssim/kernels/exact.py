"""Exact window sums for 8-bit images under a uniform window (scikit-image's default: 7x7).

For uint8 images the moments the SSIM kernel filters, ``x``, ``y``, ``x^2 + y^2`` and
``(x - y)^2``, are integers, at most 2 * 255^2 = 130050; summed over a window of at most 121
samples with weights 1 they stay integers below 2^24 = 16777216, which float32 holds exactly,
whatever the order of the additions. So for a uniform window the kernel sums instead of
averaging: float32 passes with taps 1 (no rounding anywhere, and so no cancellation in
``E[x^2] - E[x]^2``: binary images, flat regions far from the task's level), the last pass a box of
running sums (two additions an output, whatever the window's size), and the SSIM formula in
float64 on the sums times ``1 / window size``. For the calls that compute in float64 (the
presets that reproduce a float64 implementation, scikit-image's drop-in) the means are then those
of a float64 computation to about 1e-15, with float32 passes (`kernels.cpu.ssim.ssim_sums`, its
``exact``): 1.3x the float64 passes at 1024^2.
"""

import numpy as np

#: The most samples a window may have: 121 * 130050 < 2^24.
MAX_WINDOW = 121
#: The fewest taps per axis (the box pass produces four outputs per sweep).
MIN_TAPS = 4


def constants(xk, yk, wins, spatial_ndim, plain, consts):
    """The kernel's ``exact`` argument, ``[1 / window size, C1, C2, cov_norm, cs_floor, eps]``
    (float64, ``consts``' five, `engine.kernel_constants`), when the exact sums apply: a call that
    computes in float64 (``consts`` float64: a float64 preset, the scikit-image drop-in), uint8
    images, 2-D, a 'plain' call (no padding, map or mask) and a uniform window along both axes of
    `MIN_TAPS` taps or more and at most `MAX_WINDOW` samples; else None. A float32 call keeps its
    weighted passes: with the float64 formula it was slower (683 against 745 Mpx/s at 1024^2)."""
    if consts.dtype != np.float64 or spatial_ndim != 2 or not plain or xk.dtype != np.uint8 or yk.dtype != np.uint8:
        return None
    if any(w.size < MIN_TAPS or not (w == w[0]).all() for w in wins):
        return None
    size = wins[0].size * wins[1].size
    if size > MAX_WINDOW:
        return None
    return np.array([1.0 / size, *(float(c) for c in consts[:5])], dtype=np.float64)


def unit_taps(k):
    """``k`` taps of 1, float32: the window passes then sum."""
    return (np.float32(1.0),) * k
