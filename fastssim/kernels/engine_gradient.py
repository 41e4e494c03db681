"""SSIM's gradient: the kernel calls and reductions behind ``fastssim.gradients``.

``ssim_gradient_2d`` / ``ssim_gradient_3d`` run the fused kernels (``_cpu_gradient``, and
``_cuda_gradient`` for 2-D on the GPU); ``ms_ssim_gradient`` chains their per-scale terms
through the 2x2 block means; ``ssim_gradient`` (the separable float64 path) and
``avanaki_gradient`` (MATLAB's and scikit-image's full-map gradient) work on full-size
float64 intermediates.
"""

import threading

import numpy as np

from .. import config as cfg
from . import ahead
from .cpu import gradient as _cpu_gradient, gradient_back as _cpu_back
from .cpu.calls import address
from .engine import GPU_LOCK, _cuda, pad_same, readonly
from .separable import separable_filter
from .math import axis_windows, sums_to_one, valid_shape
from .engine_ms import WANG, halve_by, halving_ahead


def ssim_gradient(x5, y5, spatial_ndim, weights, consts):
    """Mean SSIM over the 'valid' region of each plane and its exact gradient with
    respect to ``y``, in float64.

    The mean is ``(1/Np) sum_p S(p)``, and S depends on ``y`` through the filtered
    moments ``E[y]``, ``E[y^2]`` and ``E[xy]`` at each window ``p``. Their
    derivatives (``kernels.math.ssim_grad_terms``) are maps over the valid region; the
    gradient at a pixel ``q`` gathers them back through the transposed filter
    (zero-padded, full-size correlation with the mirrored window):
    ``(F^T d_uy + 2 y F^T d_eyy + x F^T d_exy) / Np``.

    Returns
    -------
    means : ndarray (N, C)
    grad : ndarray, the shape of ``y5``
    """
    x = np.ascontiguousarray(x5, dtype=np.float64)
    y = np.ascontiguousarray(y5, dtype=np.float64)
    moments = [separable_filter(a, weights, spatial_ndim) for a in (x, y, x * x + y * y, (x - y) ** 2)]
    flat = [np.ascontiguousarray(m).reshape(-1) for m in moments]
    shape = moments[0].shape
    s, d_uy, d_eyy, d_exy = (np.empty(flat[0].shape[0]) for _ in range(4))
    _cpu_gradient.grad_terms(*flat, consts.astype(np.float64), s, d_uy, d_eyy, d_exy)
    n_valid = int(np.prod(shape[2:]))
    wins = axis_windows(weights, spatial_ndim)
    r = [len(w) - 1 for w in wins]
    pads = [(0, 0), (0, 0), (r[0], r[0]) if spatial_ndim == 3 else (0, 0), (r[-2], r[-2]), (r[-1], r[-1])]
    back = [w[::-1] for w in wins]

    def transposed(m):
        return separable_filter(np.pad(m.reshape(shape), pads), back, spatial_ndim)

    grad = (transposed(d_uy) + 2.0 * y * transposed(d_eyy) + x * transposed(d_exy)) / n_valid
    return s.reshape(shape[0], shape[1], -1).mean(axis=2), grad


def _shifts(x, y, weights, wdt):
    """Each plane's level, by which the fused kernels shift the moments (float64 buffers); zero
    for a window whose taps do not sum to 1, where a shift would not cancel (raw moments).

    Any level serves, as long as both passes take the same: the mean of every fourth sample along
    each axis (a sixteenth of a plane's reads; the full mean was 6% of a 512^2 gradient)."""
    axes = tuple(range(1, x.ndim))
    if not sums_to_one(weights, x.ndim - 1):
        return np.zeros(x.shape[0], dtype=wdt), np.zeros(x.shape[0], dtype=wdt)
    every = (slice(None),) + (slice(None, None, 4),) * (x.ndim - 1)
    return tuple(a[every].mean(axis=axes, dtype=np.float64).astype(wdt) for a in (x, y))


def ssim_gradient_2d(x3, y3, weights, consts, wdt, cs_only=False, backend="cpu", pad=0):
    """Mean SSIM over the 'valid' region of each plane of (P, H, W) stacks and its exact
    gradient with respect to ``y``, by the fused kernels (``_cpu_gradient.grad_maps_2d`` and
    ``_cpu_back.grad_back_2d``): work in ``wdt`` (float32 for 8/16-bit and float32 input),
    the SSIM sums in float64, the moments shifted by each plane's mean.

    Memory: three derivative maps of the valid size and the gradient, in ``wdt``; no
    full-size float64 copy of the input. ``cs_only``: the mean contrast-structure term
    (MS-SSIM's per-scale term) and its gradient instead. ``backend="cuda"``: the same terms
    by ``_cuda.ssim_gradient_2d`` (host planes are copied to the device; the gradient comes
    back to the host). ``pad``: of the planes extended by ``pad`` samples of PyTorch's reflection,
    read in place (the CPU's; the gradient is of the planes themselves, see `_cpu_back`).

    Returns
    -------
    means : ndarray (P,), float64
    grad : ndarray (P, H, W), ``wdt``
    """
    P, H, W = x3.shape
    wins = axis_windows(weights, 2)
    Hv, Wv = valid_shape((H, W), map(len, wins), pad)
    shx, shy = _shifts(x3, y3, weights, wdt)
    if backend == "cuda":
        if pad:
            raise ValueError("the GPU gradient reads no reflection: pad the planes first")
        with GPU_LOCK:
            from .cuda import gradient as _cuda_gradient

            cu = _cuda()
            xd, yd = (cu.api().to_device(np.ascontiguousarray(a)) for a in (x3, y3))
            sums, grad = _cuda_gradient.ssim_gradient_2d(xd, yd, wins, consts, shx, shy, wdt, cs_only)
            return sums / (Hv * Wv), grad.copy_to_host()
    sums, grad = _fused(readonly(x3), readonly(y3), wins, shx, shy, consts, wdt, cs_only, wdt.type(1.0 / (Hv * Wv)),
                        pad=pad)
    return sums / (Hv * Wv), grad


#: Per thread: the derivative maps' buffers by (shape, dtype) (`_scratch_maps`).
_SCRATCH = threading.local()


def _scratch_maps(shape, wdt):
    """Three arrays of ``shape`` in ``wdt`` for the derivative maps, kept per thread and reused by
    the next call of that shape: fresh arrays paid their page faults at every call (0.55 ms of a
    1.7 ms 512^2 gradient, once other parallel kernels had run). Up to ``cfg.GRAD_SCRATCH_BYTES``
    per thread (the kept buffers are dropped when a new shape would pass it); larger maps are
    allocated each time. Only the kernels' callers below use them, one call at a time per thread."""
    size = 3 * int(np.prod(shape)) * np.dtype(wdt).itemsize
    if size > cfg.GRAD_SCRATCH_BYTES:
        return [np.empty(shape, dtype=wdt) for _ in range(3)]
    kept = getattr(_SCRATCH, "maps", None)
    if kept is None:
        kept = _SCRATCH.maps = {}
    key = (tuple(shape), np.dtype(wdt).str)
    if key not in kept:
        if size + sum(3 * m[0].nbytes for m in kept.values()) > cfg.GRAD_SCRATCH_BYTES:
            kept.clear()
        kept[key] = [np.empty(shape, dtype=wdt) for _ in range(3)]
    return kept[key]


def _fused(xr, yr, wins, shx, shy, consts, wdt, cs_only, scale, upstream=None, pad=0):
    """The fused gradient's two passes over (P, H, W) planes or (P, D, H, W) volumes: each one's
    sum of SSIM (float64) and the gradient, the shape of ``xr`` in ``wdt``, times ``scale``;
    ``upstream``: the derivative maps weighted by it window by window first (`ssim_map_vjp`);
    ``pad``: of the planes extended by PyTorch's reflection, read in place and folded back.
    On a cold first call the backward pass is compiled in a helper process meanwhile
    (`kernels.ahead`)."""
    valid = valid_shape(xr.shape[1:], map(len, wins), pad)
    maps = _scratch_maps((xr.shape[0],) + valid, wdt)
    back, back_args = _back_call(xr, yr, wins, shx, shy, maps, wdt, scale, pad)
    # its task too: compiling the kernel does not compile the task it calls by address
    pending = ahead.start((back, (0,) + back_args), _cpu_back.task_call(back, back_args))
    sums = _maps(xr, yr, wins, shx, shy, consts, wdt, cs_only, valid, maps, pad)
    if upstream is not None:
        for m in maps:
            np.multiply(m, upstream, out=m)
    pending.wait()
    back(address(*_cpu_back.task_call(back, back_args)), *back_args)
    return sums, back_args[-1]


def _maps(xr, yr, wins, shx, shy, consts, wdt, cs_only, valid, maps, pad):
    """``_cpu_gradient.grad_maps_2d`` over (P, H, W) planes, or ``grad_maps_3d`` over (P, D, H, W)
    volumes, into ``maps`` (three of the ``valid`` size in ``wdt``, `_scratch_maps`): each one's
    sum of SSIM (float64)."""
    taps = [tuple(float(v) for v in np.asarray(w, dtype=wdt)) for w in wins]  # float64, wdt's values
    c = np.asarray(consts, dtype=wdt)
    if xr.ndim == 3:
        bh, bw = cfg.GRAD_BAND_H, cfg.GRAD_BAND_W
        sums = np.empty((xr.shape[0], -(-valid[0] // bh) * -(-valid[1] // bw)), dtype=np.float64)
        kernel, args = _cpu_gradient.grad_maps_2d, (xr, yr, *taps, shx, shy, c, cs_only, bh, bw, *maps, sums, pad)
    else:
        sums = np.empty((xr.shape[0], valid[0]), dtype=np.float64)
        kernel, args = _cpu_gradient.grad_maps_3d, (xr, yr, *taps, shx, shy, c, cs_only, *maps, sums, pad)
    kernel(address(*_cpu_gradient.task_call(kernel, args)), *args)
    return sums.sum(axis=1)


def _back_call(xr, yr, wins, shx, shy, maps, wdt, scale, pad):
    """``(kernel, args)`` of the backward pass, ``_cpu_back.grad_back_2d`` (planes) or
    ``grad_back_3d`` (volumes), from the derivative maps; its last argument receives the
    gradient, the shape of ``xr`` in ``wdt``, times ``scale``."""
    reversed_taps = [tuple(wdt.type(v) for v in np.asarray(w, dtype=wdt)[::-1]) for w in wins]
    grad = np.empty(xr.shape, dtype=wdt)
    if xr.ndim == 3:
        return _cpu_back.grad_back_2d, (xr, yr, *reversed_taps, shx, shy, *maps, scale, cfg.GRAD_BAND_H,
                                        cfg.GRAD_BAND_W, pad, grad)
    return _cpu_back.grad_back_3d, (xr, yr, *reversed_taps, shx, shy, *maps, scale, pad, grad)


def ssim_gradient_3d(x4, y4, weights, consts, wdt, cs_only=False, pad=0):
    """`ssim_gradient_2d` for volumes (P, D, H, W) on the CPU (``_cpu_gradient.grad_maps_3d``,
    ``_cpu_back.grad_back_3d``): the same terms, three derivative maps of the valid size and the
    gradient in ``wdt``, four float64 moment planes per task; ``cs_only`` and ``pad`` as there.

    Returns
    -------
    means : ndarray (P,), float64
    grad : ndarray (P, D, H, W), ``wdt``
    """
    wins = axis_windows(weights, 3)
    n = int(np.prod(valid_shape(x4.shape[1:], map(len, wins), pad)))
    shx, shy = _shifts(x4, y4, weights, wdt)
    sums, grad = _fused(readonly(x4), readonly(y4), wins, shx, shy, consts, wdt, cs_only, wdt.type(1.0 / n), pad=pad)
    return sums / n, grad


def ssim_map_vjp(x, y, weights, consts, wdt, upstream, pad=0):
    """The gradient with respect to ``y`` of ``sum(upstream * map)``, ``map`` each plane's
    'valid' SSIM map of (P, H, W) stacks or (P, D, H, W) volumes: the fused kernels' derivative
    maps weighted window by window by ``upstream`` (the map's shape, ``wdt``), then gathered
    through the transposed window (scale 1). The vector-Jacobian product behind a
    differentiable SSIM map (kornia's `ssim`); ``consts[4]`` is its ``eps``; ``pad``: the map of
    the planes extended by PyTorch's reflection, as `ssim_gradient_2d` reads it.

    Returns
    -------
    grad : ndarray, ``y``'s shape, ``wdt``
    """
    shx, shy = _shifts(x, y, weights, wdt)
    up = np.ascontiguousarray(upstream, dtype=wdt)
    wins = axis_windows(weights, x.ndim - 1)
    return _fused(readonly(x), readonly(y), wins, shx, shy, consts, wdt, False, wdt.type(1.0), upstream=up,
                  pad=pad)[1]


def _halved(a, conv, wdt):
    """One halving of (P, H, W) planes or (P, D, H, W) volumes by the convention's rule."""
    nd = a.ndim - 1
    a5 = a[:, None, None] if nd == 2 else a[:, None]
    out = halve_by(a5, conv, nd, wdt)
    return out[:, 0, 0] if nd == 2 else out[:, 0]


def _halving_transposed(g, shape, downsample):
    """The transpose of one halving of arrays of ``shape`` (P, *spatial): each half-size
    sample's value spread equally to the 2^nd samples it averaged. 'block': an odd axis's last
    sample was averaged with itself, so it gets its share twice; 'zeros-before-odd': an odd
    axis was extended by a zero before its first sample, whose share is dropped."""
    nd = g.ndim - 1
    up = g
    for ax in range(1, nd + 1):
        up = np.repeat(up, 2, axis=ax)
    up = up * (0.5 ** nd)
    for ax in range(1, nd + 1):
        n = shape[ax]
        if n % 2 == 0:
            continue
        if downsample == "zeros-before-odd":
            up = up[(slice(None),) * ax + (slice(1, None),)]
        else:  # 'block'
            last = [slice(None)] * up.ndim
            last[ax] = n - 1
            extra = list(last)
            extra[ax] = n
            up[tuple(last)] += up[tuple(extra)]
            up = up[(slice(None),) * ax + (slice(None, n),)]
    return up


def ms_ssim_gradient(x, y, weights, consts, level_weights, wdt, conv=WANG, backend="cpu"):
    """MS-SSIM of each plane of (P, H, W) stacks, or each (P, D, H, W) volume, and its exact
    gradient with respect to ``y``: each scale's mean term (cs; SSIM at the last) and its
    gradient from the fused kernels, chained through the halvings back to full size.

    ``conv`` (``kernels.engine_ms.MSConvention``) names the halving: 'block' (Wang's) or
    'zeros-before-odd' (pytorch_msssim's); one MS-SSIM per plane, negative terms clamped.
    ``d MS / d term_l = w_l term_l^(w_l - 1) prod_(m != l) max(term_m, 0)^w_m``, zero where a
    clamped term is not positive (there MS-SSIM does not depend on it).

    Returns
    -------
    values : ndarray (P,), float64
    grad : ndarray, ``y``'s shape, ``wdt``
    """
    if conv.downsample not in ("block", "zeros-before-odd") or conv.pool_channels or conv.negative != "clamp":
        raise ValueError(f"the MS-SSIM gradient is written for Wang's and pytorch_msssim's conventions, not "
                         f"{conv.name!r}")
    levels = len(level_weights)
    xs, ys = x, y
    terms, grads, shapes = [], [], []
    # cold: the halving compiles in a helper of its own, beside the first scale's (`kernels.ahead`)
    first = _cpu_gradient.grad_maps_2d if x.ndim == 3 else _cpu_gradient.grad_maps_3d
    halving = halving_ahead(x, x.ndim - 1, wdt, levels, beside=first) if backend == "cpu" else ahead.Pending()
    for level in range(levels):
        cs_only = level < levels - 1
        if xs.ndim == 3:
            means, grad = ssim_gradient_2d(xs, ys, weights, consts, wdt, cs_only=cs_only, backend=backend)
        else:
            means, grad = ssim_gradient_3d(xs, ys, weights, consts, wdt, cs_only=cs_only)
        terms.append(means)
        grads.append(grad)
        shapes.append(xs.shape)
        if cs_only:
            halving.wait()
            xs, ys = _halved(xs, conv, wdt), _halved(ys, conv, wdt)
    clamped = [np.maximum(t, 0.0) for t in terms]
    values = np.prod([c ** w for c, w in zip(clamped, level_weights)], axis=0)
    total = None
    for level in reversed(range(levels)):  # from the coarsest scale up, adding each scale's share
        others = np.prod([c ** w for m, (c, w) in enumerate(zip(clamped, level_weights)) if m != level], axis=0)
        w = level_weights[level]
        with np.errstate(divide="ignore", invalid="ignore"):
            coef = np.where(terms[level] > 0, w * clamped[level] ** (w - 1) * others, 0.0)
        share = grads[level] * coef.astype(wdt).reshape((-1,) + (1,) * (x.ndim - 1))
        total = share if total is None else share + _halving_transposed(total, shapes[level], conv.downsample)
    return values, total.astype(wdt, copy=False)


def avanaki_gradient(x5, y5, spatial_ndim, weights, consts, pad_mode):
    """Avanaki's (2009) SSIM gradient on full-size maps, as MATLAB's reference code
    (``pad_mode="constant"``: zero padding, the exact gradient of the mean of that map)
    and scikit-image (``pad_mode="symmetric"``: scipy's 'reflect') compute it.

    ``grad = [F(A1/D) x + F(-S/B2) y + F((ux (A2 - A1) - uy (B2 - B1) S) / D)] * 2 / N``
    with every filter F 'same'-sized, N the pixels of one plane. The last ``spatial_ndim``
    axes of ``x5``/``y5`` are filtered (any number of them; a 2-D image's 5-D view has its
    unit D axis left alone).

    Returns
    -------
    smap, grad : ndarray, float64, the shape of ``x5``
    """
    r = len(weights) // 2

    def F(a):
        return separable_filter(pad_same(a, r, spatial_ndim, pad_mode), weights, spatial_ndim)

    x = np.asarray(x5, dtype=np.float64)
    y = np.asarray(y5, dtype=np.float64)
    c1, c2, cn = (float(v) for v in consts[:3])
    ux, uy = F(x), F(y)
    vx = cn * (F(x * x) - ux * ux)
    vy = cn * (F(y * y) - uy * uy)
    vxy = cn * (F(x * y) - ux * uy)
    a1, a2 = 2 * ux * uy + c1, 2 * vxy + c2
    b1, b2 = ux ** 2 + uy ** 2 + c1, vx + vy + c2
    d = b1 * b2
    s = a1 * a2 / d
    grad = F(a1 / d) * x + F(-s / b2) * y + F((ux * (a2 - a1) - uy * (b2 - b1) * s) / d)
    return s, grad * (2.0 / np.prod(x.shape[x.ndim - spatial_ndim:]))


def device_gradient_2d(devices, x3, y3, weights, consts, channels, shape):
    """SSIM and its gradient of GPU planes read in place: ``devices`` the caller's two GPU arrays,
    ``x3``/``y3`` host proxies of their (N*C, H, W) views. Returns ``(values (N,) on the host,
    gradient GPU array of ``shape``)``, the gradient divided by ``channels`` (the value is the mean
    over channels) in the backward kernel; nothing is copied to the host but the sums."""
    from .cuda import ssim as cu, gradient as cu_gradient

    P, H, W = x3.shape
    zero = np.zeros(P)  # no shift: the GPU kernels sum the moments in float64
    with GPU_LOCK:
        xd = cu.launchable(cu.device_view(devices[0], x3))
        yd = cu.launchable(cu.device_view(devices[1], y3))
        sums, grad = cu_gradient.ssim_gradient_2d(xd, yd, axis_windows(weights, 2), consts.astype(np.float64), zero,
                                                  zero, np.dtype(consts.dtype), False, scale=1.0 / channels)
    wins = axis_windows(weights, 2)
    values = (sums / ((H - len(wins[0]) + 1) * (W - len(wins[1]) + 1))).reshape(-1, channels).mean(axis=1)
    return values, cu.reshaped(grad, shape)
