"""Input conventions of other SSIM implementations: colour to grey or luma, border crop,
MATLAB's automatic downsampling. Each takes and returns host arrays; the data flows
from here into the usual checks and kernels."""

import math

import numpy as np

#: MATLAB rgb2gray weights (the inverse of the NTSC transform, as MATLAB computes them).
MATLAB_GRAY = (0.298936021293775, 0.587043074451121, 0.114020904255103)
#: ITU-R BT.601 luma, studio swing (16-235 for 8-bit data), as BasicSR's bgr2ycbcr.
BT601_Y = (65.481, 128.553, 24.966)


def _rgb(a, channel_axis, what):
    if channel_axis is None:
        raise ValueError(f"{what} needs the colour axis: pass channel_axis (e.g. channel_axis=-1)")
    if a.shape[channel_axis] != 3:
        raise ValueError(f"{what} needs 3 colour channels (RGB), got {a.shape[channel_axis]} "
                         f"along channel_axis={channel_axis}")
    a = np.moveaxis(a, channel_axis, -1)
    return a[..., 0].astype(np.float64), a[..., 1].astype(np.float64), a[..., 2].astype(np.float64)


def matlab_gray(a, channel_axis):
    """MATLAB's ``rgb2gray``: integer input is rounded back to its dtype (so uint8 stays
    uint8, as ``ssim_index.m`` users feed it), float input is not rounded."""
    r, g, b = _rgb(a, channel_axis, "MATLAB rgb2gray")
    gray = MATLAB_GRAY[0] * r + MATLAB_GRAY[1] * g + MATLAB_GRAY[2] * b
    if a.dtype.kind in "ui":
        info = np.iinfo(a.dtype)
        return np.clip(np.floor(gray + 0.5), info.min, info.max).astype(a.dtype)
    return gray.astype(a.dtype)


def y_bt601(a, channel_axis, data_range):
    """BT.601 luma Y of RGB data in [0, L], studio swing (16/255 L to 235/255 L), float64,
    unrounded, as BasicSR's ``to_y_channel``."""
    r, g, b = _rgb(a, channel_axis, "y_channel")
    return (16.0 * data_range + BT601_Y[0] * r + BT601_Y[1] * g + BT601_Y[2] * b) / 255.0


#: Y of YIQ (NTSC), as pyiqa's rgb2yiq.
YIQ_Y = (0.299, 0.587, 0.114)


def pyiqa_levels(a, channel_axis, data_range, y_only):
    """pyiqa's ``preprocess_rgb``: data in [0, L] scaled to [0, 255] and rounded (halves to
    even, as ``torch.round``), after taking the Y of YIQ when ``y_only`` and the image has 3
    channels (else every channel). Computed in float32, as pyiqa does on the float32 tensors
    it reads images into, or in float64 for float64 input; returned in float64 (pyiqa casts
    to float64 before SSIM)."""
    dt = np.float64 if a.dtype == np.float64 else np.float32
    v = a.astype(dt) / dt(data_range)
    if y_only and channel_axis is not None and a.shape[channel_axis] == 3:
        # (r w0 + g w1) + b w2, each operation rounded (no fused multiply-add): how torch's
        # matmul sums it, so the rounding to integers agrees pixel for pixel; the weights are
        # float32 numbers even for float64 data (pyiqa builds them as a float32 tensor)
        w = [dt(np.float32(c)) for c in YIQ_Y]
        r, g, b = (np.take(v, i, axis=channel_axis) for i in range(3))
        v = (r * w[0] + g * w[1]) + b * w[2]
    return np.round(v * dt(255)).astype(np.float64)


def crop(a, border, spatial_axes):
    """Drop ``border`` samples from both ends of each spatial axis."""
    if border == 0:
        return a
    index = [slice(None)] * a.ndim
    for ax in spatial_axes:
        if a.shape[ax] <= 2 * border:
            raise ValueError(f"crop_border={border} removes all of axis {ax} (length {a.shape[ax]})")
        index[ax] = slice(border, a.shape[ax] - border)
    return a[tuple(index)]


def matlab2009_factor(spatial_shape):
    """``ssim.m``'s downsampling factor: ``max(1, round(min(M, N) / 256))`` (MATLAB rounds
    halves away from zero)."""
    return max(1, int(math.floor(min(spatial_shape[-2:]) / 256 + 0.5)))


def piq_factor(spatial_shape):
    """piq's ``ssim`` downsampling factor: ``max(1, round(min(H, W) / 256))`` with Python's
    ``round`` (halves to even: 640 px gives 2, 896 px gives 4)."""
    return max(1, round(min(spatial_shape[-2:]) / 256))


def block_mean(a, f, spatial_axes):
    """Means of ``f`` x ``f`` blocks over the last two spatial axes, a remainder dropped
    (PyTorch's ``avg_pool2d(kernel_size=f)``), in float64."""
    if f == 1:
        return a
    out = a.astype(np.float64)
    for ax in spatial_axes[-2:]:
        n = out.shape[ax] // f
        out = np.take(out, np.arange(n * f), axis=ax)
        shape = out.shape[:ax] + (n, f) + out.shape[ax + 1:]
        out = out.reshape(shape).mean(axis=ax + 1)
    return out


def vmaf_factor(spatial_shape):
    """libvmaf's (iqa's) factor: ``max(1, round(min(w, h) / 256))``, halves rounded up."""
    return max(1, int(math.floor(min(spatial_shape[-2:]) / 256 + 0.5)))


def vmaf_decimate(a, f, spatial_axes):
    """iqa's ``_iqa_decimate`` with libvmaf's f x f box: output sample ``i`` of an axis of
    length ``n`` is the mean of samples ``i f - f // 2 ... i f - f // 2 + f - 1``, mirrored at
    the borders with the edge repeated, as iqa's KBND_SYMMETRIC (``-1 - k`` below 0,
    ``2 n - 1 - k`` above), for ``n // f + n % 2`` outputs (iqa's count), in float64."""
    if f == 1:
        return a
    out = a.astype(np.float64)
    for ax in spatial_axes[-2:]:
        n = out.shape[ax]
        m = n // f + n % 2
        idx = np.arange(m)[:, None] * f - f // 2 + np.arange(f)[None, :]
        idx = np.where(idx < 0, -1 - idx, idx)
        idx = np.where(idx >= n, 2 * n - 1 - idx, idx)
        out = np.take(out, idx.ravel(), axis=ax)
        out = out.reshape(out.shape[:ax] + (m, f) + out.shape[ax + 1:]).mean(axis=ax + 1)
    return out


def matlab2009_downsample(a, f, spatial_axes):
    """``imfilter(a, ones(f)/f^2, 'symmetric', 'same')`` then ``a(1:f:end, 1:f:end)`` over the
    last two spatial axes, in float64. MATLAB anchors an even kernel at ``floor((f + 1) / 2)``.
    Only the samples kept are computed, in one pass that reads ``a`` as it is
    (`kernels.cpu.reduce.sampled_box_means`; before, NumPy filtered every sample of a float64
    copy: 4-10x slower)."""
    if f == 1:
        return a
    from ..kernels.cpu.reduce import sampled_box_means

    c = (f + 1) // 2  # 1-based anchor of the f-tap box
    ah, aw = spatial_axes[-2:]
    moved = np.moveaxis(a, (ah, aw), (-2, -1))
    H, W = moved.shape[-2:]
    planes = np.ascontiguousarray(moved.reshape((-1, H, W)))
    out = np.empty((planes.shape[0], -(-H // f), -(-W // f)), np.float64)
    sampled_box_means(planes, f, c - 1, out)
    return np.moveaxis(out.reshape(moved.shape[:-2] + out.shape[1:]), (-2, -1), (ah, aw))
