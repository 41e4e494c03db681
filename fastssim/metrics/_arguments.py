"""From a public call's arguments to a checked job: the preset applied, the inputs validated
and viewed as 5-D kernel inputs, the window, constants and backend chosen (``_prepare``); and
the job's per-plane means from the kernel that its options call for (``_means``).

The metric modules (``metrics``, ``multiscale``, ``gradients``, the Dask integration) share
these, so that every public function checks the same arguments the same way.
"""

import functools
import math

import numpy as np

from ..conventions import checks as v
from ..conventions import data_range as dr
from ..conventions import presets
from ..kernels.engine import grid_ssim_means, kernel_constants, pad_same, resolve_backend, ssim_means
from ..kernels.separable import ssim_map_separable
from ..kernels.math import gaussian_radius, grid_constants, window_weights
from ..conventions.checks import F
from ..conventions.resolve import convention, transform


_OPTIONS_DOC = """
    data_range : float or {'dtype', 'ref', 'pair'}, optional
        The range L of the data (max - min of the values it can take), or a rule:
        'dtype' (the integer dtype's range: 255 for uint8, 65535 for uint16),
        'ref' (``x``'s max - min), 'pair' (the larger of the two spans, as
        torchmetrics). Default: the preset's rule, else 'dtype'; so required for
        floating-point input. See `fastssim.conventions.data_range`.
    channel_axis : int, optional
        Axis of the image that holds channels (colour). SSIM is computed per
        channel and averaged. Counted among the axes of one image.
    win_size : int, optional
        Taps of the window along each spatial axis (odd). Default 11.
    sigma : float, optional
        Standard deviation of the Gaussian window. Default 1.5.
    gaussian : bool, optional
        Gaussian window (default) or uniform ``win_size`` window.
    K1, K2 : float, optional
        Stabilising constants, ``C1 = (K1 L)^2`` and ``C2 = (K2 L)^2``.
    sample_covariance : bool, optional
        Normalise (co)variances by ``N / (N - 1)`` with ``N = win_size ** ndim``,
        as scikit-image's ``use_sample_covariance=True``. Default False
        (population covariance, as Wang et al.).
    backend : {'auto', 'cpu', 'cuda'}, optional
        Where to compute. 'auto': the GPU for GPU arrays, and for inputs of 4 Mpx or
        more when a GPU is present; else the CPU.
    preset : str, optional
        Reproduce another implementation's numbers, by its name: 'wang' (the defaults),
        'matlab', 'matlab2009', 'matlab-ipt', 'skimage', 'fastmri', 'tensorflow',
        'torchmetrics', 'pytorch_msssim', 'kornia', 'sewar', 'ffmpeg', 'piq', 'pyiqa',
        'pyiqa-rgb', 'vmaf', 'basicsr' (``fastssim presets`` says what each fixes). A
        preset fixes the window, covariance, averaged region, data range and colour
        handling: leave those arguments at their defaults (those it leaves free excepted).
    y_channel : bool, optional
        Score the BT.601 luma (studio swing) of RGB input (``channel_axis`` must be set),
        as super-resolution papers do.
    crop_border : int, optional
        Drop this many pixels from each border first (super-resolution convention).
"""


def _options_doc(names):
    """The entries of `_OPTIONS_DOC` for the parameters among ``names`` (an entry is its
    ``name : type`` line and the indented lines under it)."""
    entries, current = [], []
    for line in _OPTIONS_DOC.strip("\n").splitlines():
        if line.startswith("    ") and not line.startswith("        ") and current:
            entries.append(current)
            current = []
        current.append(line)
    entries.append(current)
    kept = [e for e in entries if all(n.strip() in names for n in e[0].split(":")[0].split(","))]
    return "".join(line + "\n" for e in kept for line in e)


def _doc(f: F) -> F:
    """Put the shared option entries that ``f`` takes into its docstring's ``{options}``."""
    import inspect

    names = set(inspect.signature(f).parameters)
    f.__doc__ = (f.__doc__ or "").replace("    {options}\n", _options_doc(names))
    return v.accepts_tensors(f)


class _Job:
    """Checked inputs of one call: kernel views, parameters, and where to run."""

    __slots__ = ("x", "y", "x5", "y5", "ca", "nd", "weights", "consts", "devices", "grid", "raw", "convention")

    @property
    def backend(self):
        return self.convention.backend

    @property
    def region(self):
        return self.convention.region


def batch_axes_error(spatial_ndim, has_channel, shape):
    """The error for a batch whose pairs do not have ``spatial_ndim`` (+ channel) axes, naming the
    likely fix: a colour batch (N, H, W, C) needs ``channel_axis=-1``."""
    fix = ""
    if not has_channel and len(shape) == spatial_ndim + 2 and shape[-1] in (1, 2, 3, 4):
        fix = f"; the last axis ({shape[-1]}) looks like colour channels: pass channel_axis=-1"
    elif not has_channel and len(shape) == spatial_ndim + 2 and shape[1] in (1, 2, 3, 4):
        fix = f"; axis 1 ({shape[1]}) looks like colour channels (N, C, H, W): pass channel_axis=1"
    return ValueError(f"with spatial_ndim={spatial_ndim}" + (" and a channel axis" if has_channel else "")
                      + f", each pair needs {spatial_ndim + has_channel} axes after the batch axis; got shape "
                      f"{tuple(shape)}{fix}")


@functools.lru_cache(maxsize=64)
def _window(win_size, sigma, gaussian):
    """`window_weights`, made once per window (read-only: every call of that window shares it)."""
    w = window_weights(win_size, sigma, gaussian)
    w.flags.writeable = False
    return w


def _prepare(x, y, *, batch, spatial_ndim, channel_axis, data_range, win_size, sigma,
             gaussian, K1, K2, sample_covariance, backend, preset=None, y_channel=False,
             crop_border=0, ms=False, keep_half=False, transformed=None):
    """Checked 5-D kernel inputs and the kernel parameters. ``keep_half``: float16 input stays
    float16 (for `_means`, whose fused kernel decodes it row by row; the others need it converted).
    ``transformed``: the images already through `conventions.resolve.transform` (the batch scorer
    transforms a pair once for SSIM, PSNR and the others, which then read one data range)."""
    aniso = None
    if preset == "torchmetrics" and isinstance(sigma, (tuple, list)):
        aniso, sigma = tuple(sigma), 1.5  # torchmetrics' per-axis sigma (checked below)
    v.check_options(win_size, sigma, K1, K2, backend)
    devices = (x if v.is_device_array(x) else None, y if v.is_device_array(y) else None)
    data_range = dr.check(data_range)
    x, y = v.check_pair(x, y, range_given=data_range is not None or preset is not None)
    if devices != (None, None) and (preset is not None or y_channel or crop_border):
        raise TypeError("preset, y_channel and crop_border take host (NumPy) arrays")
    if devices != (None, None) and dr.needs_data(data_range):
        raise TypeError(f"data_range={data_range!r} reads the values: for GPU arrays pass a number or 'dtype'")
    t = transformed or transform(
        x, y, preset=preset, y_channel=y_channel, crop_border=crop_border, channel_axis=channel_axis,
        data_range=data_range, batch=batch, ms=ms,
        window=dict(win_size=win_size, sigma=sigma, gaussian=gaussian, sample_covariance=sample_covariance))
    x, y, channel_axis, region = t.x, t.y, t.channel_axis, t.region
    win_size, sigma, gaussian, sample_covariance = (
        t.window["win_size"], t.window["sigma"], t.window["gaussian"], t.window["sample_covariance"])
    image_ndim = x.ndim - 1 if batch else x.ndim
    if image_ndim < 1:
        raise ValueError(
            f"{'ssim_batch' if batch else 'x'} needs at least {2 if batch else 1} axes, got shape {x.shape}"
        )
    ca = None if channel_axis is None else v.normalise_axis(channel_axis, image_ndim, "channel_axis")
    if spatial_ndim is None:
        spatial_ndim = image_ndim - (ca is not None)
        if spatial_ndim not in (2, 3):
            raise ValueError(
                f"expected a 2-D image (H, W) or a 3-D volume (D, H, W), got {x.ndim} axes "
                f"(shape {x.shape}"
                + (f", channel_axis={channel_axis}" if ca is not None else "")
                + "); for colour images set channel_axis, for a stack of images use ssim_batch"
            )
    elif image_ndim - (ca is not None) != spatial_ndim:
        raise batch_axes_error(spatial_ndim, ca is not None, x.shape)
    if preset is not None and presets.get(preset).slices and spatial_ndim == 3:
        raise ValueError(f"preset {preset!r} scores a volume slice by slice (fastMRI's evaluation): call "
                         f"fastssim.ssim(gt, pred, preset={preset!r}) or fastssim.ssim_slices(gt, pred, "
                         f"preset={preset!r}), whose mean it is")
    if aniso is not None:
        if spatial_ndim != 2 or ms or len(aniso) != 2 or not all(
                isinstance(s, (int, float)) and math.isfinite(s) and s > 0 for s in aniso):
            raise ValueError(f"torchmetrics' per-axis sigma takes two positive numbers (H, W) for the SSIM of "
                             f"2-D images, got sigma={aniso!r}")
        taps_hw = [2 * gaussian_radius(s) + 1 for s in aniso]
    conv = convention(t, data_range, K1=K1, K2=K2)
    L = conv.L
    wdt = v.work_dtype(x, y, host=devices == (None, None))
    if aniso is not None or (preset is not None and presets.get(preset).taps is not None):
        wdt = np.dtype(np.float64)  # the host separable path is float64 throughout
    if preset is not None and presets.get(preset).precision == "float64":
        wdt = np.dtype(np.float64)  # as the implementation reproduced, which computes in double
    if devices != (None, None):
        v.check_device_dtypes(x, y, devices)
        xk, yk = x, y
    else:
        xk, yk = v.kernel_inputs(x, y, wdt, keep_half=keep_half)
    job = _Job()
    job.x5 = v.to_5d(xk, batch, ca, spatial_ndim)
    job.y5 = v.to_5d(yk, batch, ca, spatial_ndim)
    if region != "same-replicate":  # replicate padding makes a full map of any size
        v.check_extent(job.x5.shape, win_size if aniso is None else max(taps_hw), spatial_ndim, channel_axis)
    if aniso is not None:  # reflect padding by each axis's own radius
        pads = [(0, 0)] * 3 + [(t // 2, t // 2) for t in taps_hw]
        job.x5, job.y5 = np.pad(job.x5, pads, mode="reflect"), np.pad(job.y5, pads, mode="reflect")
    elif region in ("same-reflect", "same-replicate") and not ms:
        # the full map: the images extended by reflection without the edge (PyTorch's 'reflect')
        # or by repeating the edge (MATLAB's 'replicate')
        mode = "reflect" if region == "same-reflect" else "edge"
        job.x5 = pad_same(job.x5, win_size // 2, spatial_ndim, mode=mode)
        job.y5 = pad_same(job.y5, win_size // 2, spatial_ndim, mode=mode)
    job.convention = conv.for_call(resolve_backend(backend, *devices, x.size), sigma if aniso is None else aniso)
    taps = presets.get(preset).taps if preset is not None else None
    job.weights = _window(win_size, sigma, gaussian) if taps is None else np.array(taps)
    # explicit taps that need not sum to 1 (libvmaf's): raw moments in float64 on the host;
    # an anisotropic window: one float64 pass per axis with its own taps
    job.raw = "raw" if taps is not None else None
    if aniso is not None:
        job.weights = [window_weights(t, s, True) for t, s in zip(taps_hw, aniso)]
        job.raw = "shifted"
    n = win_size ** spatial_ndim
    cov_norm = n / (n - 1) if sample_covariance and n > 1 else 1.0
    p = presets.get(preset) if preset is not None else None
    job.consts = kernel_constants(L, K1, K2, cov_norm, wdt, p.cs_floor if p else -np.inf, p.eps if p else 0.0)
    job.x = devices[0] if devices[0] is not None else x
    job.y = devices[1] if devices[1] is not None else y
    job.ca, job.nd, job.devices = ca, spatial_ndim, devices
    job.grid = None
    if region == "grid":  # ffmpeg: 8x8 windows on a 4-pixel grid, its own constants
        if spatial_ndim != 2:
            raise ValueError(f"preset {preset!r} scores 2-D planes: for a volume use ssim_slices")
        job.grid = (win_size, win_size // 2) + grid_constants(L, K1, K2, win_size, x.dtype.kind in "iu")
    return job


def window_mask(mask, job, batch):
    """The uint8 5-D mask of the windows a masked mean averages: those wholly inside the image
    whose centre pixel ``mask`` selects (broadcast over channels, and over pairs when one mask
    is given for a batch).

    Raises
    ------
    ValueError, TypeError
        For a mask of another shape, values other than 0/1, or a call whose windows are not
        the valid ones (a preset's full-map region, grid or own window).
    """
    if job.grid is not None or job.raw or job.region != "valid":
        raise ValueError("mask= works with the valid-region conventions (no preset, or wang, matlab, skimage, "
                         "tensorflow, basicsr, sewar, pyiqa, piq); this preset averages other windows")
    m = v.mask_values(mask)
    spatial = tuple(job.x5.shape[3:] if job.nd == 2 else job.x5.shape[2:])
    if m.shape == spatial:
        m = m[None]
    elif not (batch and m.shape == (job.x5.shape[0],) + spatial):
        raise ValueError(f"mask has shape {m.shape}; it must have the images' spatial shape {spatial}"
                         + (f" (or one per pair: {(job.x5.shape[0],) + spatial})" if batch else "")
                         + " (after a preset's conversion)")
    r = len(job.weights) // 2
    valid = m[(slice(None),) + tuple(slice(r, s - r) for s in spatial)].astype(np.uint8)
    return np.ascontiguousarray(valid[:, None, None] if job.nd == 2 else valid[:, None])


def masked_values(means):
    """Per-plane masked means from ``ssim_means(..., mask5=)``, refusing a plane whose mask
    selects no window."""
    if (means[..., 1] == 0).any():
        raise ValueError("the mask selects no window inside the image: windows are centred on masked pixels at "
                         "least win_size // 2 from every border; grow the mask or use a smaller win_size")
    return means[..., 0]


def _means(job, want_map=False, mask5=None, want_cs=False, pad=0):
    if job.grid is not None:
        x5, y5 = job.x5, job.y5
        if x5.dtype == np.float16:  # kept for the fused kernel; the grid kernel reads float32
            x5, y5 = x5.astype(np.float32), y5.astype(np.float32)
        m = grid_ssim_means(x5, y5, *job.grid, backend=job.backend, devices=job.devices)
        return np.stack([m, np.full_like(m, np.nan)], axis=-1), None
    if job.raw:
        smap = ssim_map_separable(job.x5, job.y5, job.nd, job.weights, job.consts, shift=job.raw == "shifted")
        m = smap.reshape(smap.shape[:2] + (-1,)).mean(axis=2)
        return np.stack([m, np.full_like(m, np.nan)], axis=-1), None
    return ssim_means(job.x5, job.y5, job.nd, job.weights, job.consts, want_map=want_map, want_cs=want_cs,
                      backend=job.backend, devices=job.devices, mask5=mask5, pad=pad)
