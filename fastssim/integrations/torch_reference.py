"""The SSIM of the ``fastssim::planes`` and ``fastssim::ssim_map`` operators written in PyTorch
operations, for gradients of gradients.

The operators' backward passes scale gradients that fastssim's fused kernels computed in the
forward pass: fast, but not themselves differentiable. When a backward pass is asked to build a
graph (``torch.autograd.grad(..., create_graph=True)``: gradient penalties, meta-learning,
Hessian-vector products), the operators recompute their value with these functions and let
PyTorch differentiate that, so the second derivatives are exact rather than silently missing.
The first derivatives then equal the kernels' to the work dtype's rounding.

The arithmetic is the kernels' (`fastssim.kernels.math.ssim_terms`): a separable window applied
by convolutions over the 'valid' region, population (co)variances, the contrast-structure term
``(2 vxy + C2) / (vx + vy + C2)``, kornia's ``eps`` in SSIM's denominator; MS-SSIM's scales
halved by Wang's rule (an odd side's last sample averaged with itself) or pytorch_msssim's (a
zero before an odd side's first sample), negative terms counted as 0.
"""

import torch
import torch.nn.functional as F

__all__ = ["planes", "ssim_map"]


def _windows(taps, nd, dtype, device):
    """One 1-D window per spatial axis, as tensors of the work dtype."""
    wins = [t.detach().to(device=device, dtype=dtype).reshape(-1, t.shape[-1])[0] for t in taps]
    return wins * nd if len(wins) == 1 else wins


def _filter(t, wins):
    """``t`` (P, M, *spatial) filtered by one window along each spatial axis, 'valid', each of
    its P x M maps alone: one depthwise convolution of P x M channels per axis (with the taps
    repeated; 2-3x faster here, forward and backward, than a batch of P images of M groups)."""
    nd, lead = len(wins), t.shape[:2]
    conv = F.conv2d if nd == 2 else F.conv3d
    t = t.reshape((1, lead[0] * lead[1]) + tuple(t.shape[2:]))
    for axis in range(nd):
        shape = [1] * nd
        shape[axis] = wins[axis].numel()
        t = conv(t, wins[axis].reshape(1, 1, *shape).expand(t.shape[1], 1, *shape), groups=t.shape[1])
    return t.reshape(tuple(lead) + tuple(t.shape[2:]))


def _terms(x, y, wins, c1, c2, eps):
    """Each window's SSIM and contrast-structure term, (P, 1, *valid)."""
    mx, my, exx, eyy, exy = _filter(torch.cat([x, y, x * x, y * y, x * y], 1), wins).split(1, 1)
    vx, vy, vxy = exx - mx * mx, eyy - my * my, exy - mx * my
    a2 = 2 * vxy + c2
    b2 = vx + vy + c2
    ssim = (2 * mx * my + c1) * a2 / ((mx * mx + my * my + c1) * b2 + eps)
    return ssim, a2 / b2


def _prepared(x, y, taps):
    work = torch.float64 if torch.float64 in (x.dtype, y.dtype) else torch.float32
    nd = x.dim() - 1
    return x.to(work).unsqueeze(1), y.to(work).unsqueeze(1), _windows(taps, nd, work, x.device), nd


def _halve(t, convention):
    """2x2 (2x2x2) block means: Wang's rule or pytorch_msssim's (see the module)."""
    nd = t.dim() - 2
    odd = [n % 2 for n in t.shape[2:]]
    pool = F.avg_pool2d if nd == 2 else F.avg_pool3d
    if convention == "pytorch_msssim":
        return pool(t, 2, padding=odd)
    if any(odd):
        pads = []
        for o in reversed(odd):  # F.pad lists the last axis first
            pads += [0, o]
        t = F.pad(t, pads, mode="replicate")
    return pool(t, 2)


def planes(x, y, taps, data_range, K1, K2, level_weights, convention, cs_only, pad, eps):
    """Each plane's SSIM, its mean contrast-structure term (``cs_only``) or its MS-SSIM
    (``level_weights``), float64, (P,); the arguments are the ``fastssim::planes`` operator's."""
    x, y, wins, nd = _prepared(x, y, taps)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    if pad:
        x, y = F.pad(x, [pad] * 2 * nd, mode="reflect"), F.pad(y, [pad] * 2 * nd, mode="reflect")
    if not level_weights:
        ssim, cs = _terms(x, y, wins, c1, c2, eps)
        return (cs if cs_only else ssim).flatten(1).mean(1).to(torch.float64)
    value = None
    for i, weight in enumerate(level_weights):
        if i:
            x, y = _halve(x, convention), _halve(y, convention)
        ssim, cs = _terms(x, y, wins, c1, c2, 0.0)
        term = (ssim if i == len(level_weights) - 1 else cs).flatten(1).mean(1).to(torch.float64)
        term = torch.relu(term) ** weight
        value = term if value is None else value * term
    return value


def ssim_map(x, y, taps, data_range, K1, K2, eps, pad):
    """Each plane's 'valid' SSIM map in the work dtype; the arguments are the
    ``fastssim::ssim_map`` operator's."""
    x, y, wins, nd = _prepared(x, y, taps)
    if pad:
        x, y = F.pad(x, [pad] * 2 * nd, mode="reflect"), F.pad(y, [pad] * 2 * nd, mode="reflect")
    ssim, _ = _terms(x, y, wins, (K1 * data_range) ** 2, (K2 * data_range) ** 2, eps)
    return ssim.squeeze(1)


def gradients(forward, inputs, needs, upstream):
    """The gradients of ``sum(upstream * forward(*inputs))`` with respect to the inputs that
    ``needs`` marks (None for the others), as a graph that can be differentiated again; in the
    work dtype whatever autocast region the backward runs in (its convolutions in bfloat16 moved
    the gradient by 13%)."""
    with torch.enable_grad(), torch.autocast(inputs[0].device.type, enabled=False):
        out = forward(*inputs)
        wanted = [t for t, need in zip(inputs, needs) if need]
        got = iter(torch.autograd.grad(out, wanted, upstream.to(out.dtype), create_graph=True, allow_unused=True))
    return [next(got) if need else None for need in needs]
