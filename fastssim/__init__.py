"""fastssim: fast SSIM, DSSIM, PSNR, MSE, L2 and cosine for 2-D images and 3-D volumes.

Numba-compiled, fused, parallel kernels; results equal scikit-image's.

The public names load on first use (PEP 562): ``import fastssim`` imports neither Numba nor the
kernels, so that importing it costs little where nothing is scored (a command's ``--help``, a
module that imports it at the top); the first metric call then imports them.
"""

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

# The old module path ``fastssim.three_ssim`` is loaded first (it loads nothing itself), and its
# binding on the package dropped, so that the package's ``three_ssim`` is the function
# (`__getattr__`) even after ``import fastssim.three_ssim``. Relative: the package is also imported
# under another name (`benchmarks.ab_versions`).
importlib.import_module(".three_ssim", __name__)
globals().pop("three_ssim")

#: The metric functions and constants: in `fastssim.metrics`.
_METRICS = ("MS_SSIM_WEIGHTS", "cosine", "cosine_channels", "cw_ssim", "dssim", "l2", "l2_channels", "ms_ssim",
            "ms_ssim_batch", "ms_ssim_batch_with_gradient", "ms_ssim_slices", "mse", "mse_batch", "psnr", "ssim",
            "ssim_batch", "ssim_batch_with_gradient", "ssim_map", "ssim_slices", "ssim_slices_masked",
            "ssim_with_gradient", "three_ssim")
#: The kernels' threads: in `fastssim.kernels.cpu.threads`.
_THREADS = ("get_num_threads", "set_num_threads", "threads")
#: The batch scorer's names: in `fastssim.batch` (which loads pyarrow).
_BATCH = ("score_pairs", "score_dataset", "ConfigError")

if TYPE_CHECKING:  # what static tools see; at run time `__getattr__` loads them
    from .batch import ConfigError, score_dataset, score_pairs
    from .metrics import (MS_SSIM_WEIGHTS, cosine, cosine_channels, cw_ssim, dssim, l2, l2_channels, ms_ssim,
                          ms_ssim_batch, ms_ssim_batch_with_gradient, ms_ssim_slices, mse, mse_batch, psnr, ssim,
                          ssim_batch, ssim_batch_with_gradient, ssim_map, ssim_slices, ssim_slices_masked,
                          ssim_with_gradient)
    from .metrics import three_ssim  # type: ignore[no-redef]  # the function, not the old module path
    from .metrics.compile import compile
    from .kernels.cpu.threads import get_num_threads, set_num_threads, threads


def __getattr__(name):
    """Load a public name on first use (then it is an attribute like any other)."""
    if name in _METRICS:
        from . import metrics as module
    elif name == "compile":
        from .metrics import compile as module
    elif name in _THREADS:
        from .kernels.cpu import threads as module
    elif name in _BATCH:
        from . import batch as module
    else:
        raise AttributeError(f"module 'fastssim' has no attribute {name!r}")
    value = getattr(module, name)
    if name not in _BATCH:  # the scorer's names stay looked up (as before)
        globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


__all__ = ["__version__", "ssim", "ssim_map", "ssim_batch", "ssim_slices", "ssim_with_gradient",
           "ssim_batch_with_gradient", "ms_ssim_batch_with_gradient", "dssim", "psnr", "mse",
           "ms_ssim", "ms_ssim_batch", "ms_ssim_slices", "mse_batch", "l2", "cosine", "l2_channels", "cosine_channels",
           "ssim_slices_masked", "cw_ssim", "three_ssim", "MS_SSIM_WEIGHTS", "score_pairs", "score_dataset", "compile",
           "ConfigError", "get_num_threads", "set_num_threads", "threads"]
