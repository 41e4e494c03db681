"""The numbers of the "Why do the libraries disagree?" page, computed when the docs are built.

One real pair (scikit-image's public-domain ``astronaut`` photograph and the same image saved as a
JPEG at quality 15, 512x512 RGB uint8) goes to every library installed here, called as its own
documentation calls it, and to fastssim with the preset that reproduces it. The build fails when a
library's number and its preset's differ by more than the tolerance the preset is tested to, so the
page cannot state an agreement that does not hold.
"""

import importlib
import importlib.util
import io
import re
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np

import fastssim


def pair():
    """The reference (astronaut) and its JPEG (quality 15), (512, 512, 3) uint8."""
    from PIL import Image
    from skimage import data

    ref = data.astronaut()
    buf = io.BytesIO()
    Image.fromarray(ref).save(buf, format="JPEG", quality=15)
    return ref, np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _torch(a):
    import torch

    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0)[None])).double()


def _pyiqa_arch():
    """pyiqa's SSIM module without its model zoo (installed with ``pip install --no-deps pyiqa``)."""
    spec = importlib.util.find_spec("pyiqa")
    root = Path(spec.origin).parent
    for name in ("pyiqa", "pyiqa.archs", "pyiqa.utils"):
        if name not in sys.modules:
            module = types.ModuleType(name)
            module.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
            sys.modules[name] = module
    return importlib.import_module("pyiqa.archs.ssim_arch")


def _ffmpeg(x, y):
    import imageio.v3 as iio

    with tempfile.TemporaryDirectory() as tmp:
        pa, pb = Path(tmp, "a.png"), Path(tmp, "b.png")
        iio.imwrite(pa, x)
        iio.imwrite(pb, y)
        out = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(pa), "-i", str(pb), "-lavfi",
                              "ssim=stats_file=-", "-f", "null", "-"], capture_output=True, text=True, check=True)
    return float(re.search(r"All:([0-9.]+)", out.stdout).group(1))


def _skimage(x, y, **kw):
    from skimage.metrics import structural_similarity

    return structural_similarity(x, y, channel_axis=-1, data_range=255, **kw)


def _pytorch_msssim(x, y, ms=False):
    import pytorch_msssim

    f = pytorch_msssim.ms_ssim if ms else pytorch_msssim.ssim
    return float(f(_torch(x), _torch(y), data_range=255))


def _torchmetrics(x, y, ms=False):
    from torchmetrics.functional.image import (multiscale_structural_similarity_index_measure,
                                               structural_similarity_index_measure)

    f = multiscale_structural_similarity_index_measure if ms else structural_similarity_index_measure
    return float(f(_torch(x) / 255, _torch(y) / 255))


def _kornia(x, y):
    import kornia

    return float(kornia.metrics.ssim(_torch(x) / 255, _torch(y) / 255, 11).mean())


def _monai(x, y):
    from monai.metrics import SSIMMetric

    return float(SSIMMetric(spatial_dims=2, data_range=255.0)(_torch(x), _torch(y)).mean())


def _sewar(x, y):
    from sewar.full_ref import ssim

    return float(ssim(x, y)[0])


def _pyiqa(x, y):
    return float(_pyiqa_arch().SSIM(test_y_channel=True)(_torch(x) / 255, _torch(y) / 255))


#: (library and call, what it needs installed or None, how to call it, fastssim's reproduction (code
#: shown on the page), the call reproducing it, tolerance)
ROWS = [
    ("scikit-image `structural_similarity(x, y, channel_axis=-1, data_range=255)`", "skimage", _skimage,
     'ssim(x, y, channel_axis=-1, preset="skimage")',
     lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="skimage"), 1e-12),
    ("scikit-image, Wang's options (`gaussian_weights=True, sigma=1.5, use_sample_covariance=False`)",
     "skimage", lambda x, y: _skimage(x, y, gaussian_weights=True, sigma=1.5, use_sample_covariance=False),
     "ssim(x, y, channel_axis=-1)", lambda x, y: fastssim.ssim(x, y, channel_axis=-1), 1e-5),
    ("MATLAB `ssim_index.m` (Wang's code) on `rgb2gray`", None, None,
     'ssim(x, y, channel_axis=-1, preset="matlab")',
     lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="matlab"), None),
    ("MATLAB `ssim.m` (2009, downsamples by 2 at 512 px)", None, None,
     'ssim(x, y, channel_axis=-1, preset="matlab2009")',
     lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="matlab2009"), None),
    ("pytorch_msssim `ssim(X, Y, data_range=255)`", "pytorch_msssim", _pytorch_msssim,
     'ssim(x, y, channel_axis=-1, preset="pytorch_msssim")',
     lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="pytorch_msssim"), 1e-5),
    ("torchmetrics `structural_similarity_index_measure(X / 255, Y / 255)`", "torchmetrics", _torchmetrics,
     'ssim(x, y, channel_axis=-1, preset="torchmetrics")',
     lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="torchmetrics"), 1e-5),
    ("kornia `metrics.ssim(X / 255, Y / 255, 11).mean()`", "kornia", _kornia,
     'ssim(x, y, channel_axis=-1, preset="kornia", data_range=255)',
     lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="kornia", data_range=255), 1e-5),
    ("MONAI `SSIMMetric(spatial_dims=2, data_range=255)`", "monai", _monai,
     "ssim(x, y, channel_axis=-1)", lambda x, y: fastssim.ssim(x, y, channel_axis=-1), 2e-5),
    ("sewar `full_ref.ssim(x, y)`", "sewar", _sewar, 'ssim(x, y, channel_axis=-1, preset="sewar")',
     lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="sewar"), 1e-12),
    ("pyiqa `ssim` (its Y channel)", "pyiqa", _pyiqa, 'ssim(x, y, channel_axis=-1, preset="pyiqa")',
     lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="pyiqa"), 1e-6),
    ("piq `ssim(X / 255, Y / 255)` (downsamples by 2 at 512 px)", None, None,
     'ssim(x, y, channel_axis=-1, preset="piq")',
     lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="piq"), None),
    ("ffmpeg `-lavfi ssim` ('All' of the R, G, B planes)", "ffmpeg", _ffmpeg,
     'ssim(x, y, channel_axis=-1, preset="ffmpeg")',
     lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="ffmpeg"), 1e-6),
    ("BasicSR `calculate_ssim(..., test_y_channel=True)`", None, None,
     'ssim(x, y, channel_axis=-1, preset="basicsr")',
     lambda x, y: fastssim.ssim(x, y, channel_axis=-1, preset="basicsr"), None),
    ("pytorch_msssim `ms_ssim(X, Y, data_range=255)`", "pytorch_msssim",
     lambda x, y: _pytorch_msssim(x, y, ms=True), 'ms_ssim(x, y, channel_axis=-1, preset="pytorch_msssim")',
     lambda x, y: fastssim.ms_ssim(x, y, channel_axis=-1, preset="pytorch_msssim"), 1e-5),
    ("torchmetrics `multiscale_structural_similarity_index_measure(X / 255, Y / 255)`", "torchmetrics",
     lambda x, y: _torchmetrics(x, y, ms=True), 'ms_ssim(x, y, channel_axis=-1, preset="torchmetrics")',
     lambda x, y: fastssim.ms_ssim(x, y, channel_axis=-1, preset="torchmetrics"), 1e-5),
]

#: the rows' names in the figure, in ROWS' order
SHORT = ["scikit-image (defaults: 7x7 uniform)", "scikit-image (Wang's options)", "MATLAB ssim_index.m (grey)",
         "MATLAB ssim.m 2009 (downsampled)", "pytorch_msssim", "torchmetrics (reflect padding)",
         "kornia (reflect padding)", "MONAI", "sewar (11x11 uniform)", "pyiqa (Y of YIQ)", "piq (downsampled)",
         "ffmpeg (8x8 grid)", "BasicSR (Y of BT.601)", "pytorch_msssim MS-SSIM", "torchmetrics MS-SSIM"]

#: why a library without a Python package here is not run
NOT_RUN = {
    "MATLAB": "MATLAB is not installed; the preset equals `ssim_index.m`'s published output to 1e-13",
    "piq": "piq needs torchvision, which does not install beside this torch; the preset equals a "
           "transcription of its code to 1e-12",
    "BasicSR": "BasicSR is not installed; the preset equals a transcription of its OpenCV code",
}


def _available(need):
    if need is None:
        return False
    if need == "ffmpeg":
        return shutil.which("ffmpeg") is not None
    return importlib.util.find_spec(need) is not None


def compute():
    """One record per row: label, library value (None: not run, with why), reproduction, value, diff."""
    x, y = pair()
    records = []
    for (label, need, theirs, code, ours, tol), short in zip(ROWS, SHORT, strict=True):
        value = ours(x, y)
        record = dict(label=label, short=short, code=code, fastssim=value, library=None, why=None)
        if _available(need):
            got = theirs(x, y)
            if abs(got - value) > tol:
                raise RuntimeError(f"{label}: the library gives {got!r}, {code} gives {value!r}, "
                                   f"more than {tol} apart: the disagreement page would be wrong")
            record.update(library=got, tol=tol)
        else:
            record["why"] = next((v for k, v in NOT_RUN.items() if label.startswith(k) or k in label),
                                 f"`{need}` is not installed where these docs were built")
        records.append(record)
    return records


def _option(code):
    """The part of fastssim's call that names the convention: ``preset="skimage"``, or the default."""
    inner = code[code.index("(") + 1:-1].replace("x, y, channel_axis=-1", "").strip(", ")
    return f"`{inner}`" if inner else "the default"


def markdown(records):
    lines = ["| library, as its documentation calls it | its value | fastssim's option | fastssim | apart |",
             "|---|---:|---|---:|---:|"]
    for r in records:
        theirs = f"{r['library']:.6f}" if r["library"] is not None else "not run"
        apart = f"{max(abs(r['library'] - r['fastssim']), 1e-16):.0e}" if r["library"] is not None else ""
        fn = "MS-SSIM: " if r["code"].startswith("ms_ssim") else ""
        lines.append(f"| {r['label']} | {theirs} | {fn}{_option(r['code'])} | {r['fastssim']:.6f} | {apart} |")
    notes = [f"- {r['label'].split(' `')[0]}: {r['why']}." for r in records if r["why"]]
    return ("\n".join(lines) + "\n\nNot run when these docs were built:\n\n" + "\n".join(dict.fromkeys(notes))
            + "\n")


def figures(records, out):
    """Two figures: the pair's values by library, and the windows the libraries use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    single = [r for r in records if r["code"].startswith("ssim(")]
    fig, ax = plt.subplots(figsize=(8, 4.6), layout="constrained")
    ran = [i for i, r in enumerate(single) if r["library"] is not None]
    preset_only = [i for i, r in enumerate(single) if r["library"] is None]
    ax.scatter([single[i]["library"] for i in ran], ran, color="C0", zorder=3, label="the library, run here")
    ax.scatter([single[i]["fastssim"] for i in preset_only], preset_only, facecolor="none", edgecolor="C0",
               zorder=3, label="its preset (the library not run here)")
    ax.set_yticks(range(len(single)), [r["short"] for r in single])
    fig.legend(fontsize=8, loc="outside upper center", ncols=2)
    ax.invert_yaxis()
    ax.grid(axis="x", alpha=0.4)
    ax.set_xlabel("SSIM of the same pair (astronaut vs its JPEG at quality 15)")
    fig.savefig(out / "disagreement_values.png", dpi=110)
    plt.close(fig)

    from fastssim.kernels.math import window_weights

    fig, ax = plt.subplots(figsize=(7.5, 3.0), layout="constrained")
    for n, gaussian, label in ((11, True, "11-tap Gaussian, σ = 1.5 (Wang, most libraries)"),
                               (7, False, "7×7 uniform (scikit-image's default)"),
                               (8, False, "8×8 uniform (ffmpeg, every 4th pixel)"),
                               (11, False, "11×11 uniform (sewar)")):
        w = window_weights(n, 1.5, gaussian)
        ax.step(np.arange(n) - (n - 1) / 2, w, where="mid", label=label)
    ax.set_xlabel("offset from the window's centre (pixels)")
    ax.set_ylabel("weight along one axis")
    ax.legend(fontsize=8)
    fig.savefig(out / "disagreement_windows.png", dpi=110)
    plt.close(fig)
