"""The ``fastssim::planes`` operator under the PyTorch drop-ins: eager calls take a plain
autograd function with the same computation (a custom operator's first eager call imports
``torch._dynamo``, about a second), traced and fake-tensor calls take the operator; both give
the same values and gradients, and the operator passes PyTorch's own checks."""

import subprocess
import sys

import numpy as np
import pytest

from images import grey, jpeg, need


def _inputs(torch, dtype=None):
    x = grey()[100:164, 200:270]
    y = jpeg(x, quality=20)
    dtype = dtype or torch.float64
    X = torch.from_numpy(np.stack([x, y]) / 255.0).to(dtype)
    Y = torch.from_numpy(np.stack([y, x[::-1].copy()]) / 255.0).to(dtype)
    taps = torch.from_numpy(np.exp(-0.5 * (np.arange(11) - 5.0) ** 2 / 1.5 ** 2))
    return X, Y, taps / taps.sum()


@pytest.mark.parametrize("level_weights", [(), (0.5, 0.5)])
def test_eager_path_equals_the_operator(level_weights):
    torch = need("torch")
    from fastssim.integrations import torch_ops
    X, Y, taps = _inputs(torch)
    if level_weights:  # MS-SSIM needs two scales of windows
        X, Y = (torch.nn.functional.interpolate(t[None], scale_factor=2.5)[0] for t in (X, Y))
    args = (1.0, 0.01, 0.03, list(level_weights), "wang", False)
    got = []
    for eager in (True, False):
        x, y = X.clone().requires_grad_(), Y.clone().requires_grad_()
        if eager:
            values = torch_ops._Eager.apply(x, y, taps, *args, True, True)
        else:
            values = torch_ops._op(x, y, taps, *args, True, True)[0]
        (values * torch.tensor([1.0, -2.0], dtype=values.dtype)).sum().backward()
        got.append((values.detach(), x.grad, y.grad))
    for a, b in zip(*got):
        assert torch.equal(a, b)
    assert got[0][1].abs().sum() > 0 and got[0][2].abs().sum() > 0
    # the public wrapper takes the eager path for real tensors and the operator for fake ones
    assert torch_ops._eager(X, Y, taps)
    assert not torch_ops._eager(X.to("meta"), Y.to("meta"), taps)


def test_the_operator_passes_opcheck():
    torch = need("torch")
    from fastssim.integrations import torch_ops
    X, Y, taps = _inputs(torch)
    torch.library.opcheck(torch_ops._op, (X.requires_grad_(), Y.requires_grad_(), taps, 1.0, 0.01, 0.03, [],
                                          "wang", False, True, True))


def test_an_eager_call_does_not_import_dynamo():
    need("torch")
    code = ("import sys, torch\n"
            "from fastssim.torch import SSIMLoss\n"
            "x = torch.rand(1, 1, 64, 64, requires_grad=True)\n"
            "SSIMLoss(data_range=1.0)(x, torch.rand(1, 1, 64, 64)).backward()\n"
            "assert x.grad is not None and float(x.grad.abs().sum()) > 0\n"
            "print('torch._dynamo' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_map_operator_eager_path_equals_the_operator_and_passes_opcheck():
    """``fastssim::ssim_map`` (kornia's differentiable map): the eager autograd function and the
    operator give the same map and the same gradients for a weighted sum of it; opcheck passes
    for the map and its vector-Jacobian product."""
    torch = need("torch")
    from fastssim.integrations import torch_ops
    X, Y, taps = _inputs(torch)
    args = (1.0, 0.01, 0.03, 1e-12)
    weight = None
    got = []
    for eager in (True, False):
        x, y = X.clone().requires_grad_(), Y.clone().requires_grad_()
        smap = torch_ops._EagerMap.apply(x, y, taps, *args) if eager else torch_ops._map_op(x, y, taps, *args)
        if weight is None:
            weight = torch.linspace(-1.0, 2.0, smap.numel(), dtype=smap.dtype).reshape(smap.shape)
        (smap * weight).sum().backward()
        got.append((smap.detach(), x.grad, y.grad))
    for a, b in zip(*got):
        assert torch.equal(a, b)
    assert got[0][0].shape == (2, X.shape[1] - 10, X.shape[2] - 10)
    assert got[0][1].abs().sum() > 0 and got[0][2].abs().sum() > 0
    torch.library.opcheck(torch_ops._map_op, (X.clone().requires_grad_(), Y.clone().requires_grad_(), taps) + args)
    torch.library.opcheck(torch_ops._map_vjp_op, (X, Y, taps) + args + (weight, True, True))
