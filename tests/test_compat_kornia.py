"""``fastssim.compat.kornia`` against the installed kornia over its parameters, on real images:
the maps (2-D and 3-D, both paddings, window sizes, eps, data ranges), gradients for both
inputs, dtypes, the modules and losses with every reduction, errors, autocast and
torch.compile. kornia's sdist ships no tests, so kornia itself is the oracle, run in float64."""

import numpy as np
import pytest

from images import colour, grey, jpeg, need, noise, odd_batch

torch = pytest.importorskip("torch", reason="the kornia drop-in needs PyTorch")
fk = pytest.importorskip("fastssim.compat.kornia")

#: the map, per pixel, from kornia's float64 map. float64: both compute the same definition in
#: double (kornia's raw moments cancel in the black regions of the photograph, to ~3e-13).
#: float32: fastssim's float32 map is within 1.5e-4 of it on these images (99% of pixels within
#: 2e-5); kornia's own float32 map is up to 4.8e-4 away (`test_float32_map_is_closer_than_kornias_own`).
MAP_TOL = {torch.float64: 1e-11, torch.float32: 2e-4}
#: the mean of the map (the loss): float32 rounding averages out
MEAN_TOL = {torch.float64: 1e-13, torch.float32: 1e-6}
#: gradients, relative to their largest magnitude, from kornia's float64 autograd
GRAD_TOL = {torch.float64: 1e-10, torch.float32: 2e-5}


def _batch(dtype=torch.float64):
    """(clean, distorted): `images.odd_batch`, (6, 3, 181, 203) in [0, 1]."""
    return tuple(torch.from_numpy(a).to(dtype) for a in odd_batch())


def _volume(dtype=torch.float64, depth=17):
    """A volume of shifted crops of the grey photograph and its noisy copy, in [0, 1]:
    (1, 1, D, 61, 70)."""
    g = grey()
    vol = np.stack([g[100 + 3 * i:161 + 3 * i, 150 + 2 * i:220 + 2 * i] for i in range(depth)])
    t = (torch.from_numpy(vol)[None, None].double() / 255, torch.from_numpy(noise(vol, 15.0))[None, None] / 255)
    return tuple(a.to(dtype) for a in t)


def _with_grads(fn, x, y, dtype, weight, **kw):
    """fn's output in ``dtype`` and the gradients of ``sum(output * weight)`` for both inputs."""
    a, b = x.clone().to(dtype).requires_grad_(), y.clone().to(dtype).requires_grad_()
    out = fn(a, b, **kw)
    (out * weight.to(out.dtype)).sum().backward()
    return out.detach(), a.grad, b.grad


def _check_against_kornia(ref_fn, our_fn, x, y, dtype, **kw):
    """The drop-in's map and gradients in ``dtype`` against kornia's in float64."""
    probe = ref_fn(x.double(), y.double(), **kw)
    weight = torch.linspace(-1.0, 1.5, probe.numel(), dtype=torch.float64).reshape(probe.shape)
    ref, rgx, rgy = _with_grads(ref_fn, x, y, torch.float64, weight, **kw)
    got, gx, gy = _with_grads(our_fn, x, y, dtype, weight, **kw)
    assert got.dtype == dtype and got.shape == ref.shape
    assert (got.double() - ref).abs().max().item() <= MAP_TOL[dtype]
    assert abs(got.double().mean().item() - ref.mean().item()) <= MEAN_TOL[dtype]
    for g, r in ((gx, rgx), (gy, rgy)):
        assert g.dtype == dtype and g.shape == r.shape
        assert (g.double() - r).abs().max().item() <= GRAD_TOL[dtype] * r.abs().max().item()
    return got


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_ssim_map_and_gradients(dtype, padding):
    kornia = need("kornia")
    x, y = _batch()
    _check_against_kornia(kornia.metrics.ssim, fk.metrics.ssim, x, y, dtype, window_size=11, padding=padding)


@pytest.mark.parametrize("window_size", [3, 5, 7, 15])
@pytest.mark.parametrize("eps", [0.0, 1e-12, 1e-3])
def test_window_sizes_and_eps(window_size, eps):
    kornia = need("kornia")
    x, y = _batch()
    _check_against_kornia(kornia.metrics.ssim, fk.metrics.ssim, x[:2], y[:2], torch.float64,
                          window_size=window_size, eps=eps)


def test_eps_moves_dark_flat_windows_as_kornia():
    """kornia's eps: two black images score ``C1 C2 / (C1 C2 + eps)`` (0.99998889 at L = 1),
    not 1; with ``eps=0`` exactly 1."""
    kornia = need("kornia")
    black = torch.zeros(1, 1, 32, 32, dtype=torch.float64)
    got = fk.metrics.ssim(black, black, 7)
    c1c2 = (0.01 ** 2) * (0.03 ** 2)
    assert torch.allclose(got, torch.full_like(got, c1c2 / (c1c2 + 1e-12)), rtol=0, atol=1e-15)
    assert torch.allclose(got, kornia.metrics.ssim(black, black, 7), rtol=0, atol=1e-15)
    assert (fk.metrics.ssim(black, black, 7, eps=0.0) == 1).all()


def test_uint8_images_with_max_val_255():
    """Integer images are computed in float32 and the map is float32, as kornia's."""
    kornia = need("kornia")
    a = colour()[40:140, 60:171]
    b = jpeg(a, quality=15)
    x, y = (torch.from_numpy(np.ascontiguousarray(i.transpose(2, 0, 1)))[None] for i in (a, b))
    got = fk.metrics.ssim(x, y, 11, max_val=255.0)
    ref = kornia.metrics.ssim(x.double(), y.double(), 11, max_val=255.0)
    assert got.dtype == kornia.metrics.ssim(x, y, 11, max_val=255.0).dtype == torch.float32
    assert (got.double() - ref).abs().max().item() <= MAP_TOL[torch.float32]


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_ssim3d_map_and_gradients(padding):
    kornia = need("kornia")
    x, y = _volume()
    for dtype in (torch.float64, torch.float32):
        _check_against_kornia(kornia.metrics.ssim3d, fk.metrics.ssim3d, x, y, dtype, window_size=7,
                              padding=padding)


def test_float32_map_is_closer_than_kornias_own():
    kornia = need("kornia")
    x, y = _batch()
    ref = kornia.metrics.ssim(x, y, 11)
    theirs = (kornia.metrics.ssim(x.float(), y.float(), 11).double() - ref).abs().max().item()
    ours = (fk.metrics.ssim(x.float(), y.float(), 11).double() - ref).abs().max().item()
    assert ours < theirs


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_losses_and_modules(reduction):
    kornia = need("kornia")
    x, y = _batch()
    v, w = _volume()
    cases = [(kornia.losses.ssim_loss, fk.losses.ssim_loss, kornia.losses.SSIMLoss, fk.losses.SSIMLoss, x, y, 11),
             (kornia.losses.ssim3d_loss, fk.losses.ssim3d_loss, kornia.losses.SSIM3DLoss, fk.losses.SSIM3DLoss,
              v, w, 5)]
    for ref_fn, our_fn, RefModule, OurModule, a, b, k in cases:
        kw = dict(window_size=k, max_val=1.0, eps=1e-12, reduction=reduction, padding="valid")
        ref = ref_fn(a, b, **kw)
        got = our_fn(a, b, **kw)
        assert got.shape == ref.shape and got.dtype == ref.dtype
        assert torch.allclose(got, ref, rtol=1e-12, atol=1e-12)
        ours, theirs = OurModule(**kw), RefModule(**kw)
        assert {n: getattr(ours, n) for n in kw} == {n: getattr(theirs, n) for n in kw}
        assert torch.equal(ours(a, b), got)
        assert isinstance(ours, torch.nn.Module)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("padding", ["same", "valid"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_reduced_losses_and_their_gradients(dtype, padding, reduction):
    """'mean' and 'sum' take each plane's mean SSIM from the planes operator, with no map: kornia's
    loss and its gradients for both inputs, 2-D and 3-D, and for anticorrelated images, whose
    windows' SSIM is negative (kornia's clamp binds for no window, either way)."""
    kornia = need("kornia")
    x, y = _batch()
    v, w = _volume()
    anti = x[:2], 1.0 - x[:2]
    cases = [(kornia.losses.ssim_loss, fk.losses.ssim_loss, x, y, 11),
             (kornia.losses.ssim_loss, fk.losses.ssim_loss, *anti, 7),
             (kornia.losses.ssim3d_loss, fk.losses.ssim3d_loss, v, w, 5)]
    one = torch.ones((), dtype=torch.float64)
    for ref_fn, our_fn, a, b, k in cases:
        kw = dict(window_size=k, max_val=1.0, eps=1e-12, reduction=reduction, padding=padding)
        smap = kornia.metrics.ssim(a, b, k, padding=padding) if a.dim() == 4 else None
        if smap is not None and a is anti[0]:
            assert smap.min().item() < -0.5  # the case it is there for
        ref, rgx, rgy = _with_grads(ref_fn, a, b, torch.float64, one, **kw)
        got, gx, gy = _with_grads(our_fn, a, b, dtype, one, **kw)
        assert got.dtype == dtype and got.shape == ref.shape == ()
        n = 1 if reduction == "mean" else ref_fn(a, b, **dict(kw, reduction="none")).numel()
        assert abs(got.item() - ref.item()) <= MEAN_TOL[dtype] / 2 * n
        for g, r in ((gx, rgx), (gy, rgy)):
            assert g.dtype == dtype and g.shape == r.shape
            assert (g.double() - r).abs().max().item() <= GRAD_TOL[dtype] * r.abs().max().item()


def test_metric_modules():
    kornia = need("kornia")
    x, y = _batch()
    v, w = _volume()
    for Ref, Ours, a, b in ((kornia.metrics.SSIM, fk.metrics.SSIM, x, y), (kornia.metrics.SSIM3D, fk.metrics.SSIM3D,
                                                                          v, w)):
        ours = Ours(5, max_val=1.0, eps=0.0, padding="same")
        assert (ours.window_size, ours.max_val, ours.eps, ours.padding) == (5, 1.0, 0.0, "same")
        assert torch.allclose(ours(a, b), Ref(5, 1.0, 0.0, "same")(a, b), rtol=0, atol=MAP_TOL[torch.float64])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_input(dtype):
    """Computed in float32 (as kornia does), returned in the input's dtype."""
    kornia = need("kornia")
    x, y = (t.to(dtype) for t in _batch())
    got = fk.metrics.ssim(x, y, 11)
    ref = kornia.metrics.ssim(x.double(), y.double(), 11)
    assert got.dtype == kornia.metrics.ssim(x, y, 11).dtype == dtype
    assert (got.double() - ref).abs().max().item() <= 2 * torch.finfo(dtype).eps


def test_mixed_dtypes_are_promoted():
    x, y = _batch()
    got = fk.metrics.ssim(x.float(), y, 7)
    assert got.dtype == torch.float64
    assert torch.equal(got, fk.metrics.ssim(x.float().double(), y, 7))


def test_gradcheck_both_inputs():
    x, y = (t[:1, :2, :17, :19].clone().requires_grad_() for t in _batch())
    for fn in (lambda a, b: fk.metrics.ssim(a, b, 5, eps=1e-4), lambda a, b: fk.losses.ssim_loss(a, b, 7)):
        assert torch.autograd.gradcheck(fn, (x, y))
    v, w = (t[..., :9, :10, :11].clone().requires_grad_() for t in _volume())
    assert torch.autograd.gradcheck(lambda a, b: fk.metrics.ssim3d(a, b, 3, padding="valid"), (v, w))


def test_errors_name_the_problem():
    x = torch.rand(1, 1, 16, 16)
    with pytest.raises(TypeError, match="not a torch.Tensor"):
        fk.metrics.ssim(x.numpy(), x, 5)
    with pytest.raises(TypeError, match="max_val type is not a float.*max_val=1.0"):
        fk.metrics.ssim(x, x, 5, max_val=1)
    with pytest.raises(ValueError, match="expects BxCxHxW"):
        fk.metrics.ssim(x[0], x[0], 5)
    with pytest.raises(ValueError, match="expects BxCxDxHxW"):
        fk.metrics.ssim3d(x, x, 5)
    with pytest.raises(ValueError, match="shapes must be the same"):
        fk.metrics.ssim(x, x[..., :15], 5)
    with pytest.raises(ValueError, match="odd integer"):
        fk.metrics.ssim(x, x, 4)
    with pytest.raises(ValueError, match="Invalid padding mode"):
        fk.metrics.ssim(x, x, 5, padding="full")
    with pytest.raises(ValueError, match="longer than 5.*smaller window_size"):
        fk.metrics.ssim(x[..., :5], x[..., :5], 11)
    with pytest.raises(ValueError, match="at least window_size=11.*padding='same'"):
        fk.metrics.ssim(x[..., :10], x[..., :10], 11, padding="valid")
    with pytest.raises(NotImplementedError, match="Invalid reduction option"):
        fk.losses.ssim_loss(x, x, 5, reduction="max")
    bad = x.clone()
    bad[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fk.metrics.ssim(bad, x, 5)
    assert fk.metrics.ssim(x, x, 5, padding="SAME").shape == x.shape  # case-insensitive, as kornia


def test_torch_compile_fullgraph_matches_eager():
    """A model trained with the drop-in's SSIMLoss traces without graph breaks (its mean is the
    ``fastssim::planes`` operator; the map, with ``reduction='none'``, ``fastssim::ssim_map``) and
    gives the eager value and gradients."""
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 3, 3, padding=1, dtype=torch.float64)
    x, y = (t[:2] for t in _batch())
    for criterion in (fk.losses.SSIMLoss(7), lambda a, b: fk.losses.ssim_loss(a, b, 7, reduction="none").mean()):
        def loss(m):
            return criterion(m(x), y)

        model.zero_grad()
        eager = loss(model)
        eager.backward()
        grads = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        value = torch.compile(loss, fullgraph=True, backend="aot_eager")(model)
        value.backward()
        assert value.item() == eager.item()
        for g, p in zip(grads, model.parameters()):
            assert torch.equal(p.grad, g)


def test_autocast_bfloat16():
    """Under CPU autocast a model's output is bfloat16: the map of identical images is exactly 1
    with ``eps=0`` (below 1 by kornia's eps otherwise), no value is above 1, and the map equals the
    float32 one to bfloat16's rounding."""
    x, y = _batch(torch.float32)
    model = torch.nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3)[:, :, None, None])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(y)
        assert out.dtype == torch.bfloat16
        same = fk.metrics.ssim(out, out, 11, eps=0.0)
        values = fk.metrics.ssim(x, out, 11)
    assert (same == 1).all()
    assert (values <= 1).all()
    ref = fk.metrics.ssim(x, out.float(), 11)
    assert torch.allclose(values.float(), ref, rtol=0, atol=torch.finfo(torch.bfloat16).eps)
