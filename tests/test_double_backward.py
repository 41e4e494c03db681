"""Gradients of gradients (``create_graph=True``): each drop-in against the original library's
own double backward (Hessian-vector products on crops of a real photograph, both inputs
requiring a gradient), ``gradgradcheck`` on the operators, and the first derivatives of the
differentiable backward against the fused kernels'. Before, the backward scaled a gradient
computed in the forward pass, so the second-order terms were silently missing."""

import numpy as np
import pytest

from images import grey_volume_pair, need, odd_batch

torch = pytest.importorskip("torch", reason="the PyTorch drop-ins need PyTorch")
from fastssim.integrations import torch_ops  # noqa: E402


def _photo(shape, seed=0):
    """(clean, distorted) float64 crops of the drop-in tests' real batch, of ``shape`` (N, C, H, W)."""
    clean, dist = odd_batch()
    n, c, h, w = shape
    x = torch.from_numpy(np.ascontiguousarray(clean[:n, :c, 3:3 + h, 5:5 + w]))
    y = torch.from_numpy(np.ascontiguousarray(dist[:n, :c, 3:3 + h, 5:5 + w]))
    return x, y


def _volume():
    clean, noisy = grey_volume_pair()
    return (torch.from_numpy(np.ascontiguousarray(clean[..., :13, :17, :19])),
            torch.from_numpy(np.ascontiguousarray(noisy[..., :13, :17, :19])))


def _direction(x, y, seed=1):
    gen = torch.Generator().manual_seed(seed)  # drawn in float64 for every dtype: one direction
    return (torch.randn(x.shape, generator=gen, dtype=torch.float64).to(x.dtype),
            torch.randn(y.shape, generator=gen, dtype=torch.float64).to(y.dtype))


def _hvp(loss, x, y):
    """(the loss, its gradients, the Hessian times a fixed random direction) for both inputs."""
    x, y = x.clone().requires_grad_(), y.clone().requires_grad_()
    value = loss(x, y)
    gx, gy = torch.autograd.grad(value, (x, y), create_graph=True)
    vx, vy = _direction(x, y)
    hx, hy = torch.autograd.grad((gx * vx).sum() + (gy * vy).sum(), (x, y))
    return value.detach(), (gx.detach(), gy.detach()), (hx, hy)


def _numeric_hvp(loss, x, y, h=1e-5):
    """The same product by central differences of the gradients along the direction."""
    vx, vy = _direction(x, y)

    def grads(a, b):
        a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
        return torch.autograd.grad(loss(a, b), (a, b))

    plus, minus = grads(x + h * vx, y + h * vy), grads(x - h * vx, y - h * vy)
    return tuple((p - m) / (2 * h) for p, m in zip(plus, minus))


def _cases():
    """(name, fastssim's call, the original's call, inputs), each a scalar loss."""
    cases = []

    def add(name, ours, theirs, inputs):
        cases.append(pytest.param(ours, theirs, inputs, id=name))

    photo, odd_ms = (lambda: _photo((2, 3, 29, 31))), (lambda: _photo((1, 2, 49, 51)))
    add("pytorch_msssim-ssim", lambda m: lambda a, b: m.ssim(a, b, data_range=1.0, win_size=7), "pytorch_msssim",
        photo)
    add("pytorch_msssim-ms_ssim-odd", lambda m: lambda a, b: m.ms_ssim(a, b, data_range=1.0, win_size=3),
        "pytorch_msssim", odd_ms)
    add("kornia-ssim-map", lambda m: lambda a, b: m.metrics.ssim(a, b, 5).mean(), "kornia", photo)
    add("kornia-ssim_loss", lambda m: lambda a, b: m.losses.ssim_loss(a, b, 5), "kornia", photo)
    add("kornia-ssim3d_loss", lambda m: lambda a, b: m.losses.ssim3d_loss(a, b, 5), "kornia", _volume)
    add("torchmetrics-ssim", lambda m: lambda a, b: m.structural_similarity_index_measure(a, b, data_range=1.0),
        "torchmetrics", photo)
    add("torchmetrics-ms_ssim-odd", lambda m: lambda a, b: m.multiscale_structural_similarity_index_measure(
        a, b, data_range=1.0, sigma=0.4, kernel_size=3), "torchmetrics", odd_ms)  # 3 Gaussian taps
    add("monai-SSIMLoss-anisotropic", lambda m: _monai(m, lambda a, b: m.SSIMLoss(
        spatial_dims=2, data_range=1.0, kernel_sigma=(1.0, 2.0), win_size=5)(a, b)), "monai", photo)
    add("monai-SSIMLoss-3d", lambda m: _monai(m, lambda a, b: m.SSIMLoss(spatial_dims=3, data_range=1.0,
                                                                         win_size=5)(a, b)), "monai", _volume)
    return cases


def _monai(module, loss):
    """MONAI's own loss run in float64 (it computes in float32: `test_compat_monai`'s oracle)."""
    if module.__name__.startswith("fastssim"):
        return loss
    from test_compat_monai import monai_in_float64

    def in_float64(a, b):
        with monai_in_float64():
            return loss(a, b)
    return in_float64


def _original(name):
    if name == "pytorch_msssim":
        return need("pytorch_msssim")
    if name == "kornia":
        need("kornia")
        import kornia

        return kornia
    if name == "torchmetrics":
        need("torchmetrics")
        import torchmetrics.functional.image as tf

        return tf
    need("monai")
    import monai.losses as ml

    return ml


def _ours(name):
    import importlib

    return importlib.import_module(f"fastssim.compat.{name}")


@pytest.mark.parametrize("call,library,inputs", _cases())
def test_hessian_vector_products_equal_the_originals(call, library, inputs):
    x, y = inputs()
    original = call(_original(library))
    want = _hvp(original, x, y)
    got = _hvp(call(_ours(library)), x, y)
    numeric = _numeric_hvp(original, x, y)
    rel = 1e-10 if got[0].dtype == torch.float64 else 1e-7  # MONAI's values are float32
    assert float(got[0]) == pytest.approx(float(want[0]), rel=rel, abs=1e-12)

    def close(a, b, tol):
        scale = float(b.abs().max())
        return scale > 0 and float((a - b).abs().max()) <= tol * scale

    assert all(close(g, w, 1e-8) for g, w in zip(got[1], want[1]))
    assert all(close(g, n, 1e-5) for g, n in zip(got[2], numeric))  # central differences: O(h^2)
    # torchmetrics' own second derivative with respect to the target is not its gradient's
    # derivative (SSIM: 0.95 off on a scale of 2.5, MS-SSIM: 19% off, where ours and the
    # differences agree to 1e-6): there the differences are the oracle, and only the preds'
    # product is compared with torchmetrics'
    checked = [0] if library == "torchmetrics" else [0, 1]
    assert all(close(got[2][i], want[2][i], 1e-8) for i in checked)


@pytest.mark.parametrize("call,library,inputs", _cases()[:3])
def test_float32_second_derivatives_follow_float64(call, library, inputs):
    """The differentiable backward works in the tensors' work dtype, as the kernels do."""
    x, y = inputs()
    fn = call(_ours(library))
    h64 = _hvp(fn, x, y)[2]
    h32 = _hvp(fn, x.float(), y.float())[2]
    for a, b in zip(h32, h64):
        assert a.dtype == torch.float32
        assert float((a.double() - b).abs().max()) <= 2e-3 * float(b.abs().max())


def test_a_gradient_built_for_differentiation_equals_the_kernels():
    """With create_graph=True the gradient comes from PyTorch operations; its values are the fused
    kernels' (SSIM, its contrast-structure term, MS-SSIM in both halvings, padded, with eps,
    anisotropic windows, the map, 2-D and 3-D)."""
    x, y = _photo((2, 2, 37, 41))
    taps = torch.tensor([0.1, 0.2, 0.4, 0.2, 0.1], dtype=torch.float64)
    tall = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    calls = [
        lambda a, b: torch_ops.planes(a, b, taps=taps, data_range=1.0),
        lambda a, b: torch_ops.planes(a, b, taps=taps, data_range=1.0, cs_only=True),
        lambda a, b: torch_ops.planes(a, b, taps=taps, data_range=1.0, pad=2, eps=1e-3),
        lambda a, b: torch_ops.planes(a, b, taps=[tall, taps], data_range=1.0),
        lambda a, b: torch_ops.planes(a, b, taps=taps, data_range=1.0, level_weights=[0.2, 0.3, 0.5]),
        lambda a, b: torch_ops.planes(a, b, taps=taps, data_range=1.0, level_weights=[0.2, 0.3, 0.5],
                                      convention="pytorch_msssim"),
        lambda a, b: torch_ops.ssim_map(a, b, taps=taps, data_range=1.0, pad=2, eps=1e-3).square().mean((1, 2)),
    ]
    planes_x, planes_y = x.reshape(4, 37, 41), y.reshape(4, 37, 41)
    vx, vy = _volume()
    volume = (vx.reshape(1, 13, 17, 19), vy.reshape(1, 13, 17, 19))
    for i, call in enumerate(calls + [calls[0], calls[4]]):
        a, b = (planes_x, planes_y) if i < len(calls) else volume
        if i == len(calls) + 1:
            a, b = (torch.nn.functional.interpolate(t[None], scale_factor=2.0)[0] for t in volume)  # 26x34x38
        a, b = a.clone().requires_grad_(), b.clone().requires_grad_()
        weights = torch.linspace(0.5, 1.5, a.shape[0], dtype=torch.float64)
        built = torch.autograd.grad((call(a, b) * weights).sum(), (a, b), create_graph=True)
        plain = torch.autograd.grad((call(a, b) * weights).sum(), (a, b))
        assert all(g.requires_grad for g in built)
        for g, h in zip(built, plain):
            assert float((g.detach() - h).abs().max()) <= 1e-12 * float(h.abs().max())


def test_autocast_does_not_lower_the_differentiable_gradient():
    """A gradient penalty computed inside ``torch.autocast`` (CPU bfloat16): the recomputation in
    the backward stays in float32, as the kernels do (its convolutions autocast to bfloat16 moved
    the gradient by 13%)."""
    import fastssim.torch as ft

    x, y = (t.float() for t in _photo((2, 3, 40, 40)))

    def grad(autocast, create_graph):
        yy = y.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            (g,) = torch.autograd.grad(ft.ssim(x, yy, data_range=1.0), yy, create_graph=create_graph)
        return g

    plain = grad(False, False)
    for autocast in (False, True):
        g = grad(autocast, True)
        assert g.dtype == torch.float32 and g.requires_grad
        assert float((g.detach() - plain).abs().max()) <= 1e-4 * float(plain.abs().max())


@pytest.mark.parametrize("which", ["ssim", "ms_ssim", "map", "autograd.SSIMFunction"])
def test_gradgradcheck(which):
    from torch.autograd import gradgradcheck

    import fastssim.torch as ft
    from fastssim.integrations.torch import SSIMFunction

    x, y = _photo((1, 1, 13, 14)) if which != "ms_ssim" else _photo((1, 1, 15, 17))
    x, y = x.requires_grad_(), y.requires_grad_()
    taps = torch.tensor([0.25, 0.5, 0.25], dtype=torch.float64)
    fn = {"ssim": lambda a, b: ft.ssim(a, b, data_range=1.0, win_size=5),
          "ms_ssim": lambda a, b: ft.ms_ssim(a, b, data_range=1.0, win_size=3, weights=(0.3, 0.3, 0.4)),
          "map": lambda a, b: torch_ops.ssim_map(a[0], b[0], taps=taps, data_range=1.0, pad=1),
          "autograd.SSIMFunction": lambda a, b: SSIMFunction.apply(a, b, dict(
              spatial_ndim=2, channel_axis=0, data_range=1.0, win_size=5, sigma=1.5, gaussian=True, K1=0.01,
              K2=0.03))}[which]
    assert gradgradcheck(fn, (x, y))


def test_ssimfunction_with_other_options_refuses_a_second_derivative():
    """`fastssim.autograd.SSIMFunction` takes any batch function and options; where its
    differentiable form is not known it says so, rather than leave the second-order terms out."""
    from fastssim.integrations.torch import SSIMFunction

    x, y = _photo((1, 1, 20, 20))
    x = x.requires_grad_()
    v = SSIMFunction.apply(x, y, dict(spatial_ndim=2, channel_axis=0, data_range=1.0, win_size=7,
                                      sample_covariance=True))
    (g,) = torch.autograd.grad(v.sum(), x)  # once: fine
    assert g.shape == x.shape
    v = SSIMFunction.apply(x, y, dict(spatial_ndim=2, channel_axis=0, data_range=1.0, win_size=7,
                                      sample_covariance=True))
    with pytest.raises(RuntimeError, match="not differentiable for these options.*create_graph=True"):
        torch.autograd.grad(v.sum(), x, create_graph=True)


def test_ms_ssim_second_derivatives_are_never_nan_where_terms_are_clamped():
    """Anticorrelated images (noise and its negative: a photograph's flat windows keep the terms
    positive): every scale's contrast-structure term is negative and counts as 0 (relu), so
    MS-SSIM is 0; its first and second derivatives are 0, not NaN (0 ** weight)."""
    import fastssim.torch as ft

    x = torch.rand((1, 1, 40, 44), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    y = (1 - x).requires_grad_()
    v = ft.ms_ssim(x, y, data_range=1.0, win_size=3, weights=(0.3, 0.3, 0.4))
    (g,) = torch.autograd.grad(v, y, create_graph=True)
    (h,) = torch.autograd.grad((g * _direction(g, g)[0]).sum() + g.square().sum(), y, allow_unused=True)
    assert float(v.detach()) == 0.0 and torch.isfinite(g).all() and float(g.detach().abs().max()) == 0.0
    assert h is None or (torch.isfinite(h).all() and float(h.abs().max()) == 0.0)
