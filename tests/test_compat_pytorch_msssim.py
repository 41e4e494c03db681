"""``fastssim.compat.pytorch_msssim`` against the installed pytorch_msssim over its parameters, on
real images: values, gradients for both inputs, dtypes, shapes, the modules, errors, autocast
and torch.compile. (pytorch_msssim's own test scripts: ``test_pytorch_msssim_suite.py``.)"""

import numpy as np
import pytest

from images import colour, grey, jpeg, need, noise, odd_batch

torch = pytest.importorskip("torch", reason="the pytorch_msssim drop-in needs PyTorch")
fm = pytest.importorskip("fastssim.compat.pytorch_msssim")

#: float64: both compute its definition in double (its float32 taps, which sum to 1 only within
#: float32 rounding, taken as they are). float32: pytorch_msssim's float32 convolutions are about
#: 1e-6 from its float64 result on these images, fastssim's less.
TOL = {torch.float64: 1e-12, torch.float32: 2e-6}


def _pair(crop=(slice(37, 218), slice(101, 304)), dtype=torch.float32, scale=1.0):
    """A JPEG-distorted crop of the colour photograph (odd sides), (1, 3, H, W)."""
    a = colour()[crop]
    b = jpeg(a, quality=15)

    def t(img):
        return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))[None]).to(dtype) * scale
    return t(a), t(b)


def _batch(dtype=torch.float32):
    """(clean, distorted): `images.odd_batch`, (6, 3, 181, 203) in [0, 1]."""
    return tuple(torch.from_numpy(a).to(dtype) for a in odd_batch())


def _volume(dtype=torch.float64, depth=24):
    """A volume of shifted crops of the grey photograph and its noisy copy: (1, 1, D, 96, 101)."""
    g = grey()
    vol = np.stack([g[100 + 3 * i:196 + 3 * i, 150 + 2 * i:251 + 2 * i] for i in range(depth)])
    return (torch.from_numpy(vol)[None, None].to(dtype), torch.from_numpy(noise(vol, 15.0))[None, None].to(dtype))


def _both(fn_ref, fn_ours, x, y, **kw):
    """Values and the gradients for both inputs: pytorch_msssim's in the inputs' dtype and in
    float64 (the oracle for the gradients: its float32 autograd is 1e-4 from its own float64
    gradient), and the drop-in's."""
    out = []
    for fn, dtype in ((fn_ref, x.dtype), (fn_ours, x.dtype), (fn_ref, torch.float64)):
        a, b = x.clone().to(dtype).requires_grad_(), y.clone().to(dtype).requires_grad_()
        v = fn(a, b, **kw)
        v.sum().backward()
        out.append((v.detach(), a.grad, b.grad, v))
    return out


#: gradients, relative to their largest magnitude, from pytorch_msssim's float64 gradient
GRAD_TOL = {torch.float64: 1e-10, torch.float32: 3e-5}


def _close(ref, ours, oracle, dtype):
    (rv, rgx, rgy, r), (ov, ogx, ogy, o) = ref, ours
    assert o.dtype == r.dtype and o.shape == r.shape and o.device == r.device
    assert torch.allclose(ov.double(), rv.double(), rtol=0, atol=TOL[dtype])
    for rg, og, tg in ((rgx, ogx, oracle[1]), (rgy, ogy, oracle[2])):
        assert og.dtype == rg.dtype and og.shape == rg.shape
        assert (og.double() - tg).abs().max().item() <= GRAD_TOL[dtype] * tg.abs().max().item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("size_average", [True, False])
def test_ssim_values_and_gradients(dtype, size_average):
    pm = need("pytorch_msssim")
    x, y = _batch(dtype)
    ref, ours, oracle = _both(pm.ssim, fm.ssim, x, y, data_range=1.0, size_average=size_average)
    _close(ref, ours, oracle, dtype)


@pytest.mark.parametrize("options", [dict(win_size=7, win_sigma=1.0), dict(K=(0.02, 0.05)),
                                     dict(win_size=15, win_sigma=2.5, data_range=255)])
def test_ssim_options(options):
    pm = need("pytorch_msssim")
    x, y = _pair(dtype=torch.float64, scale=1.0 if options.get("data_range") == 255 else 1 / 255)
    options = dict(dict(data_range=1.0), **options)
    _close(*_both(pm.ssim, fm.ssim, x, y, **options), torch.float64)


def test_nonnegative_ssim_and_anticorrelated_images():
    """An image against its negative: SSIM < 0 in every channel; nonnegative_ssim gives 0
    and no gradient, as the original."""
    pm = need("pytorch_msssim")
    x, _ = _pair(dtype=torch.float64, scale=1 / 255)
    y = 1 - x
    for nonneg in (False, True):
        ref, ours, oracle = _both(pm.ssim, fm.ssim, x, y, data_range=1.0, nonnegative_ssim=nonneg)
        _close(ref, ours, oracle, torch.float64)
        assert (ours[0] == 0).all() if nonneg else (ours[0] < 0).all()


def test_modules_and_their_window():
    pm = need("pytorch_msssim")
    x, y = _batch(torch.float64)
    for ref_mod, our_mod in [(pm.SSIM(data_range=1.0, channel=3), fm.SSIM(data_range=1.0, channel=3)),
                             (pm.SSIM(data_range=1.0, channel=3, win_size=9, win_sigma=2.0, size_average=False),
                              fm.SSIM(data_range=1.0, channel=3, win_size=9, win_sigma=2.0, size_average=False)),
                             (pm.MS_SSIM(data_range=1.0, channel=3, weights=[0.3, 0.3, 0.4]),
                              fm.MS_SSIM(data_range=1.0, channel=3, weights=[0.3, 0.3, 0.4]))]:
        assert torch.equal(ref_mod.win, our_mod.win)  # the same float32 taps
        _close(*_both(lambda a, b, m=ref_mod: m(a, b), lambda a, b, m=our_mod: m(a, b), x, y), torch.float64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_ms_ssim_odd_sizes_values_and_gradients(dtype):
    """Odd sides at every scale (181 x 203 -> 91 x 102 -> 46 x 51 ...): pytorch_msssim's zero
    padding of the average pooling, in the values and through the gradient."""
    pm = need("pytorch_msssim")
    x, y = _batch(dtype)
    ref, ours, oracle = _both(pm.ms_ssim, fm.ms_ssim, x, y, data_range=1.0, size_average=False)
    _close(ref, ours, oracle, dtype)


def test_ms_ssim_weights_and_window():
    pm = need("pytorch_msssim")
    x, y = _batch(torch.float64)
    for options in (dict(weights=[0.5, 0.5]), dict(win_size=7, win_sigma=1.2), dict(K=(0.03, 0.06))):
        _close(*_both(pm.ms_ssim, fm.ms_ssim, x, y, data_range=1.0, **options), torch.float64)


def test_ms_ssim_anticorrelated_is_zero_and_gradient_finite():
    """Negative contrast-structure terms are clamped (pytorch_msssim's ReLU): the value is 0
    and the gradient finite (zero), never NaN."""
    pm = need("pytorch_msssim")
    x, _ = _pair(dtype=torch.float64, scale=1 / 255)
    ref, ours, oracle = _both(pm.ms_ssim, fm.ms_ssim, x, 1 - x, data_range=1.0)
    assert ours[0].item() == ref[0].item() == 0.0
    assert torch.isfinite(ours[1]).all() and torch.isfinite(ours[2]).all()
    assert torch.equal(ours[2], torch.nan_to_num(ref[2]))


def test_volumes():
    pm = need("pytorch_msssim")
    x, y = _volume()
    _close(*_both(pm.ssim, fm.ssim, x, y, data_range=255), torch.float64)
    _close(*_both(pm.ms_ssim, fm.ms_ssim, x, y, data_range=255, weights=[0.6, 0.4], win_size=5), torch.float64)


def test_unit_axes_are_squeezed():
    """(N, C, 1, H, W) is a 2-D batch to pytorch_msssim, and so to the drop-in."""
    pm = need("pytorch_msssim")
    x, y = _pair(dtype=torch.float64)
    ref = pm.ssim(x[:, :, None], y[:, :, None], size_average=False)
    assert torch.allclose(fm.ssim(x[:, :, None], y[:, :, None], size_average=False), ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_input(dtype):
    """float16 and bfloat16 tensors are computed in float32 and returned in their dtype: equal
    to pytorch_msssim on the same values in float32, to the output dtype's rounding."""
    pm = need("pytorch_msssim")
    x, y = _batch(torch.float32)
    x, y = x.to(dtype), y.to(dtype)
    ours = fm.ssim(x, y, data_range=1.0, size_average=False)
    ref = pm.ssim(x.float(), y.float(), data_range=1.0, size_average=False)
    assert ours.dtype == dtype
    assert torch.allclose(ours.float(), ref.to(dtype).float(), rtol=0, atol=torch.finfo(dtype).eps)
    assert fm.ssim(x, x, data_range=1.0).item() == 1.0


def test_gradcheck_both_inputs():
    x, y = _pair(crop=(slice(200, 223), slice(200, 225)), dtype=torch.float64, scale=1 / 255)
    x, y = x.requires_grad_(), y.requires_grad_()
    assert torch.autograd.gradcheck(lambda a, b: fm.ssim(a, b, data_range=1.0, win_size=7), (x, y), eps=1e-6,
                                    atol=1e-7)
    # 41 x 37: odd sides at every scale (21 x 19, 11 x 10), which pytorch_msssim's pooling pads; the
    # smallest its check allows for win_size 3 (sides above 32), so that gradcheck's two
    # evaluations per sample stay few (99 x 97 took 100 s in CI)
    big = _pair(crop=(slice(100, 141), slice(50, 87)), dtype=torch.float64, scale=1 / 255)
    a, b = (t[:, :1].clone().requires_grad_() for t in big)
    assert torch.autograd.gradcheck(
        lambda p, q: fm.ms_ssim(p, q, data_range=1.0, win_size=3, weights=[0.2, 0.3, 0.5]), (a, b), eps=1e-6,
        atol=1e-7)


def test_no_gradient_work_without_grad():
    """Inputs that need no gradient are scored by the forward kernels alone: the same values."""
    x, y = _batch(torch.float64)
    plain = fm.ssim(x, y, data_range=1.0, size_average=False)
    with_grad = fm.ssim(x, y.clone().requires_grad_(), data_range=1.0, size_average=False)
    assert plain.grad_fn is None and with_grad.grad_fn is not None
    assert torch.allclose(plain, with_grad.detach(), rtol=0, atol=1e-14)


def test_errors_name_the_problem():
    x, y = _pair()
    with pytest.raises(ValueError, match="same dimensions"):
        fm.ssim(x, y[:, :, 1:])
    with pytest.raises(ValueError, match="odd"):
        fm.ssim(x, y, win_size=10)
    with pytest.raises(ValueError, match="at least win_size=11"):
        fm.ssim(x[..., :8], y[..., :8])
    with pytest.raises(ValueError, match="same for every channel"):
        fm.ssim(x, y, win=torch.rand(3, 1, 1, 11))
    with pytest.raises(ValueError, match="4-d or 5-d"):
        fm.ssim(x[0], y[0])
    with pytest.raises(AssertionError, match="larger than 160"):  # pytorch_msssim's assert, also a ValueError
        fm.ms_ssim(x[..., :150, :], y[..., :150, :])
    with pytest.raises(ValueError, match="larger than 160"):
        fm.ms_ssim(x[..., :150, :], y[..., :150, :])
    bad = y.clone()
    bad[0, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        fm.ssim(x, bad)


def test_torch_compile_fullgraph_matches_eager():
    """A model whose loss is the drop-in traces without graph breaks (fastssim::planes is a
    custom operator with a fake implementation) and gives the eager value and gradients."""
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 3, 3, padding=1, dtype=torch.float64)
    x, y = _pair(dtype=torch.float64, scale=1 / 255)

    def loss(m):
        return 1 - fm.ssim(m(x), y, data_range=1.0)

    eager = loss(model)
    eager.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    compiled = torch.compile(loss, fullgraph=True, backend="aot_eager")
    value = compiled(model)
    value.backward()
    assert value.item() == eager.item()
    for g, p in zip(grads, model.parameters()):
        assert torch.equal(p.grad, g)


def test_autocast_bfloat16():
    """Under CPU autocast a model's output is bfloat16: identical images give exactly 1, no
    value is above 1, and values equal the float32 result to bfloat16's rounding (torchmetrics'
    issue 1290 is values above 1 there)."""
    x, y = _batch(torch.float32)
    model = torch.nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(3)[:, :, None, None])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(y)
        assert out.dtype == torch.bfloat16
        same = fm.ssim(out, out, data_range=1.0, size_average=False)
        values = fm.ssim(x, out, data_range=1.0, size_average=False)
    assert (same == 1).all()
    assert (values <= 1).all()
    ref = fm.ssim(x, out.float(), data_range=1.0, size_average=False)
    assert torch.allclose(values.float(), ref, rtol=0, atol=torch.finfo(torch.bfloat16).eps)
