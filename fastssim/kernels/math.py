"""The one definition of the SSIM math, shared by every backend.

``ssim_terms`` is plain Python: the CPU kernels compile it with ``numba.njit``
and the CUDA kernels with ``numba.cuda.jit(device=True)``, so the backends
cannot drift apart. The window weights and the stabilising constants are built
here too, on the host, and handed to the kernels.
"""

import math

import numpy as np


#: Filtered moments per window, as `ssim_terms` takes them: ``x``, ``y``, ``x^2 + y^2``,
#: ``(x - y)^2`` (the kernels' rows of moments hold them side by side, in this order).
MOMENTS = 4


def ssim_terms(mx, my, ess, edd, shx, shy, c1, c2, cov_norm, cs_floor, eps):
    """SSIM of one window, and its contrast-structure term, from its filtered moments.

    Returns ``(ssim, cs)`` with ``cs = (2 vxy + C2) / (vx + vy + C2)`` (MS-SSIM's
    per-scale term). Kernels that need only SSIM drop ``cs``, and the compiler
    drops its division.

    The moments are those of the shifted signals ``x' = x - shx`` and
    ``y' = y - shy``: weighted means ``mx``, ``my`` and raw second moments
    ``ess = E[x'^2 + y'^2]`` and ``edd = E[(x' - y')^2]``. The variances enter
    only as their sum ``vx + vy``, so ``x'^2`` and ``y'^2`` are filtered as one
    moment: four filtered moments per window, not five.
    Variances do not change with the shift, which is added back to the means;
    shifting by a local level keeps ``E[x^2] - E[x]^2`` free of catastrophic
    cancellation in float32 for data with a large mean.

    The covariance is not filtered directly: with ``vd = var(x - y)``,
    ``2 cov(x, y) = vx + vy - vd``, so Wang et al.'s

        S = (2 ux uy + C1) (2 vxy + C2) / ((ux^2 + uy^2 + C1) (vx + vy + C2))

    becomes ``(A1 (B2 - vd)) / ((A1 + (ux - uy)^2) B2)`` with
    ``A1 = 2 ux uy + C1`` and ``B2 = vx + vy + C2``: the same number in real
    arithmetic, but the deficit from 1 is computed from ``vd`` and
    ``(ux - uy)^2`` themselves rather than as a difference of large terms, so
    float32 stays accurate for similar images, and identical windows score
    exactly 1.0. No literal constants appear, so the arithmetic stays in the
    dtype of the arguments (float32 or float64).

    ``cs_floor`` bounds ``A2`` from below: ``-inf`` leaves it alone, ``0`` clamps each
    window's contrast-structure term at 0 before the product (pyiqa's per-pixel ReLU).
    ``eps`` is added to SSIM's denominator ``B1 B2`` (kornia's ``eps``; 0 everywhere else, where
    the sum is exact and the result unchanged); ``cs`` takes none.
    """
    vsum = cov_norm * (ess - mx * mx - my * my)  # vx + vy
    dm = mx - my
    vd = cov_norm * (edd - dm * dm)
    ux = mx + shx
    uy = my + shy
    uxy = ux * uy
    a1 = uxy + uxy + c1
    du = ux - uy
    b1 = a1 + du * du
    b2 = vsum + c2
    a2 = max(b2 - vd, cs_floor)
    return (a1 * a2) / (b1 * b2 + eps), a2 / b2


def ssim_grad_terms(mx, my, ess, edd, shx, shy, c1, c2, cov_norm, eps):
    """SSIM of one window and its partial derivatives with respect to the moments that depend
    on y, ``my = E[y']``, ``eyy = E[y'^2]`` and ``exy = E[x'y']``, from the four filtered moments
    `ssim_terms` takes (``mx``, ``my``, ``ess = E[x'^2 + y'^2]``, ``edd = E[(x' - y')^2]``): the
    variances enter SSIM, and its derivatives, only as ``vx + vy`` and ``2 vxy = vx + vy - vd``.

    As in `ssim_terms`, the moments are those of the shifted signals ``x' = x - shx``,
    ``y' = y - shy`` (variances do not change with the shift; the means ``ux = mx + shx``,
    ``uy = my + shy`` enter the luminance term). Returns ``(ssim, d_my, d_eyy, d_exy)``;
    the gradient with respect to y is then ``F^T d_my + 2 y' F^T d_eyy + x' F^T d_exy``.
    With ``S = A1 A2 / (B1 B2)``:
    ``dS/dmy = (2 ux A2 - 2 cn mx A1) / (B1 B2) - S (2 uy / B1 - 2 cn my / B2)``,
    ``dS/deyy = -cn S / B2`` and ``dS/dexy = 2 cn A1 / (B1 B2)``; written without dividing
    by ``A1`` or ``A2``, which may be 0. With ``eps`` in the denominator (`ssim_terms`),
    ``S = A1 A2 / (B1 B2 + eps)``: the terms through ``B1`` and ``B2`` gain the factor
    ``B1 B2 / (B1 B2 + eps)``, exactly 1 when ``eps`` is 0. ``A1``, ``B1``, ``A2`` and ``B2``
    are formed as in `ssim_terms` (the deficit ``vd`` and ``(ux - uy)^2`` themselves).
    """
    vsum = cov_norm * (ess - mx * mx - my * my)  # vx + vy
    dm = mx - my
    vd = cov_norm * (edd - dm * dm)
    ux = mx + shx
    uy = my + shy
    uxy = ux * uy
    a1 = uxy + uxy + c1
    du = ux - uy
    b1 = a1 + du * du
    b2 = vsum + c2
    a2 = b2 - vd
    d0 = b1 * b2
    d = d0 + eps
    s = a1 * a2 / d  # divided, not multiplied by 1/d: identical windows give exactly 1
    rd = 1.0 / d
    rd0 = rd if eps == 0.0 else 1.0 / d0  # 1 / (B1 B2): 1/B1 = B2 / (B1 B2), 1/B2 = B1 / (B1 B2)
    r = d0 * rd
    # three divisions instead of seven: they were a third of the fused kernel's time
    d_my = (2.0 * ux * a2 - 2.0 * cov_norm * mx * a1) * rd - s * (2.0 * uy * b2 - 2.0 * cov_norm * my * b1) * rd0 * r
    d_eyy = -cov_norm * s * b1 * rd0 * r
    d_exy = 2.0 * cov_norm * a1 * rd
    return s, d_my, d_eyy, d_exy


def cs_grad_terms(mx, my, ess, edd, c2, cov_norm):
    """The contrast-structure term ``cs = A2 / B2`` of one window (MS-SSIM's per-scale term)
    and its partial derivatives with respect to the shifted moments ``my``, ``eyy``, ``exy``,
    from the four filtered moments (see `ssim_grad_terms`): ``dcs/dmy = 2 cn (my cs - mx) / B2``,
    ``dcs/deyy = -cn cs / B2``, ``dcs/dexy = 2 cn / B2``. The shift does not enter: cs depends
    on variances only."""
    b2 = cov_norm * (ess - mx * mx - my * my) + c2
    dm = mx - my
    rb2 = 1.0 / b2  # one division
    cs = (b2 - cov_norm * (edd - dm * dm)) * rb2
    return cs, 2.0 * cov_norm * (my * cs - mx) * rb2, -cov_norm * cs * rb2, 2.0 * cov_norm * rb2


def unravel4(i, n1, n2, n3):
    """The indices ``(a, b, c, d)`` of flat index ``i = ((a n1 + b) n2 + c) n3 + d``
    (C order), for the task and thread numbering of the kernels."""
    d = i % n3
    q = i // n3
    c = q % n2
    q = q // n2
    return q // n1, q % n1, c, d


def block_mean2(x, n, c, k, i, j, depth_too):
    """Mean of the 2x2 block (2x2x2 with ``depth_too``) of the 5-D array ``x`` that output
    sample ``(k, i, j)`` of a half-size image covers, summed in the order written: in
    float64, or in float32 for float32 input (``float()`` keeps float32 under Numba). On an
    axis of odd length the last block repeats the last sample (``msssim.m``'s symmetric
    border)."""
    D, H, W = x.shape[2], x.shape[3], x.shape[4]
    h0 = 2 * i
    h1 = min(h0 + 1, H - 1)
    w0 = 2 * j
    w1 = min(w0 + 1, W - 1)
    d0 = 2 * k if depth_too else k
    s = (float(x[n, c, d0, h0, w0]) + float(x[n, c, d0, h0, w1])
         + float(x[n, c, d0, h1, w0]) + float(x[n, c, d0, h1, w1]))
    if depth_too:
        d1 = min(d0 + 1, D - 1)
        s += (float(x[n, c, d1, h0, w0]) + float(x[n, c, d1, h0, w1])
              + float(x[n, c, d1, h1, w0]) + float(x[n, c, d1, h1, w1]))
        return s * 0.125
    return s * 0.25


def grid_window_means(x, y, n, c, top, left, size):
    """Unweighted means ``(mx, my, E[x^2], E[y^2], E[(x - y)^2])`` of the ``size`` x ``size``
    window at ``(top, left)`` of plane ``(n, c)`` of 2-D 5-D views (``D == 1``), from plain
    float64 sums: the windows of ffmpeg's ``ssim`` filter (8x8 on a 4-pixel grid), for
    `ssim_terms` with no shift and population (co)variances."""
    sx = 0.0
    sy = 0.0
    sxx = 0.0
    syy = 0.0
    sdd = 0.0
    for r in range(top, top + size):
        for q in range(left, left + size):
            a = float(x[n, c, 0, r, q])
            b = float(y[n, c, 0, r, q])
            d = a - b
            sx += a
            sy += b
            sxx += a * a
            syy += b * b
            sdd += d * d
    m = float(size * size)
    return sx / m, sy / m, sxx / m, syy / m, sdd / m


def grid_constants(data_range, k1, k2, size, integer):
    """ffmpeg's stabilisers for ``size`` x ``size`` windows, per squared mean: it adds
    ``round(K1^2 L^2 n)`` to sums of ``n = size^2`` samples (``round(K2^2 L^2 n (n - 1))``
    for the variances), i.e. ``C1 / n`` and ``C2 (n - 1) / n`` on means; rounded as ffmpeg
    rounds them when the data are integers, exact otherwise."""
    n = size * size
    c1 = (k1 * data_range) ** 2 * n
    c2 = (k2 * data_range) ** 2 * n * (n - 1)
    if integer:
        c1, c2 = math.floor(c1 + 0.5), math.floor(c2 + 0.5)
    return c1 / (n * n), c2 / (n * n)


def window_weights(win_size, sigma, gaussian):
    """Normalised 1-D window weights (float64).

    Parameters
    ----------
    win_size : int
        Number of taps (odd).
    sigma : float
        Standard deviation of the Gaussian, in pixels.
    gaussian : bool
        Gaussian weights if True, else uniform ``1 / win_size``.

    Returns
    -------
    ndarray
        ``win_size`` weights summing to 1. The separable N-d window is the outer
        product of this vector with itself along each spatial axis.
    """
    if not gaussian:
        return np.full(win_size, 1.0 / win_size)
    r = win_size // 2
    t = np.arange(-r, r + 1, dtype=np.float64)
    w = np.exp(-0.5 * (t / sigma) ** 2)
    return w / w.sum()


def axis_windows(weights, spatial_ndim):
    """The 1-D window along each of the last ``spatial_ndim`` axes, in their order (float64):
    ``weights`` is one window for every axis, or a list or tuple of one per axis (an
    anisotropic window)."""
    if isinstance(weights, (list, tuple)):
        if len(weights) != spatial_ndim:
            raise ValueError(f"expected one window per spatial axis ({spatial_ndim}), got {len(weights)}")
        return tuple(np.asarray(w, dtype=np.float64).reshape(-1) for w in weights)
    w = np.asarray(weights, dtype=np.float64).reshape(-1)
    return (w,) * spatial_ndim


def valid_shape(shape, taps, pad=0):
    """The number of whole windows along each axis (the 'valid' map's shape): axes of ``shape``
    extended by ``pad`` samples on each side (a reflection read in place; 0: none), windows of
    ``taps[i]`` samples along axis ``i``. The one formula for every caller."""
    return tuple(int(n) + 2 * pad - int(k) + 1 for n, k in zip(shape, taps))


def sums_to_one(weights, spatial_ndim):
    """Whether every axis's window sums to 1 (then the kernels may shift the moments by a level)."""
    return all(abs(float(np.sum(w)) - 1.0) <= 1e-14 for w in axis_windows(weights, spatial_ndim))


def gaussian_radius(sigma, truncate=3.5):
    """Filter radius that scipy.ndimage (and so scikit-image) uses for ``sigma``."""
    return int(truncate * sigma + 0.5)


def stabilisers(data_range, k1, k2):
    """The constants ``C1 = (K1 L)^2`` and ``C2 = (K2 L)^2``."""
    return (k1 * data_range) ** 2, (k2 * data_range) ** 2


def product_terms(a, b):
    """One element's terms of the pair sums behind L2 and cosine: ``((a - b)^2, a b, a^2, b^2)``
    (float64 in, float64 out)."""
    e = a - b
    return e * e, a * b, a * a, b * b


def psnr_from_mse(mse, data_range):
    """Peak signal-to-noise ratio in dB; ``inf`` when ``mse`` is 0."""
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range * data_range / mse)
