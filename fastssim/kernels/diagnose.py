"""Why a result is not finite: the first NaN or Inf of an input (copied from the GPU if need be),
or the constant (K1 or K2 of 0) or the float32 overflow that made it so."""

import numpy as np

from .arrays import is_device_array


def nonfinite_error(name, index):
    """The error for input ``name`` holding NaN or Inf, first at ``index``."""
    idx = tuple(int(i) for i in index)
    return ValueError(f"{name} contains NaN or Inf (first at index {idx}); "
                      "replace or mask non-finite values before scoring")


def nonfinite_input(x, y):
    """The error naming the first NaN or infinite element of ``x`` or ``y``, or None."""
    for name, a in (("x", x), ("y", y)):
        if is_device_array(a):
            from .cuda.arrays import launchable

            a = launchable(a).copy_to_host()
        if a.dtype.kind == "f":
            bad = ~np.isfinite(a)
            if bad.any():
                return nonfinite_error(name, np.argwhere(bad)[0])
    return None


def diagnose_nonfinite(x, y, k1, k2):
    """The error to raise for a non-finite result, naming its cause."""
    err = nonfinite_input(x, y)
    if err is not None:
        return err
    if k1 == 0 or k2 == 0:
        return ValueError(
            "SSIM is 0/0 in flat regions when K1 or K2 is 0; use positive K1 and K2 "
            "(defaults 0.01 and 0.03)"
        )
    return ValueError(
        "SSIM overflowed: the squared values exceed the float32 range; "
        "pass float64 input or rescale the data"
    )
