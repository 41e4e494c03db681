"""Exact window sums for 8-bit images under a uniform window (scikit-image's default: 7x7).

For uint8 images the moments the SSIM kernel filters, ``x``, ``y``, ``x^2 + y^2`` and
``(x - y)^2``, are integers, at most 2 * 255^2 = 130050; summed over a window of at most 121
samples with weights 1 they stay integers below 2^24 = 16777216, which float32 holds exactly,
whatever the order of the additions. So for a uniform window the kernel sums instead of
averaging: float32 passes with taps 1 (no rounding anywhere), the last pass a box of running
sums (two additions an output, whatever the window's size). The formula
(`cpu.box.formula_row_exact`) takes the variances from the sums exactly: with ``n`` samples,
``n^2 (vx + vy) = n S(x^2 + y^2) - S(x)^2 - S(y)^2`` and ``n^2 var(x - y) = n S((x - y)^2) -
(S(x) - S(y))^2`` are integers below 2^31, exact in float64, and the formula runs in float64 on
them. No difference of large rounded numbers is left anywhere, so the mean is the float64
computation's to about 1e-15, for every call:

- calls that compute in float64 (the presets that reproduce a float64 implementation,
  scikit-image's drop-in), with float32 passes: 1.3x the float64 passes at 1024^2;
- float32 calls (no preset, or a float32 library's convention), which the weighted float32
  passes computed to 5e-6 of float64 on binary images (flat regions far from a task's level),
  now within float32's rounding of the constants C1 and C2 (a few 1e-9), at 0.93-0.95x the
  speed of those passes (`python -m benchmarks.ab_versions --only uniform`); their maps too
  ('valid' or 'same', and masked means): each pixel the float64 value rounded to float32, where
  the weighted passes were up to 1.8e-4 off.
"""

import numpy as np

#: The most samples a window may have: 121 * 130050 < 2^24.
MAX_WINDOW = 121
#: The fewest taps per axis (the box pass produces four outputs per sweep).
MIN_TAPS = 4


def constants(xk, yk, wins, spatial_ndim, plain, consts):
    """The kernel's ``exact`` argument, ``[1 / n, C1, C2, cov_norm, cs_floor, eps, n]``
    (``consts``' five, `engine.kernel_constants`; ``n`` the window's samples), when
    the exact sums apply: uint8 images, 2-D, and a uniform window along both axes of `MIN_TAPS`
    taps or more and at most `MAX_WINDOW` samples; a call that computes in float64 only if it is
    'plain' (no padding, map or mask: its map would be float32, the passes' dtype, where the
    weighted float64 passes give it in float64); else None. float64 whatever the call's dtype (the
    formula's; a float32 call's constants are its float32 numbers)."""
    if spatial_ndim != 2 or xk.dtype != np.uint8 or yk.dtype != np.uint8:
        return None
    if not plain and consts.dtype != np.float32:
        return None
    if any(w.size < MIN_TAPS or not (w == w[0]).all() for w in wins):
        return None
    size = wins[0].size * wins[1].size
    if size > MAX_WINDOW:
        return None
    return np.array([1.0 / size, *(float(c) for c in consts[:5]), size], dtype=np.float64)


def unit_taps(k):
    """``k`` taps of 1, float32: the window passes then sum."""
    return (np.float32(1.0),) * k
