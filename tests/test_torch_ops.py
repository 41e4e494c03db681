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
    """(SSIM's and MS-SSIM's values and gradients, bitwise.)"""
    torch = need("torch")
    from fastssim.integrations import torch_ops
    X, Y, taps = _inputs(torch)
    if level_weights:  # MS-SSIM needs two scales of windows
        X, Y = (torch.nn.functional.interpolate(t[None], scale_factor=2.5)[0] for t in (X, Y))
    args = (1.0, 0.01, 0.03, list(level_weights), "wang", False, 0, 0.0)
    got = []
    for eager in (True, False):
        x, y = X.clone().requires_grad_(), Y.clone().requires_grad_()
        if eager:
            values = torch_ops._Eager.apply(x, y, [taps], *args, True, True)
        else:
            values = torch_ops._op(x, y, [taps], *args, True, True)[0]
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
    for pad, eps in ((0, 0.0), (3, 0.0), (3, 1e-3)):
        torch.library.opcheck(torch_ops._op, (X.clone().requires_grad_(), Y.clone().requires_grad_(), [taps], 1.0,
                                              0.01, 0.03, [], "wang", False, pad, eps, True, True))


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


@pytest.mark.parametrize("pad", [0, 5])
def test_map_operator_eager_path_equals_the_operator_and_passes_opcheck(pad):
    """``fastssim::ssim_map`` (kornia's differentiable map): the eager autograd function and the
    operator give the same map and the same gradients for a weighted sum of it; opcheck passes
    for the map and its vector-Jacobian product."""
    torch = need("torch")
    from fastssim.integrations import torch_ops
    X, Y, taps = _inputs(torch)
    args = (1.0, 0.01, 0.03, 1e-12, pad)
    weight = None
    got = []
    for eager in (True, False):
        x, y = X.clone().requires_grad_(), Y.clone().requires_grad_()
        smap = torch_ops._EagerMap.apply(x, y, [taps], *args) if eager else torch_ops._map_op(x, y, [taps], *args)
        if weight is None:
            weight = torch.linspace(-1.0, 2.0, smap.numel(), dtype=smap.dtype).reshape(smap.shape)
        (smap * weight).sum().backward()
        got.append((smap.detach(), x.grad, y.grad))
    for a, b in zip(*got):
        assert torch.equal(a, b)
    assert got[0][0].shape == (2, X.shape[1] + 2 * pad - 10, X.shape[2] + 2 * pad - 10)
    assert got[0][1].abs().sum() > 0 and got[0][2].abs().sum() > 0
    torch.library.opcheck(torch_ops._map_op, (X.clone().requires_grad_(), Y.clone().requires_grad_(), [taps]) + args)
    torch.library.opcheck(torch_ops._map_vjp_op, (X, Y, [taps]) + args + (weight, True, True))


@pytest.mark.parametrize("spatial", [(41, 37), (13, 15, 17)])
def test_reflection_read_in_place_equals_a_padded_copy(spatial):
    """``pad``: the kernels' in-place reflection (the forward) and the host copy behind the
    gradients equal PyTorch's 'reflect' padding followed by the 'valid' computation: values,
    maps and the gradients for both inputs (through F.pad's own backward)."""
    torch = need("torch")
    from fastssim.integrations import torch_ops
    gen = torch.Generator().manual_seed(3)
    X = torch.rand((2,) + spatial, generator=gen, dtype=torch.float64)
    Y = (X + 0.1 * torch.rand((2,) + spatial, generator=gen, dtype=torch.float64)).clamp(0, 1)
    k, pad = 7, 3
    taps = torch.exp(-0.5 * (torch.arange(k, dtype=torch.float64) - 3) ** 2 / 1.5 ** 2)
    taps = taps / taps.sum()

    def padded(t):
        return torch.nn.functional.pad(t[:, None], [pad, pad] * len(spatial), mode="reflect")[:, 0]

    for fn in (lambda a, b, p: torch_ops.planes(a, b, taps=taps, data_range=1.0, pad=p),
               lambda a, b, p: torch_ops.ssim_map(a, b, taps=taps, data_range=1.0, pad=p)):
        got, ref = [], []
        for out, in_place in ((got, True), (ref, False)):
            x, y = X.clone().requires_grad_(), Y.clone().requires_grad_()
            v = fn(x, y, pad) if in_place else fn(padded(x), padded(y), 0)
            weight = torch.linspace(-1, 2, v.numel(), dtype=v.dtype).reshape(v.shape)
            (v * weight).sum().backward()
            out.extend([v.detach(), x.grad, y.grad])
        for a, b in zip(got, ref):
            assert a.shape == b.shape
            assert torch.allclose(a, b, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="longer than 3"):
        torch_ops.planes(X[:, :3], Y[:, :3], taps=taps, data_range=1.0, pad=3)


def test_padding_and_eps_are_refused_for_ms_ssim():
    """``pad`` and ``eps`` belong to SSIM (the drop-ins' 'same' windows, kornia's eps); MS-SSIM's
    scales take neither, and a call that gives them is refused, not scored without them."""
    torch = need("torch")
    from fastssim.integrations import torch_ops
    X, Y, taps = _inputs(torch)
    for extra in (dict(pad=2), dict(eps=1e-12)):
        with pytest.raises(ValueError, match="pad and eps are for SSIM"):
            torch_ops.planes(X, Y, taps=taps, data_range=1.0, level_weights=[0.5, 0.5], **extra)
    value = torch_ops.planes(X, Y, taps=taps, data_range=1.0, eps=1e-3)
    assert torch.all(value < torch_ops.planes(X, Y, taps=taps, data_range=1.0))  # eps lowers every plane's SSIM


@pytest.mark.parametrize("shape", [(2, 3, 64, 70), (1, 2, 33, 17), (2, 1, 9, 16, 15), (1, 1, 7, 6, 5)])
def test_avg_pool2_is_pytorchs_pooling_in_values_and_gradients(shape):
    """The drop-ins' MS-SSIM halving (`torch_ops.avg_pool2`, fastssim's kernel): PyTorch's
    ``avg_pool2d``/``avg_pool3d`` bitwise in 2-D and within one rounding in 3-D (the eight
    samples added in another order), odd sides' last samples dropped, on a real image's
    values; its gradient is the pooling's, bitwise, and it is differentiable twice."""
    torch = need("torch")
    from fastssim.integrations.torch_ops import avg_pool2
    img = grey().astype(np.float64) / 255.0
    n = int(np.prod(shape))
    base = img.reshape(-1)[:n].reshape(shape)
    pool = torch.nn.functional.avg_pool2d if len(shape) == 4 else torch.nn.functional.avg_pool3d
    for dtype in (torch.float32, torch.float64):
        x = torch.from_numpy(base).to(dtype).requires_grad_()
        got, want = avg_pool2(x), pool(x, 2)
        assert got.shape == want.shape and got.dtype == dtype
        ulp = float(torch.finfo(dtype).eps)
        if len(shape) == 4:
            assert torch.equal(got, want)
        else:
            assert float((got - want).detach().abs().max()) <= ulp and float(got.detach().abs().sum()) > 0
        up = torch.from_numpy(np.linspace(-1.0, 2.0, got.numel()).reshape(got.shape)).to(dtype)
        g_got, = torch.autograd.grad(got, x, up)
        g_want, = torch.autograd.grad(want, x, up)
        assert torch.equal(g_got, g_want)
        # the dropped odd edges get no gradient, the others a quarter (eighth) of theirs
        assert float(g_got.abs().sum()) > 0
    x = torch.from_numpy(base[..., :5, :6]).requires_grad_()
    assert torch.autograd.gradcheck(avg_pool2, (x,)) and torch.autograd.gradgradcheck(avg_pool2, (x,))


def test_avg_pool2_leaves_what_it_does_not_halve_to_pytorch():
    """Integer tensors, sides shorter than 2 and meta tensors go to PyTorch's pooling (its
    result or its own error), so the drop-ins keep PyTorch's behaviour there."""
    torch = need("torch")
    from fastssim.integrations.torch_ops import avg_pool2
    meta = torch.empty(2, 3, 9, 8, device="meta")
    assert avg_pool2(meta).shape == (2, 3, 4, 4) and avg_pool2(meta).device.type == "meta"
    with pytest.raises(RuntimeError):
        avg_pool2(torch.ones(1, 1, 1, 8))  # PyTorch's: the output would be empty
    half = torch.from_numpy(grey()[:8, :10].astype(np.float32)).to(torch.bfloat16)[None, None]
    assert torch.equal(avg_pool2(half), torch.nn.functional.avg_pool2d(half, 2))


@pytest.mark.parametrize("width", [1024, 1030, 9])
def test_reflection_wider_than_the_window_read_in_place(width):
    """A reflection wider than the window's radius (torchmetrics pads by its ``kernel_size``
    whatever the Gaussian's own length): where the row's segment in a task does not hold every
    reflected column (a last column band that starts past the image's last column, width 1024
    with 512-column bands; or a row barely longer than the reflection), the kernel reads those
    samples itself. Values equal PyTorch's 'reflect' padding followed by the 'valid' SSIM, on a
    real photograph's rows, float32 and float64."""
    torch = need("torch")
    from fastssim.integrations import torch_ops
    img = grey().astype(np.float64) / 255.0
    rows = np.concatenate([img[9 * i:9 * i + 9] for i in range(3)], axis=1)[:, :width]  # 9 rows: longer than the reflection
    X = torch.from_numpy(np.stack([rows, rows[::-1]]))
    Y = torch.from_numpy(np.stack([rows[:, ::-1], rows]).copy())
    k, pad = 3, 7
    taps = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    for dtype in (torch.float64, torch.float32):
        x, y = X.to(dtype), Y.to(dtype)
        got = torch_ops.ssim_map(x, y, taps=taps, data_range=1.0, pad=pad)
        ref = torch_ops.ssim_map(*(torch.nn.functional.pad(t[:, None], [pad] * 4, mode="reflect")[:, 0]
                                   for t in (x, y)), taps=taps, data_range=1.0)
        assert got.shape == ref.shape == (2, 9 + 2 * pad - k + 1, width + 2 * pad - k + 1)
        tol = dict(rtol=1e-12, atol=1e-14) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-6)
        assert torch.allclose(got, ref, **tol)
        assert float(got.min()) < 0.9  # the flipped rows differ: not a map of ones
