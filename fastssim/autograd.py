"""SSIM as a PyTorch loss: an ``autograd.Function`` over fastssim's value and exact gradient.

Needs ``torch`` (not a dependency of fastssim). The value and the gradient are computed
by ``fastssim.ssim_with_gradient`` on the CPU (float64 for float64 tensors, else float32
work); CUDA tensors are copied to the host and the gradient back to their device.
"""

import numpy as np

from .gradients import ssim_with_gradient

try:
    import torch
except ImportError:  # fastssim works without torch; this module then offers nothing
    torch = None


def _one_side(a, b, kw):
    """Mean SSIM over the batch and d/d b, for (N, C, *spatial) arrays."""
    n = a.shape[0]
    values, grads = [], []
    for i in range(n):
        v, g = ssim_with_gradient(a[i], b[i], channel_axis=0, **kw)
        values.append(v)
        grads.append(g / n)
    return float(np.mean(values)), np.stack(grads)


class _Missing:
    Function = object


class SSIMFunction(torch.autograd.Function if torch is not None else _Missing.Function):
    """``SSIMFunction.apply(x, y, data_range, win_size, sigma)``: mean SSIM of (N, C, H, W)
    or (N, C, D, H, W) tensors, differentiable in both."""

    @staticmethod
    def forward(ctx, x, y, data_range, win_size=11, sigma=1.5):
        kw = dict(data_range=float(data_range), win_size=win_size, sigma=sigma)
        work = torch.float64 if x.dtype == torch.float64 or y.dtype == torch.float64 else torch.float32
        xa = x.detach().to("cpu", work).numpy()  # float32 work for float32/16 tensors (fused 2-D kernels)
        ya = y.detach().to("cpu", work).numpy()
        value, grad_y = _one_side(xa, ya, kw)
        grad_x = _one_side(ya, xa, kw)[1] if ctx.needs_input_grad[0] else None
        ctx.grads = (grad_x, grad_y)
        ctx.meta = [(t.device, t.dtype) for t in (x, y)]
        out = y.dtype if y.dtype.is_floating_point else torch.get_default_dtype()  # SSIM of uint8 is not 0 or 1
        return torch.tensor(value, dtype=out, device=y.device)

    @staticmethod
    def backward(ctx, grad_output):
        out = []
        for g, (device, dtype), needed in zip(ctx.grads, ctx.meta, ctx.needs_input_grad[:2]):
            out.append(torch.from_numpy(g).to(device=device, dtype=dtype) * grad_output if needed else None)
        return out[0], out[1], None, None, None


def ssim(x, y, data_range, win_size=11, sigma=1.5):
    """Differentiable mean SSIM of two (N, C, H, W) or (N, C, D, H, W) tensors.

    Examples
    --------
    >>> import torch
    >>> from fastssim.autograd import ssim
    >>> x = torch.rand(2, 1, 32, 32, dtype=torch.float64)
    >>> y = (x + 0.1 * torch.rand_like(x)).requires_grad_()
    >>> loss = 1 - ssim(x, y, data_range=1.0)
    >>> loss.backward()
    >>> y.grad.shape
    torch.Size([2, 1, 32, 32])
    """
    if torch is None:
        raise ImportError("fastssim.autograd needs PyTorch: pip install torch")
    if x.shape != y.shape or x.dim() not in (4, 5):
        raise ValueError(f"expected two (N, C, H, W) or (N, C, D, H, W) tensors of one shape, "
                         f"got {tuple(x.shape)} and {tuple(y.shape)}")
    return SSIMFunction.apply(x, y, data_range, win_size, sigma)


if torch is None:  # the example needs torch
    ssim.__doc__ = ssim.__doc__.split("    Examples")[0]
