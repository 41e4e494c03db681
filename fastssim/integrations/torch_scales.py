"""MS-SSIM's scales from one call to the kernels, for the drop-ins whose scales are otherwise
PyTorch operations (torchmetrics', MONAI's: a planes operator per scale, the images halved by
``avg_pool2d`` between them): when nothing needs a gradient and the call runs eagerly on the
CPU, both images are halved in one pass and no tensor is made per scale. The values are the
per-scale operations' bit for bit; with a gradient, under ``torch.compile``, on a GPU or with a
window per axis the caller keeps its loop."""

from .torch_ops import _eager

try:
    import torch as _torch
except ImportError:
    _torch = None  # type: ignore[assignment]

__all__ = ["scale_terms"]


def scale_terms(x, y, taps, data_range, k1, k2, levels, convention):
    """Each scale's term pooled over channels, float64 tensor (levels, N), or None where the
    caller's loop must run (see the module).

    Parameters
    ----------
    x, y : torch.Tensor
        (N, C, H, W) or (N, C, D, H, W), float32 or float64, one shape.
    taps : torch.Tensor
        The window (k,), along every axis (a list of per-axis windows: None).
    data_range : float or None
        None: each scale's own (torchmetrics' rule without ``data_range``).
    k1, k2 : float
    levels : int
    convention : {'torchmetrics', 'monai'}
        The last scale's SSIM over the 'same' windows of PyTorch's reflection (torchmetrics) or
        the 'valid' ones (MONAI); both halve by ``avg_pool2d(2)`` and take the finer scales'
        contrast-structure term over the 'valid' windows.
    """
    if (isinstance(taps, list) or x.device.type != "cpu"
            or (_torch.is_grad_enabled() and (x.requires_grad or y.requires_grad))
            or not _eager(x, y, taps)
            or min(x.shape[2:]) // 2 ** (levels - 1) < taps.numel()):
        return None
    from ..metrics.planes import ms_ssim_terms_planes

    N, C = x.shape[:2]
    a, b = (t.detach().contiguous().numpy().reshape((N * C,) + tuple(t.shape[2:])) for t in (x, y))
    terms = ms_ssim_terms_planes(a, b, spatial_ndim=x.dim() - 2, taps=taps.numpy(), data_range=data_range,
                                 levels=levels, K1=k1, K2=k2, convention=convention)
    return _torch.from_numpy(terms).reshape(levels, N, C).mean(2)
