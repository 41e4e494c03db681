"""A call's arguments and preset turned, once, into what every later step reads: the input
transforms applied (colour to grey or luma, border crop, a preset's downsampling) and a frozen
`Convention` (window, constants, covariance, averaged region, colour, the data-range rule and
the resolved L, the backend). The metric functions, the batch scorer, the CLI and the
integrations all come through `transform` and `convention`; nothing below them re-derives a rule.
"""

import dataclasses
import math

from ..kernels.math import gaussian_radius
from . import data_range as dr
from . import presets
from . import transforms as conv


@dataclasses.dataclass(frozen=True)
class Convention:
    """How one call's numbers are made (read by the kernels' callers and recorded by runs).

    Attributes
    ----------
    preset : str or None
    win_size, sigma, gaussian, sample_covariance : the window (``sigma`` a tuple (H, W) for
        torchmetrics' per-axis Gaussian)
    K1, K2 : float
    region : {'valid', 'same-reflect', 'same-replicate', 'grid'}
        Which windows are averaged.
    colour : str
        How colour is handled (``presets.Preset.colour``, or 'y-bt601' for ``y_channel``).
    crop_border : int
    data_range : float, str or None
        What the call gave, checked (`fastssim.conventions.data_range.check`).
    L : float
        The data range the constants use, resolved on the (transformed) images.
    backend : str
        'cpu' or 'cuda' once resolved for the call ('auto' before).
    ms : bool
        Whether it is MS-SSIM's convention (a preset's MS-SSIM window).
    """

    preset: object
    win_size: int
    sigma: object
    gaussian: bool
    sample_covariance: bool
    K1: float
    K2: float
    region: str
    colour: str
    crop_border: int
    data_range: object
    L: float
    backend: str = "auto"
    ms: bool = False

    def for_call(self, backend, sigma):
        """This convention with the call's resolved ``backend`` and ``sigma``: `dataclasses.replace`
        without its walk over the fields and its frozen ``__init__`` (8 us of a 64^2 ``ssim``'s
        90 us)."""
        new = object.__new__(Convention)
        new.__dict__.update(self.__dict__, backend=backend, sigma=sigma)
        return new

    @property
    def taps(self):
        """A preset's explicit 1-D window taps (libvmaf's), or None."""
        return presets.get(self.preset).taps if self.preset is not None else None

    @property
    def cs_floor(self):
        """Where each window's contrast-structure term is floored (pyiqa: 0), or -inf."""
        return presets.get(self.preset).cs_floor if self.preset is not None else -math.inf


@dataclasses.dataclass(frozen=True)
class Transformed:
    """`transform`'s result: the images, their channel axis, the data range still to resolve
    (a number once a rule was resolved on the images as given), the window, region and colour."""

    x: object
    y: object
    channel_axis: object
    data_range: object
    window: dict
    region: str
    colour: str
    preset: object
    crop_border: int
    ms: bool


def convention(t, given, *, K1, K2, backend="auto"):
    """The `Convention` of `Transformed` ``t``, its data range resolved on the transformed images
    (``given``: what the call passed, checked)."""
    L = dr.resolve(t.x, t.y, t.data_range)
    return Convention(preset=t.preset, region=t.region, colour=t.colour, crop_border=t.crop_border,
                      data_range=given, L=L, K1=K1, K2=K2, backend=backend, ms=t.ms, **t.window)


def transform(x, y, *, preset=None, y_channel=False, crop_border=0, channel_axis=None, data_range=None,
              batch=False, window=None, ms=False):
    """Transform the inputs and options as the preset (and ``y_channel``, ``crop_border``) say
    (a `Transformed`); a data rule, or the preset's own, is resolved on the images as given."""
    window = dict(presets.WINDOW_DEFAULTS, **(window or {}))
    p = presets.get(preset) if preset is not None else None
    if p is not None:
        if ms and not p.ms_ssim:
            with_ms = ", ".join(repr(n) for n, q in presets.PRESETS.items() if q.ms_ssim)
            raise ValueError(f"preset {preset!r} defines no MS-SSIM convention; use one of {with_ms}")
        changed = [k for k, v in window.items() if v != presets.WINDOW_DEFAULTS[k] and k not in p.free]
        if changed:
            free = f" (it leaves {', '.join(p.free)} free)" if p.free else ""
            raise ValueError(f"preset {preset!r} fixes {', '.join(changed)}; leave them at their "
                             f"defaults or drop the preset{free}")
        fixed = dict(win_size=p.win_size, sigma=p.sigma, gaussian=p.gaussian, sample_covariance=p.sample_covariance)
        window = {k: (window[k] if k in p.free else fixed[k]) for k in fixed}
        if p.taps_from_sigma == "torchmetrics":
            window["win_size"] = 2 * gaussian_radius(window["sigma"]) + 1
        elif p.taps_from_sigma == "matlab":
            window["win_size"] = 2 * math.ceil(3 * window["sigma"]) + 1
        if ms and p.ms_gaussian is not None:
            window["gaussian"] = p.ms_gaussian
    if crop_border < 0:
        raise ValueError(f"crop_border must be >= 0, got {crop_border}")
    colour = "y-bt601" if y_channel else (p.colour if p is not None else "channels")
    if isinstance(data_range, str) or (data_range is None and p is not None and p.data_range != "dtype"):
        # a rule, or the preset's own, resolved on the images as given (before any transform;
        # torchmetrics' 'pair' over a whole batch)
        data_range = dr.resolve(x, y, data_range, p)
    if colour in ("pyiqa-y", "pyiqa-rgb"):
        if data_range is None:
            if x.dtype.kind not in "iu":
                raise ValueError(f"preset {preset!r} on float input needs data_range= (1.0 for [0, 1] data, as "
                                 "pyiqa takes it)")
            data_range = dr.resolve(x, y, "dtype")
        lead = 1 if batch else 0
        ca = None if channel_axis is None else channel_axis % (x.ndim - lead) + lead
        to_y = colour == "pyiqa-y" and ca is not None and x.shape[ca] == 3
        x, y = conv.pyiqa_levels(x, ca, data_range, to_y), conv.pyiqa_levels(y, ca, data_range, to_y)
        data_range = 255.0
        if to_y:
            channel_axis = None
    elif colour == "volume" and channel_axis is not None:
        channel_axis = None  # MATLAB's ssim: an M x N x 3 array is a volume, filtered along all axes
    elif colour in ("matlab-gray", "y-bt601") and channel_axis is not None:
        if colour == "matlab-gray":
            x, y = conv.matlab_gray(x, channel_axis), conv.matlab_gray(y, channel_axis)
        else:
            if data_range is None:
                if x.dtype.kind != "u" and x.dtype.kind != "i":
                    raise ValueError("y_channel on float input needs data_range= (1.0 for [0, 1] data)")
                data_range = dr.resolve(x, y, "dtype")
            x, y = conv.y_bt601(x, channel_axis, data_range), conv.y_bt601(y, channel_axis, data_range)
        channel_axis = None
    elif colour == "y-bt601" and y_channel:
        raise ValueError("y_channel needs RGB input with channel_axis set (e.g. channel_axis=-1)")
    lead = 1 if batch else 0
    ca = None if channel_axis is None else channel_axis % (x.ndim - lead) + lead
    spatial = [ax for ax in range(lead, x.ndim) if ax != ca]
    x, y = conv.crop(x, crop_border, spatial), conv.crop(y, crop_border, spatial)
    if p is not None and p.downsample and data_range is None and x.dtype.kind in "iu":
        # the range of the integer images as given: downsampling makes them float, whose range
        # no dtype says (piq's and MATLAB's presets on uint8 input)
        data_range = dr.resolve(x, y, "dtype")
    if p is not None and p.downsample == "matlab2009":
        f = conv.matlab2009_factor([x.shape[ax] for ax in spatial])
        x, y = conv.matlab2009_downsample(x, f, spatial), conv.matlab2009_downsample(y, f, spatial)
    elif p is not None and p.downsample == "vmaf":
        f = conv.vmaf_factor([x.shape[ax] for ax in spatial])
        x, y = conv.vmaf_decimate(x, f, spatial), conv.vmaf_decimate(y, f, spatial)
    elif p is not None and p.downsample == "piq" and not ms:
        f = conv.piq_factor([x.shape[ax] for ax in spatial])
        x, y = conv.block_mean(x, f, spatial), conv.block_mean(y, f, spatial)
    region = p.region if p is not None else "valid"
    return Transformed(x, y, channel_axis, data_range, window, region, colour, preset, crop_border, ms)
