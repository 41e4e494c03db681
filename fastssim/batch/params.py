"""A run's parameters, as every part of its output records them (Parquet key-value metadata
``fastssim.params``): built in one place (`run_params`) for the command line and
``score_pairs(out=)`` alike, so that each resumes the other's output, and compared in one place
(`comparable`) by a resume and by ``fastssim report``.
"""

import os

from .._version import __version__
from ..conventions import data_range as dr

#: The run parameter that says where the pairs' files were read (``writer.input_roots``).
ROOTS = "roots"
#: How files were found and named (where, --suffix, --template, --dist NAME=DIR:TEMPLATE): recorded,
#: but not what makes two runs' numbers comparable.
FINDING = (ROOTS, "suffix", "template", "names")
#: How the numbers were made, recorded for the reader but not compared: the backend asked for
#: (the CPU and the GPU agree to float32's precision), the library versions, and the window,
#: constants, covariance and colour that the preset (recorded and compared) fixes.
PROVENANCE = ("backend", "versions", "window", "K", "covariance", "colour")
#: Values that older outputs left out: a parameter at its default compares equal to its absence.
DEFAULTS = {"data_range": "dtype", "channel_axis": "auto", "missing_chunks": "error", "ms_scales": "standard",
            "mask": None, "video": None}


def versions():
    """The versions of the libraries that compute the numbers."""
    import numba
    import numpy

    return {"fastssim": __version__, "numba": numba.__version__, "numpy": numpy.__version__}


def _describe(preset):
    if preset:
        return dict.fromkeys(("window", "K", "covariance", "colour"), f"preset {preset}")
    return {"window": "gaussian 11 sigma=1.5", "K": [0.01, 0.03], "covariance": "population",
            "colour": "mean of per-channel SSIM"}


def run_params(job, *, metrics=None, video=False, mask=None, finding=None):
    """The parameters of a run of ``job`` (a `batch.score.Job`).

    Parameters
    ----------
    metrics : list of str, optional
        The metric columns (the job's, plus a region's masked ones); default the job's metrics.
    video : bool
        Whether the run scores video pairs (their options are then recorded).
    mask : str, optional
        The directory of the regions' masks (``--mask``), absolute.
    finding : dict, optional
        How the files were found (``suffix``, ``template``, ``names``): recorded, not compared.
    """
    s = job.scoring
    params = {"data_range": dr.recorded(s["data_range"]), "slices": s["slices"], "alpha": job.alpha,
              "max_pixels": job.max_pixels, "metrics": list(metrics if metrics is not None else job.metrics),
              "preset": s["preset"], "y_channel": s["y_channel"], "crop_border": s["crop_border"],
              "channel_axis": s["channel_axis"], "missing_chunks": job.missing_chunks, "ms_scales": s["ms_scales"],
              "video": job.video if video else None, "mask": mask}
    params.update(_describe(s["preset"]), backend=s["backend"], versions=versions())
    params.update({k: v for k, v in (finding or {}).items()})
    return params


def comparable(params):
    """A run's parameters without how its files were found and how its numbers were recorded:
    what must be equal for two runs' numbers to be comparable (defaults as if absent)."""
    params = dict(params or {})
    if "data_range" in params and params["data_range"] is None:  # as score_pairs recorded it before 0.x
        params["data_range"] = "dtype"
    return {k: v for k, v in params.items()
            if k not in FINDING and k not in PROVENANCE and not (k in DEFAULTS and v == DEFAULTS[k])}


def input_roots(ref_root, dist_roots, methods):
    """Where a run's pairs are read, as recorded in its parts: ``{"ref": DIR, "dist": {method:
    DIR}}``, each directory resolved (symbolic links followed, a relative path from the working
    directory), for the ``methods`` (None as '') whose pairs the run scores."""
    def where(root):
        return os.path.realpath(root or os.getcwd())

    return {"ref": where(ref_root),
            "dist": {("" if m is None else str(m)): where(root) for m, root in sorted(
                dist_roots.items(), key=lambda kv: "" if kv[0] is None else str(kv[0])) if m in methods}}
