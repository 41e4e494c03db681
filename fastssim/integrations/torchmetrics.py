"""A drop-in for torchmetrics' SSIM and MS-SSIM: ``from fastssim.compat.torchmetrics import
structural_similarity_index_measure, multiscale_structural_similarity_index_measure,
StructuralSimilarityIndexMeasure, MultiScaleStructuralSimilarityIndexMeasure``.

The same arguments, defaults and results as torchmetrics 1.x: the Gaussian window of
``int(3.5 sigma + 0.5) * 2 + 1`` taps built in the input's dtype (or the uniform ``kernel_size``
window); the images extended by reflection (PyTorch's 'reflect') so that SSIM is the mean of a
map of the input's size, pooled over channels; ``data_range`` a number, a ``(min, max)`` tuple
(the inputs clamped to it) or None (the larger span of the two batches, recomputed at every
MS-SSIM scale); ``reduction``; ``return_full_image``; ``return_contrast_sensitivity`` (the
contrast-structure term over the windows inside the image); MS-SSIM's ``betas`` (float32 numbers,
as torchmetrics makes them), ``normalize`` ('relu', 'simple' or None) and its halving (2x2 average
pooling that drops an odd last row or column). The metric classes are torchmetrics' own with
their ``update`` computing through fastssim: ``compute``, ``reset``, ``forward``, the states
(sums, not lists of images, for the mean and the sum) and their distributed reduction are
torchmetrics'.

The windows' values come from the ``fastssim::planes`` operator (fastssim's kernels; the
reflection, clamping, halving and reductions are PyTorch operations, so autograd and
``torch.compile`` see them). An MS-SSIM that needs no gradient, computed eagerly on the CPU, takes
every scale from one call to the kernels instead (both images halved in one pass), with the same
bits. float64 tensors agree with torchmetrics to about 1e-14. What
differs, on purpose:

- the window is built in float64 for every input dtype: torchmetrics builds it in the input's
  dtype, and float32 taps sum to 1 only within rounding, which moves its SSIM by up to 1e-5; so
  float32 tensors give torchmetrics' float64 result to about 2e-6 (torchmetrics' own float32
  result is up to 5e-5 from it, a per-pixel map up to 1.5e-3);
- float16 and bfloat16 tensors are computed in float32 (torchmetrics convolves in their dtype,
  where SSIM of similar images comes out above 1: its issue 1290); the result is in their dtype;
- a data range computed from the data (``data_range=None``) is a constant for the gradient
  (torchmetrics differentiates through the max and min of the batch, a term that moves only
  the pixels holding them);
- the variances are not clamped at 0 one by one (fastssim's kernels keep ``vx + vy`` exact;
  a clamp changes a window only where rounding made a variance negative);
- the full image (``return_full_image``) carries no gradient.

Anisotropic windows (a sequence of different ``sigma`` or ``kernel_size``) are computed by the
same kernels, a window per axis; their reflection is then a PyTorch copy where its widths
differ between axes.
"""

from collections.abc import Sequence

from .torch_ops import avg_pool2, planes
from .torch_scales import scale_terms

try:
    import torch as _torch
    import torch.nn.functional as _F
except ImportError:
    _torch = None  # type: ignore[assignment]

#: the metric classes are in `fastssim.integrations.torchmetrics_classes` (they need torchmetrics)
__all__ = ["structural_similarity_index_measure", "multiscale_structural_similarity_index_measure"]

BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
REDUCTIONS = ("elementwise_mean", "sum", "none", None)


def _need_torch():
    if _torch is None:
        raise ImportError("fastssim.compat.torchmetrics needs PyTorch: pip install 'fastssim[torch]'")


def _check_inputs(preds, target):
    _need_torch()
    if preds.dtype != target.dtype:
        target = target.to(preds.dtype)
    if preds.shape != target.shape:
        raise RuntimeError(f"Predictions and targets are expected to have the same shape, but got {preds.shape} "
                           f"and {target.shape}.")
    if len(preds.shape) not in (4, 5):
        raise ValueError("Expected `preds` and `target` to have BxCxHxW or BxCxDxHxW shape."
                         f" Got preds: {preds.shape} and target: {target.shape}.")
    return preds, target


def _per_axis(value, nd, name):
    out = list(value) if isinstance(value, Sequence) else [value] * nd
    if len(out) != nd:
        raise ValueError(f"`{name}` has dimension {len(out)}, but expected to be two less that target "
                         f"dimensionality, which is: {nd + 2}")
    return out


def _window(gaussian_kernel, sigma, kernel_size, nd):
    """The taps, float64 (torchmetrics builds them in the input's dtype: float64 for float64
    input, the same numbers): one tensor for every axis, or a list of one per spatial axis (a
    ``sigma`` or ``kernel_size`` sequence of different values); and the reflection widths of its
    padding (see `_reflect`)."""
    dtype = _torch.float64
    ks = _per_axis(kernel_size, nd, "kernel_size")
    sig = _per_axis(sigma, nd, "sigma")
    if any(k % 2 == 0 or k <= 0 for k in ks):
        raise ValueError(f"Expected `kernel_size` to have odd positive number. Got {ks}.")
    if any(s <= 0 for s in sig):
        raise ValueError(f"Expected `sigma` to have positive number. Got {sig}.")
    if gaussian_kernel:
        sizes = [int(3.5 * s + 0.5) * 2 + 1 for s in sig]

        def one(size, s):
            dist = _torch.arange((1 - size) / 2, (1 + size) / 2, step=1, dtype=dtype)
            g = _torch.exp(-_torch.pow(dist / s, 2) / 2)
            return g / g.sum()

        wins = [one(size, s) for size, s in zip(sizes, sig)]
        # H and W reflect by the Gaussian's radius; torchmetrics pads D by kernel_size
        pads = [(ks[2] - 1) // 2 if nd == 3 else None, (sizes[0] - 1) // 2, (sizes[1] - 1) // 2]
        isotropic = len(set(sig)) == 1
    else:
        wins = [_torch.full((k,), 1.0 / k, dtype=dtype) for k in ks]
        pads = [(ks[2] - 1) // 2 if nd == 3 else None, (ks[0] - 1) // 2, (ks[1] - 1) // 2]
        isotropic = len(set(ks)) == 1
    return (wins[0] if isotropic else wins), pads


def _in_place(pads, nd):
    """The reflection's width when it is the same on every axis (then the kernels read it in
    place, with no padded copy), else None."""
    widths = set(pads[3 - nd:])
    return widths.pop() if len(widths) == 1 else None


def _padded_per_image(preds, target, taps, pads, L, k1, k2):
    """`_per_image` of the images extended by torchmetrics' reflection."""
    width = _in_place(pads, preds.dim() - 2)
    if width is not None:
        return _per_image(preds, target, taps, L, k1, k2, pad=width)
    return _per_image(_reflect(preds, pads), _reflect(target, pads), taps, L, k1, k2)


def _reflect(t, pads):
    if t.dim() == 4:
        return _F.pad(t, (pads[2], pads[2], pads[1], pads[1]), mode="reflect")
    # torchmetrics' 3-D padding: (W, H, D) take (D's, W's, H's) widths
    return _F.pad(t, (pads[0], pads[0], pads[2], pads[2], pads[1], pads[1]), mode="reflect")


def _range(preds, target, data_range):
    """``(preds, target, L)``: clamped to a (min, max) tuple; L a float (from the data for None)."""
    if data_range is None:
        return preds, target, max(_span(preds), _span(target))
    if isinstance(data_range, tuple):
        preds = _torch.clamp(preds, min=data_range[0], max=data_range[1])
        target = _torch.clamp(target, min=data_range[0], max=data_range[1])
        return preds, target, float(data_range[1] - data_range[0])
    return preds, target, float(data_range)


def _span(t):
    """``max - min`` of a tensor, as a float. A CPU tensor's is NumPy's (one thread): PyTorch's
    parallel reductions leave its OpenMP threads spinning for milliseconds on the cores that
    the next kernel needs (measured: the SSIM kernel after them took 1.7x as long)."""
    with _torch.no_grad():
        if t.device.type == "cpu" and t.dtype in (_torch.float32, _torch.float64):
            a = t.detach().numpy()
            return float(a.max() - a.min())
        return float((t.max() - t.min()).item())


def _work(t):
    return t if t.dtype in (_torch.float32, _torch.float64) else t.to(_torch.float32)


def _out_dtype(t):
    return t.dtype if t.dtype.is_floating_point else _torch.float32


def _check_crop(pads, nd):
    """torchmetrics crops its contrast-structure map by the H and W widths on every axis: that is
    the windows inside the image only when D's width (from ``kernel_size``) equals them."""
    if nd == 3 and pads[0] != pads[1]:
        raise ValueError(f"for volumes with a Gaussian window of {2 * pads[1] + 1} taps, kernel_size must be "
                         f"{2 * pads[1] + 1} (torchmetrics pads and crops the depth by kernel_size and the other "
                         "axes by the window, which fastssim does not reproduce for the contrast term)")


def _per_image(preds, target, taps, L, k1, k2, cs_only=False, pad=0):
    """Each image's mean over its channels of each plane's SSIM (or cs), (N,), float64; ``pad``:
    of the planes extended by PyTorch's reflection, read in place (`torch_ops.planes`)."""
    N, C = preds.shape[:2]
    values = planes(preds.reshape((N * C,) + tuple(preds.shape[2:])),
                    target.reshape((N * C,) + tuple(target.shape[2:])), taps=taps, data_range=L, K1=k1, K2=k2,
                    cs_only=cs_only, pad=pad)
    return values.reshape(N, C).mean(1)


def _full_image(preds, target, taps, L, k1, k2):
    from ..metrics.planes import ssim_map_planes

    N, C = preds.shape[:2]
    work = _torch.float64 if preds.dtype == _torch.float64 else _torch.float32
    a, b = (t.detach().to("cpu", work).reshape((N * C,) + tuple(t.shape[2:])).numpy() for t in (preds, target))
    window = [t.numpy() for t in taps] if isinstance(taps, list) else taps.numpy()
    smap = ssim_map_planes(a, b, spatial_ndim=preds.dim() - 2, taps=window, data_range=L, K1=k1, K2=k2)
    return _torch.from_numpy(smap).reshape((N, C) + smap.shape[1:]).to(preds.device)


def _update(preds, target, gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=None, k1=0.01, k2=0.03,
            return_full_image=False, return_contrast_sensitivity=False):
    """torchmetrics' ``_ssim_update``: each image's SSIM, (N,), in the inputs' dtype, and the
    second output it asks for."""
    if return_full_image and return_contrast_sensitivity:
        raise ValueError("Arguments `return_full_image` and `return_contrast_sensitivity` are mutually exclusive.")
    dtype = _out_dtype(preds)
    preds, target = _work(preds), _work(target)
    taps, pads = _window(gaussian_kernel, sigma, kernel_size, preds.dim() - 2)
    if return_contrast_sensitivity:
        _check_crop(pads, preds.dim() - 2)
    preds, target, L = _range(preds, target, data_range)
    sim = _padded_per_image(preds, target, taps, pads, L, k1, k2).to(dtype)
    if return_contrast_sensitivity:
        return sim, _per_image(preds, target, taps, L, k1, k2, cs_only=True).to(dtype)
    if return_full_image:
        return sim, _full_image(_reflect(preds, pads), _reflect(target, pads), taps, L, k1, k2).to(dtype)
    return sim


def _reduce(values, reduction):
    if reduction == "elementwise_mean":
        return values.mean()
    if reduction == "sum":
        return values.sum()
    if reduction in ("none", None):
        return values
    raise ValueError(f"Reduction parameter unknown: {reduction!r}; one of {REDUCTIONS}")


def structural_similarity_index_measure(preds, target, gaussian_kernel=True, sigma=1.5, kernel_size=11,
                                        reduction="elementwise_mean", data_range=None, k1=0.01, k2=0.03,
                                        return_full_image=False, return_contrast_sensitivity=False):
    """SSIM as torchmetrics' functional ``structural_similarity_index_measure``.

    Parameters
    ----------
    preds, target : torch.Tensor
        (N, C, H, W) or (N, C, D, H, W); ``target`` is cast to ``preds``' dtype.
    gaussian_kernel, sigma, kernel_size, data_range, k1, k2
        As torchmetrics (see the module's notes).
    reduction : {'elementwise_mean', 'sum', 'none', None}
    return_full_image, return_contrast_sensitivity : bool
        Also return the SSIM map of the input's size (no gradient), or each image's mean
        contrast-structure term.

    Returns
    -------
    torch.Tensor, or a tuple of two
        In ``preds``' dtype, on its device.

    Raises
    ------
    ValueError, RuntimeError
        As torchmetrics, and for values that are not finite.

    Examples
    --------
    >>> import torch
    >>> from fastssim.compat.torchmetrics import structural_similarity_index_measure
    >>> preds = torch.rand(2, 3, 32, 32)
    >>> structural_similarity_index_measure(preds, preds).item()
    1.0
    """
    preds, target = _check_inputs(preds, target)
    pack = _update(preds, target, gaussian_kernel, sigma, kernel_size, data_range, k1, k2, return_full_image,
                   return_contrast_sensitivity)
    if isinstance(pack, tuple):
        return _reduce(pack[0], reduction), pack[1]
    return _reduce(pack, reduction)


def _ms_update(preds, target, gaussian_kernel=True, sigma=1.5, kernel_size=11, data_range=None, k1=0.01, k2=0.03,
               betas=BETAS, normalize="relu"):
    """torchmetrics' ``_multiscale_ssim_update``: each image's MS-SSIM, (N,)."""
    nd = preds.dim() - 2
    ks = _per_axis(kernel_size, nd, "kernel_size")
    if preds.size()[-1] < 2 ** len(betas) or preds.size()[-2] < 2 ** len(betas):
        raise ValueError(f"For a given number of `betas` parameters {len(betas)}, the image height and width "
                         f"dimensions must be larger than or equal to {2 ** len(betas)}.")
    div = max(1, (len(betas) - 1)) ** 2
    if preds.size()[-2] // div <= ks[0] - 1:
        raise ValueError(f"For a given number of `betas` parameters {len(betas)} and kernel size {ks[0]}, the image "
                         f"height must be larger than {(ks[0] - 1) * div}.")
    if preds.size()[-1] // div <= ks[1] - 1:
        raise ValueError(f"For a given number of `betas` parameters {len(betas)} and kernel size {ks[1]}, the image "
                         f"width must be larger than {(ks[1] - 1) * div}.")
    if normalize not in ("relu", "simple", None):
        raise ValueError(f"normalize must be 'relu', 'simple' or None, got {normalize!r}")
    dtype = _out_dtype(preds)
    preds, target = _work(preds), _work(target)
    taps, pads = _window(gaussian_kernel, sigma, kernel_size, nd)
    _check_crop(pads, nd)
    fused = _fused_terms(preds, target, taps, pads, data_range, k1, k2, len(betas))
    terms = []
    for level in range(len(betas)):
        if fused is not None:
            term = fused[level]
        elif level == len(betas) - 1:
            p, t, L = _range(preds, target, data_range)
            term = _padded_per_image(p, t, taps, pads, L, k1, k2)
        else:
            p, t, L = _range(preds, target, data_range)
            term = _per_image(p, t, taps, L, k1, k2, cs_only=True)
        terms.append(_torch.relu(term) if normalize == "relu" else term)
        if fused is None and level < len(betas) - 1:
            preds, target = avg_pool2(preds), avg_pool2(target)
    stack = _torch.stack(terms).to(preds.dtype)
    if normalize == "simple":
        stack = (stack + 1) / 2
    exponents = _torch.tensor(betas, device=stack.device).view(-1, 1)  # float32, as torchmetrics
    return _torch.prod(stack ** exponents, dim=0).to(dtype)


def _fused_terms(preds, target, taps, pads, data_range, k1, k2, levels):
    """Each scale's channel-pooled term, float64 (levels, N), from one call to the kernels
    (`torch_scales.scale_terms`) when it applies and the reflection is read in place and
    ``data_range`` is a number or None; else None (the per-scale loop; a ``(min, max)`` range
    clamps each scale's halving of the unclamped images, as torchmetrics does)."""
    if isinstance(data_range, tuple) or _in_place(pads, preds.dim() - 2) is None:
        return None
    L = None if data_range is None else float(data_range)
    return scale_terms(preds, target, taps, L, k1, k2, levels, "torchmetrics")


def multiscale_structural_similarity_index_measure(preds, target, gaussian_kernel=True, sigma=1.5, kernel_size=11,
                                                   reduction="elementwise_mean", data_range=None, k1=0.01, k2=0.03,
                                                   betas=BETAS, normalize="relu"):
    """MS-SSIM as torchmetrics' functional ``multiscale_structural_similarity_index_measure``;
    arguments as `structural_similarity_index_measure`, and ``betas`` (one exponent per scale)
    and ``normalize`` ('relu': negative terms count as 0; 'simple': ``(term + 1) / 2``; None).

    Returns
    -------
    torch.Tensor
        In ``preds``' dtype, on its device.

    Raises
    ------
    ValueError
        As torchmetrics (image too small for the scales, bad arguments).
    """
    preds, target = _check_inputs(preds, target)
    if not isinstance(betas, tuple):
        raise ValueError("Argument `betas` is expected to be of a type tuple.")
    if isinstance(betas, tuple) and not all(isinstance(beta, float) for beta in betas):
        raise ValueError("Argument `betas` is expected to be a tuple of floats.")
    return _reduce(_ms_update(preds, target, gaussian_kernel, sigma, kernel_size, data_range, k1, k2, betas,
                              normalize), reduction)


if _torch is None:  # the example needs torch
    structural_similarity_index_measure.__doc__ = (structural_similarity_index_measure.__doc__ or "").split(
        "    Examples")[0]
