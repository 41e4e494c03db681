"""Named conventions that reproduce other implementations' SSIM numbers.

Each preset fixes the window, the covariance normalisation, the padding and the
averaged region, the data range and the colour handling. ``fastssim presets``
lists them.
"""

import dataclasses
import math

import numpy as np


__all__ = ["Preset", "PRESETS", "WINDOW_DEFAULTS", "get"]


@dataclasses.dataclass(frozen=True)
class Preset:
    name: str
    reproduces: str
    win_size: int = 11
    sigma: float = 1.5
    gaussian: bool = True
    sample_covariance: bool = False
    #: 'valid': mean over windows inside the image; 'same-reflect': mean of the full
    #: map, the image extended by reflection without repeating the edge (PyTorch's 'reflect')
    region: str = "valid"
    #: the rule used when the call gives no data_range (`fastssim.conventions.data_range`): 'dtype',
    #: a number, 'pair': the larger of the two images' spans (over a whole batch), 'dtype-max': an
    #: integer dtype's maximum (1.0 for float input), 'dtype-or-one': its range (1.0 for float input)
    data_range: object = "dtype"
    #: 'channels' (mean of per-channel SSIM), 'matlab-gray' (rgb2gray) or 'y-bt601'
    colour: str = "channels"
    #: 'matlab2009': ssim.m's automatic f x f box filter and subsampling
    downsample: str | None = None
    #: whether MS-SSIM has a defined convention under this preset, and its name
    #: (``kernels.engine_ms.CONVENTIONS``)
    ms_ssim: bool = False
    ms_convention: str = "wang"
    #: MS-SSIM's window when it differs from SSIM's: True for a Gaussian (sewar's msssim)
    ms_gaussian: bool | None = None
    #: window options the caller may still set (the others are fixed)
    free: tuple = ()
    #: a Gaussian window's taps follow sigma: 'torchmetrics' 2 * int(3.5 sigma + 0.5) + 1,
    #: 'matlab' 2 * ceil(3 sigma) + 1 ('' : they do not)
    taps_from_sigma: str = ""
    #: each window's contrast-structure term floored here before the product (0: pyiqa's
    #: per-pixel ReLU; -inf: none)
    cs_floor: float = -math.inf
    #: added to each window's SSIM denominator (kornia's ``eps``, 1e-12; 0: Wang et al.'s SSIM).
    #: It moves windows whose denominator is small: two black images score 0.99998889 at a data
    #: range of 1, as kornia's, and the mean over a half-black image moves by about 4e-6
    eps: float = 0.0
    #: explicit 1-D window taps (float32 numbers, not renormalised) that replace the Gaussian
    #: the other fields describe (libvmaf's iqa window, printed to 6 decimals in its source)
    taps: tuple | None = None
    #: 'float64': computed in float64 whatever the input dtype, as the implementation reproduced
    #: computes (in double), so that its numbers are reproduced on 8- and 16-bit input as closely
    #: as on float64 input; 'input': the work dtype follows the input, as for calls without a
    #: preset (float32 for 8- and 16-bit integers and float32: twice the speed)
    precision: str = "input"
    #: True: a volume is scored as its 2-D slices along axis 0, their SSIM averaged, with one data
    #: range for the volume (fastMRI's evaluation); the 3-D window is not used
    slices: bool = False
    #: what the preset was tested against (``fastssim presets`` prints it)
    tested: str = ""

    def describe(self):
        """One line: what the preset reproduces and what it fixes."""
        if self.gaussian:
            window = f"{self.win_size}-tap Gaussian sigma={self.sigma}"
        else:
            window = f"{self.win_size}x{self.win_size} uniform"
        cov = "sample" if self.sample_covariance else "population"
        region = {"valid": "mean over the valid region",
                  "same-reflect": "mean of the full map (reflect padding)",
                  "same-replicate": "mean of the full map (replicate padding)",
                  "grid": "mean over windows on a 4-pixel grid, constants per sum rounded as ffmpeg"}[self.region]
        if self.taps_from_sigma:
            taps = {"torchmetrics": "2*int(3.5 sigma+0.5)+1", "matlab": "2*ceil(3 sigma)+1"}[self.taps_from_sigma]
            window = f"Gaussian sigma={self.sigma}, {taps} taps"
        if self.free:
            window += f" ({', '.join(self.free)} free)"
        if self.data_range == "dtype":
            rng = "from the dtype"
        elif self.data_range == "pair":
            rng = "max(x.max()-x.min(), y.max()-y.min()) over the call's images"
        elif self.data_range == "dtype-max":
            rng = "the integer dtype's max, 1.0 for float input"
        elif self.data_range == "ref-max":
            rng = "the reference's max (of the whole volume)"
        elif self.data_range == "dtype-or-one":
            rng = "the integer dtype's range, 1.0 for float input"
        else:
            rng = f"{self.data_range:g}"
        colour = {"channels": "mean of per-channel SSIM", "matlab-gray": "RGB to grey as MATLAB rgb2gray",
                  "volume": "an RGB array is a 3-D volume (3-D window across the channels)",
                  "pyiqa-y": "Y of YIQ scaled to [0, 255] and rounded",
                  "pyiqa-rgb": "each channel scaled to [0, 255] and rounded",
                  "y-bt601": "Y of BT.601 YCbCr (studio swing)"}[self.colour]
        if self.taps is not None:
            window += f" as libvmaf's {len(self.taps)} float32 taps (sum {sum(self.taps):.6f}, not renormalised)"
        extra = {None: "", "matlab2009": "; downsampling by max(1, round(min(H, W) / 256)) (f x f box, symmetric)",
                 "piq": "; SSIM downsampled by f x f block means, f = max(1, round(min(H, W) / 256)), "
                        "halves to even",
                 "vmaf": "; decimated by iqa's f x f box (f = max(1, round(min(H, W) / 256)), symmetric "
                         "borders, n // f + n % 2 samples)"}[self.downsample]
        ms = f"; MS-SSIM ({self.ms_convention}" + (", Gaussian window" if self.ms_gaussian else "") + ")" \
            if self.ms_ssim else ""
        tested = f" [tested against {self.tested}]" if self.tested else ""
        if self.cs_floor == 0:
            extra += "; each window's contrast-structure term clamped at 0"
        if self.eps:
            extra += f"; {self.eps:g} added to each window's denominator"
        if self.precision == "float64":
            extra += "; computed in float64 for any input dtype"
        if self.slices:
            extra += "; a volume is scored slice by slice along axis 0 and the slices' SSIM averaged"
        return (f"{self.reproduces}: {window}, {cov} covariance, {region}, data range {rng} "
                f"(unless data_range=), colour: {colour}{extra}{ms}{tested}")


PRESETS = {p.name: p for p in [
    Preset("wang", "Wang et al. 2004 (the default convention; in float64, as Wang's MATLAB code)", ms_ssim=True,
           precision="float64", tested="scikit-image, MATLAB ssim_index.m output, pytorch_msssim"),
    Preset("matlab", "Wang's ssim_index.m / msssim.m", data_range=255.0, colour="matlab-gray", ms_ssim=True,
           precision="float64", tested="MATLAB ssim_index.m output"),
    Preset("matlab2009", "Wang's ssim.m (2009)", data_range=255.0, colour="matlab-gray", downsample="matlab2009",
           precision="float64", tested="a transcription of ssim.m"),
    Preset("skimage", "skimage.metrics.structural_similarity defaults", win_size=7, gaussian=False,
           sample_covariance=True, precision="float64", tested="scikit-image"),
    Preset("fastmri", "fastMRI's evaluate.ssim, the SSIM MRI reconstruction papers report: scikit-image's "
           "defaults per slice, data_range the ground truth's max", win_size=7, gaussian=False, sample_covariance=True,
           data_range="ref-max", slices=True, precision="float64",
           tested="scikit-image per slice with data_range=gt.max(), as fastMRI's evaluate.ssim"),
    Preset("tensorflow", "tf.image.ssim / ssim_multiscale", ms_ssim=True, tested="the naive reference"),
    Preset("torchmetrics", "torchmetrics structural_similarity_index_measure and "
           "multiscale_structural_similarity_index_measure", region="same-reflect", data_range="pair",
           ms_ssim=True, ms_convention="torchmetrics", free=("sigma",), taps_from_sigma="torchmetrics",
           tested="torchmetrics"),
    Preset("pytorch_msssim", "pytorch_msssim ssim / ms_ssim (its default data_range=255)", data_range=255.0,
           ms_ssim=True, ms_convention="pytorch_msssim",
           tested="pytorch_msssim 1.0 (to 1e-6: its window's taps are float32 numbers, fastssim's float64)"),
    Preset("kornia", "kornia.metrics.ssim / ssim3d (mean of the map; kornia.losses.ssim_loss is DSSIM)",
           region="same-reflect", free=("win_size",), eps=1e-12, tested="kornia"),
    Preset("sewar", "sewar.full_ref.ssim / msssim", gaussian=False, data_range="dtype-max", ms_ssim=True,
           ms_convention="sewar", ms_gaussian=True, precision="float64", tested="sewar"),
    Preset("ffmpeg", "ffmpeg's ssim filter (x264's SSIM; per plane, 'All' of equal planes = the mean)", win_size=8,
           gaussian=False, region="grid", tested="ffmpeg 5.1 on real frames; a transcription of vf_ssim.c"),
    Preset("matlab-ipt", "MATLAB Image Processing Toolbox ssim (R2014a and later)", region="same-replicate",
           data_range="dtype-or-one", colour="volume", free=("sigma",), taps_from_sigma="matlab",
           tested="a transcription of its documentation (no MATLAB here)"),
    Preset("piq", "piq ssim (downsample=True) / multi_scale_ssim", downsample="piq", ms_ssim=True,
           ms_convention="piq", tested="a transcription of piq 0.8's code (piq needs torchvision, which "
           "does not install beside this torch)"),
    Preset("pyiqa", "pyiqa ssim / ms_ssim (Y channel)", colour="pyiqa-y", cs_floor=0.0, ms_ssim=True,
           ms_convention="pyiqa", tested="pyiqa 0.1.16's own ssim_arch module"),
    Preset("pyiqa-rgb", "pyiqa ssimc (every RGB channel)", colour="pyiqa-rgb", cs_floor=0.0, ms_ssim=True,
           ms_convention="pyiqa", tested="pyiqa 0.1.16's own ssim_arch module"),
    Preset("vmaf", "libvmaf float_ssim (Tom Distler's iqa SSIM) on the luma plane", data_range=255.0,
           downsample="vmaf", taps=tuple(float(np.float32(t)) for t in (
               0.001028, 0.007599, 0.036001, 0.109361, 0.213006, 0.266012, 0.213006, 0.109361, 0.036001, 0.007599,
               0.001028)), tested="a transcription of libvmaf's ssim.c, decimate.c and ssim_tools.c"),
    Preset("basicsr", "BasicSR calculate_ssim (super-resolution papers)", data_range=255.0, colour="y-bt601",
           precision="float64", tested="a transcription of BasicSR's cv2 code"),
]}

WINDOW_DEFAULTS = dict(win_size=11, sigma=1.5, gaussian=True, sample_covariance=False)


def get(name):
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
