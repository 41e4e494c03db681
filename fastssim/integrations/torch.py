"""SSIM and MS-SSIM as PyTorch losses: ``ssim``, ``ms_ssim`` (differentiable functions) and the
``SSIMLoss``, ``MSSSIMLoss`` modules.

Needs PyTorch (``pip install 'fastssim[torch]'``). Tensors are (N, C, H, W) or (N, C, D, H, W).
Each image's value is the mean of its channels' values, computed by the ``fastssim::planes``
custom operator (`fastssim.integrations.torch_ops`): the forward kernels alone when no input
needs a gradient, else the fused gradient kernels, which give the value and the exact gradient
for each input that needs one in one pass; ``torch.compile(..., fullgraph=True)`` traces it
without a graph break. float32, float16 and bfloat16 tensors are computed in float32 (the
gradient returned in the tensor's dtype), float64 ones in float64. CUDA tensors (SSIM of (N, C,
H, W)) are read in place by the CUDA gradient kernels and their gradients stay on the device (the
tensors are synchronised with PyTorch's current stream first; only the per-image sums come to
the host); other CUDA inputs (volumes, MS-SSIM) are computed on the host and their gradients
copied back. The CUDA path has been run only under Numba's simulator, with device arrays, not
yet with CUDA tensors on a GPU.
"""

import numpy as np

from ..conventions import checks as v
from ..conventions import data_range as dr
from ..kernels.math import window_weights
from ..metrics.gradient import ssim_batch_with_gradient
from ..metrics.multiscale import MS_SSIM_WEIGHTS
from .torch_ops import planes

try:
    import torch as _torch
except ImportError:  # fastssim works without torch; this module then only explains
    _torch = None  # type: ignore[assignment]

__all__ = ["ssim", "ms_ssim", "SSIMLoss", "MSSSIMLoss"]

REDUCTIONS = ("mean", "none")


def _need_torch():
    if _torch is None:
        raise ImportError("fastssim.torch needs PyTorch: pip install 'fastssim[torch]'")


def _host(t, work):
    return t.detach().to("cpu", work).numpy()


class _Missing:
    Function = object
    Module = object


_Function = _torch.autograd.Function if _torch is not None else _Missing.Function
_Module = _torch.nn.Module if _torch is not None else _Missing.Module


class SSIMFunction(_Function):  # type: ignore[valid-type,misc]
    """``SSIMFunction.apply(x, y, options, fn)``: each image's SSIM, shape (N,), differentiable
    in ``x`` and ``y``; ``fn`` is `ssim_batch_with_gradient` (default) or
    `ms_ssim_batch_with_gradient`."""

    @staticmethod
    def forward(ctx, x, y, options, fn=ssim_batch_with_gradient):
        work = _torch.float64 if _torch.float64 in (x.dtype, y.dtype) else _torch.float32
        if x.is_cuda and y.is_cuda and fn is ssim_batch_with_gradient and x.dim() == 4:
            xa = x.detach().to(work).contiguous()  # read in place by the CUDA kernels
            ya = y.detach().to(work).contiguous()
            _torch.cuda.current_stream(y.device).synchronize()
        else:
            xa, ya = _host(x, work), _host(y, work)
        values, grad_y = fn(xa, ya, **options)
        grad_x = fn(ya, xa, **options)[1] if ctx.needs_input_grad[0] else None  # both are symmetric
        ctx.grads = (grad_x, grad_y)
        ctx.meta = [(t.device, t.dtype) for t in (x, y)]
        ctx.save_for_backward(x, y)
        ctx.options, ctx.fn = options, fn
        out = y.dtype if y.dtype.is_floating_point else _torch.get_default_dtype()
        return _torch.from_numpy(values).to(device=y.device, dtype=out)

    @staticmethod
    def backward(ctx, grad_output):
        if _torch.is_grad_enabled():  # create_graph=True: gradients that can be differentiated again
            return tuple(_second_order(ctx, grad_output)) + (None, None)
        out = []
        for g, (device, dtype), needed in zip(ctx.grads, ctx.meta, ctx.needs_input_grad[:2]):
            if not needed:
                out.append(None)
                continue
            scale = grad_output.to(device=device, dtype=dtype).reshape((-1,) + (1,) * (len(g.shape) - 1))
            g = _torch.from_numpy(g) if isinstance(g, np.ndarray) else _torch.as_tensor(g, device=device)
            out.append(g.to(device=device, dtype=dtype) * scale)
        return out[0], out[1], None, None


def _second_order(ctx, grad_output):
    """`SSIMFunction`'s gradients as a graph of PyTorch operations (`torch_reference`), for SSIM
    with the options `ssim` passes; anything else is refused rather than differentiated as if
    its gradient were constant."""
    from . import torch_reference as ref

    x, y = ctx.saved_tensors
    o = ctx.options
    known = {"spatial_ndim", "channel_axis", "data_range", "win_size", "sigma", "gaussian", "K1", "K2"}
    if ctx.fn is not ssim_batch_with_gradient or set(o) - known or o.get("channel_axis") != 0:
        raise RuntimeError("SSIMFunction's backward is not differentiable for these options; for gradients of "
                           "gradients (create_graph=True) call fastssim.torch.ssim or ms_ssim")
    taps = [_torch.from_numpy(window_weights(o.get("win_size", 11), o.get("sigma", 1.5), o.get("gaussian", True)))]

    def per_image(a, b):
        n, c = a.shape[:2]
        v = ref.planes(a.reshape((n * c,) + tuple(a.shape[2:])), b.reshape((n * c,) + tuple(b.shape[2:])), taps,
                       float(o["data_range"]), o.get("K1", 0.01), o.get("K2", 0.03), (), "wang", False, 0, 0.0)
        return v.reshape(n, c).mean(1)

    return ref.gradients(per_image, (x, y), ctx.needs_input_grad[:2], grad_output)


def _check(x, y, reduction, dims=(4, 5), win_size=11):
    _need_torch()
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
    if tuple(x.shape) != tuple(y.shape) or x.dim() not in dims:
        shapes = "(N, C, H, W) or (N, C, D, H, W)" if dims == (4, 5) else "(N, C, H, W)"
        raise ValueError(f"expected two {shapes} tensors of one shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    shape = tuple(x.shape)
    if x.dim() == 4 and shape[-1] in (1, 2, 3, 4) and shape[1] >= win_size and min(shape[2:]) < win_size:
        raise ValueError(f"expected (N, C, H, W) tensors; {shape} looks channel-last (N, H, W, C): pass "
                         "x.permute(0, 3, 1, 2) (and the same for y)")


def _per_image(x, y, data_range, win_size, sigma, gaussian, K1, K2, level_weights=()):
    """Each image's value (the mean over its channels), differentiable, through the
    ``fastssim::planes`` operator; in ``y``'s dtype (the default dtype for integer tensors)."""
    v.check_options(win_size, sigma, K1, K2, "cpu")
    taps = _torch.from_numpy(window_weights(win_size, sigma, gaussian).copy())
    N, C = x.shape[:2]
    values = planes(x.reshape((N * C,) + tuple(x.shape[2:])), y.reshape((N * C,) + tuple(y.shape[2:])), taps=taps,
                    data_range=data_range, K1=K1, K2=K2, level_weights=level_weights)
    out = y.dtype if y.dtype.is_floating_point else _torch.get_default_dtype()
    return values.reshape(N, C).mean(1).to(out)


def _range(data_range, owner):
    """A data range the caller gave: a positive finite number (there is no default)."""
    if data_range is None:
        raise ValueError(f"{owner} needs data_range: the span of the values (1.0 for images in [0, 1], 255.0 for "
                         "[0, 255]); there is no default, since a wrong range changes SSIM silently (as the NumPy "
                         "API refuses float input without one)")
    value = dr.check(data_range)
    if isinstance(value, str):  # a rule would read the tensors' values outside the graph
        raise ValueError(f"{owner} takes a number for data_range (the span of the values), got {data_range!r}")
    return value


def ssim(x, y, *, data_range, win_size=11, sigma=1.5, gaussian=True, K1=0.01, K2=0.03, reduction="mean"):
    """Differentiable SSIM of two (N, C, H, W) or (N, C, D, H, W) tensors.

    Parameters
    ----------
    x, y : torch.Tensor
        Of one shape; float tensors where a gradient is wanted.
    data_range : float
        The range L of the data (1.0 for images in [0, 1]).
    win_size, sigma, gaussian, K1, K2
        As for `fastssim.ssim` (11 taps, sigma 1.5: Wang et al.).
    reduction : {'mean', 'none'}
        'mean': one number, the mean over the batch; 'none': each image's SSIM, shape (N,)
        (the mean over its channels).

    Returns
    -------
    torch.Tensor
        On ``y``'s device, in ``y``'s dtype.

    Raises
    ------
    ValueError
        For other shapes, an unknown ``reduction``, and as `fastssim.ssim_batch`.

    Examples
    --------
    >>> import torch
    >>> from fastssim.torch import ssim
    >>> x = torch.rand(2, 1, 32, 32, dtype=torch.float64)
    >>> y = (x + 0.1 * torch.rand_like(x)).requires_grad_()
    >>> loss = 1 - ssim(x, y, data_range=1.0)
    >>> loss.backward()
    >>> y.grad.shape
    torch.Size([2, 1, 32, 32])
    """
    _check(x, y, reduction, win_size=win_size)
    L = _range(data_range, "ssim")
    if x.is_cuda and y.is_cuda and x.dim() == 4:  # the CUDA gradient kernels read the tensors in place
        options = dict(spatial_ndim=2, channel_axis=0, data_range=L, win_size=win_size, sigma=sigma,
                       gaussian=gaussian, K1=K1, K2=K2)
        values = SSIMFunction.apply(x, y, options)
    else:  # the fastssim::planes operator: forward kernels alone when no gradient is wanted
        values = _per_image(x, y, L, win_size, sigma, gaussian, K1, K2)
    return values.mean() if reduction == "mean" else values


def ms_ssim(x, y, *, data_range, weights=MS_SSIM_WEIGHTS, win_size=11, sigma=1.5, gaussian=True, K1=0.01, K2=0.03,
            reduction="mean"):
    """Differentiable MS-SSIM of two (N, C, H, W) or (N, C, D, H, W) tensors.

    Wang's halving (an odd side's last sample averaged with itself): equal to pytorch_msssim's
    ``ms_ssim`` and its gradient on even sizes; for its numbers on every size use
    `fastssim.compat.pytorch_msssim`.

    Parameters
    ----------
    x, y : torch.Tensor
        Of one shape, every spatial side at least 161 for the default five scales and 11 taps.
    data_range : float
        The range L of the data (1.0 for images in [0, 1]).
    weights : sequence of float, optional
        One exponent per scale, as `fastssim.ms_ssim` (Wang's five by default).
    win_size, sigma, gaussian, K1, K2
        As for `fastssim.ssim`.
    reduction : {'mean', 'none'}
        As for `ssim`.

    Returns
    -------
    torch.Tensor
        On ``y``'s device, in ``y``'s dtype; a scalar, or (N,) with ``reduction='none'``.

    Raises
    ------
    ValueError
        For images too small for the scales, and as `ssim`.
    """
    _check(x, y, reduction, win_size=win_size)
    L = _range(data_range, "ms_ssim")
    values = _per_image(x, y, L, win_size, sigma, gaussian, K1, K2, level_weights=v.check_level_weights(weights))
    return values.mean() if reduction == "mean" else values


class SSIMLoss(_Module):  # type: ignore[valid-type,misc]
    """``1 - SSIM`` as a loss module: ``SSIMLoss(data_range=1.0)(prediction, target)``.

    Parameters
    ----------
    data_range : float
        Required (as in the NumPy API for float input): the span of the values, 1.0 for images
        in [0, 1] and 255.0 for [0, 255]; a wrong one changes SSIM silently, the commonest way
        published SSIM scores go wrong.
    win_size, sigma, gaussian, K1, K2
        As for `fastssim.ssim`.
    reduction : {'mean', 'none'}
        'mean': one loss for the batch; 'none': one per image.

    Examples
    --------
    >>> import torch
    >>> from fastssim.torch import SSIMLoss
    >>> target = torch.rand(4, 3, 48, 48)
    >>> pred = target.clone().requires_grad_()
    >>> SSIMLoss(data_range=1.0)(pred, target).item()
    0.0
    """

    def __init__(self, data_range=None, win_size=11, sigma=1.5, gaussian=True, K1=0.01, K2=0.03, reduction="mean"):
        _need_torch()
        super().__init__()
        data_range = _range(data_range, "SSIMLoss")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        self.options = dict(data_range=data_range, win_size=win_size, sigma=sigma, gaussian=gaussian, K1=K1, K2=K2,
                            reduction=reduction)

    def forward(self, prediction, target):
        return 1 - ssim(target, prediction, **self.options)


class MSSSIMLoss(_Module):  # type: ignore[valid-type,misc]
    """``1 - MS-SSIM`` as a loss module: ``MSSSIMLoss(data_range=1.0)(prediction, target)``.

    Parameters
    ----------
    data_range : float
        Required: the span of the values (see `SSIMLoss`).
    weights : sequence of float, optional
        One exponent per scale, as `ms_ssim`.
    win_size, sigma, gaussian, K1, K2
        As for `fastssim.ssim`.
    reduction : {'mean', 'none'}
        'mean': one loss for the batch; 'none': one per image.
    """

    def __init__(self, data_range=None, weights=MS_SSIM_WEIGHTS, win_size=11, sigma=1.5, gaussian=True, K1=0.01,
                 K2=0.03, reduction="mean"):
        _need_torch()
        super().__init__()
        data_range = _range(data_range, "MSSSIMLoss")
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be 'mean' or 'none', got {reduction!r}")
        self.options = dict(data_range=data_range, weights=tuple(weights), win_size=win_size, sigma=sigma,
                            gaussian=gaussian, K1=K1, K2=K2, reduction=reduction)

    def forward(self, prediction, target):
        return 1 - ms_ssim(target, prediction, **self.options)


if _torch is None:  # the examples need torch
    ssim.__doc__ = ssim.__doc__.split("    Examples")[0]
    SSIMLoss.__doc__ = SSIMLoss.__doc__.split("    Examples")[0]
