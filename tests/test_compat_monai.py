"""``fastssim.compat.monai`` against the installed MONAI over its parameters, on real images.

MONAI computes in float32 with a float32 window, up to 1e-4 from the float64 value of its own
definition on images with flat regions; so the oracle here is MONAI's own code run in float64
(its cast to float32 patched to keep float64, the default dtype float64 for its window), and
MONAI's float32 result is checked at its own accuracy. Values, gradients for both inputs, the
cumulative metric protocol, the loss, 2-D and 3-D, MS-SSIM on odd sizes."""

import contextlib

import pytest

from images import grey_volume_pair, need, odd_batch, preds_target

torch = pytest.importorskip("torch", reason="the MONAI drop-in needs PyTorch")
fmo = pytest.importorskip("fastssim.compat.monai")


def _batch(dtype=torch.float64):
    return preds_target(odd_batch(), dtype)


def _volume(dtype=torch.float64):
    return preds_target(grey_volume_pair(), dtype)


@contextlib.contextmanager
def monai_in_float64():
    """MONAI's own SSIM code computing in float64: its inputs kept in float64 and its window
    built in float64 (the oracle for values and gradients)."""
    need("monai")
    import monai.metrics.regression as reg

    original, default = reg.convert_data_type, torch.get_default_dtype()

    def keep(data, output_type=None, device=None, dtype=None, **kw):
        return original(data, output_type=output_type, device=device, dtype=torch.float64, **kw)

    reg.convert_data_type = keep
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        reg.convert_data_type = original
        torch.set_default_dtype(default)


OPTIONS = [dict(), dict(kernel_type="uniform", win_size=7), dict(data_range=2.0, k1=0.02, k2=0.05),
           dict(kernel_sigma=2.0, win_size=15)]


@pytest.mark.parametrize("options", OPTIONS, ids=[str(o) for o in OPTIONS])
def test_ssim_metric_values(options):
    need("monai")
    import monai.metrics as mm

    p, t = _batch()
    ours = fmo.SSIMMetric(spatial_dims=2, **options)(p, t)
    ref32 = mm.SSIMMetric(spatial_dims=2, **options)(p, t)
    with monai_in_float64():
        ref64 = mm.SSIMMetric(spatial_dims=2, **options)(p, t)
    assert ours.dtype == ref32.dtype == torch.float32 and ours.shape == ref32.shape == (6, 1)
    assert torch.allclose(ours.double(), ref64, rtol=0, atol=1e-7)  # float32 rounding of the output
    assert torch.allclose(ours, ref32, rtol=0, atol=1e-4)  # MONAI's own float32 error
    p32 = fmo.SSIMMetric(spatial_dims=2, **options)(p.float(), t.float())
    assert torch.allclose(p32.double(), ref64, rtol=0, atol=2e-6)


def test_volumes_and_ms_ssim():
    need("monai")
    import monai.metrics as mm

    v, w = _volume()
    p, t = _batch()
    with monai_in_float64():
        ref_v = mm.SSIMMetric(spatial_dims=3)(v, w)
        ref_ms = mm.MultiScaleSSIMMetric(spatial_dims=2)(p, t)  # 181 x 203: odd sides dropped by the pooling
        ref_ms_u = mm.MultiScaleSSIMMetric(spatial_dims=2, kernel_type="uniform", kernel_size=7,
                                           weights=(0.3, 0.3, 0.4))(p, t)
        ref_ms_v = mm.MultiScaleSSIMMetric(spatial_dims=3, kernel_size=5, weights=(0.5, 0.5))(v, w)
    assert torch.allclose(fmo.SSIMMetric(spatial_dims=3)(v, w).double(), ref_v, rtol=0, atol=1e-7)
    assert torch.allclose(fmo.MultiScaleSSIMMetric(spatial_dims=2)(p, t).double(), ref_ms, rtol=0, atol=1e-7)
    assert torch.allclose(fmo.MultiScaleSSIMMetric(spatial_dims=2, kernel_type="uniform", kernel_size=7,
                                                   weights=(0.3, 0.3, 0.4))(p, t).double(), ref_ms_u, rtol=0,
                          atol=1e-7)
    assert torch.allclose(fmo.MultiScaleSSIMMetric(spatial_dims=3, kernel_size=5, weights=(0.5, 0.5))(v, w).double(),
                          ref_ms_v, rtol=0, atol=1e-7)
    assert torch.allclose(fmo.MultiScaleSSIMMetric(spatial_dims=2)(p, t), mm.MultiScaleSSIMMetric(spatial_dims=2)(p, t),
                          rtol=0, atol=1e-4)


def test_ms_ssim_without_a_gradient_is_the_per_scale_loop_bitwise(monkeypatch):
    """Without a gradient MS-SSIM's scales come from one kernel call (`torch_scales.scale_terms`),
    not from the per-scale operations a gradient needs: both give the same bits, 2-D of odd sides
    in both dtypes, a uniform window, a volume."""
    from fastssim.integrations import monai as module

    cases = [(_batch(), dict(spatial_dims=2)), (_batch(torch.float32), dict(spatial_dims=2)),
             (_batch(), dict(spatial_dims=2, kernel_type="uniform", kernel_size=7, weights=(0.3, 0.3, 0.4))),
             (_volume(torch.float32), dict(spatial_dims=3, kernel_size=5, weights=(0.5, 0.5)))]
    for (p, t), options in cases:
        fast = module.compute_ms_ssim(p, t, **options)
        with monkeypatch.context() as m:
            m.setattr(module, "scale_terms", lambda *a: None)
            loop = module.compute_ms_ssim(p, t, **options)
        assert fast.dtype == loop.dtype and torch.equal(fast, loop)
        assert not torch.equal(fast, torch.ones_like(fast))
        grad = module.compute_ms_ssim(p, t.clone().requires_grad_(), **options)  # the loop, differentiable
        assert grad.requires_grad and torch.allclose(grad.detach(), fast, rtol=0, atol=1e-6)


ANISOTROPIC = [dict(win_size=(11, 7), kernel_sigma=(1.5, 1.0)), dict(kernel_type="uniform", win_size=(5, 9)),
               dict(win_size=(7, 11), kernel_sigma=1.5)]


@pytest.mark.parametrize("options", ANISOTROPIC, ids=[str(o) for o in ANISOTROPIC])
def test_anisotropic_windows(options):
    """A window per spatial axis (MONAI's sequences, in the axes' order): SSIM, MS-SSIM, volumes
    and the loss's gradients for both inputs against MONAI's own code in float64."""
    need("monai")
    import monai.losses as ml
    import monai.metrics as mm

    p, t = _batch()
    v, w = _volume()
    opts3 = dict(options, win_size=tuple(options["win_size"]) + (5,))
    if "kernel_sigma" in options and not isinstance(options["kernel_sigma"], float):
        opts3["kernel_sigma"] = tuple(options["kernel_sigma"]) + (2.0,)
    ms_opts = dict(kernel_type=options.get("kernel_type", "gaussian"), kernel_size=options["win_size"],
                   kernel_sigma=options.get("kernel_sigma", 1.5), weights=(0.5, 0.5))
    with monai_in_float64():
        ref = mm.SSIMMetric(spatial_dims=2, **options)(p, t)
        ref_v = mm.SSIMMetric(spatial_dims=3, **opts3)(v, w)
        ref_ms = mm.MultiScaleSSIMMetric(spatial_dims=2, **ms_opts)(p, t)
        a, b = p[:2].clone().requires_grad_(), t[:2].clone().requires_grad_()
        ml.SSIMLoss(spatial_dims=2, **options)(a, b).backward()
    assert torch.allclose(fmo.SSIMMetric(spatial_dims=2, **options)(p, t).double(), ref, rtol=0, atol=1e-7)
    assert torch.allclose(fmo.SSIMMetric(spatial_dims=3, **opts3)(v, w).double(), ref_v, rtol=0, atol=1e-7)
    assert torch.allclose(fmo.MultiScaleSSIMMetric(spatial_dims=2, **ms_opts)(p, t).double(), ref_ms, rtol=0,
                          atol=1e-7)
    c, d = p[:2].clone().requires_grad_(), t[:2].clone().requires_grad_()
    fmo.SSIMLoss(spatial_dims=2, **options)(c, d).backward()
    for ours, theirs in ((c.grad, a.grad), (d.grad, b.grad)):
        assert (ours - theirs).abs().max() <= 1e-7 * theirs.abs().max()
    # the anisotropic windows differ from the isotropic one: the test can fail
    assert not torch.allclose(fmo.SSIMMetric(spatial_dims=2)(p, t).double(), ref, rtol=0, atol=1e-4)


def test_cumulative_protocol_and_reductions():
    need("monai")
    import monai.metrics as mm

    p, t = _batch()
    for reduction in ("mean", "sum", "none", "mean_batch", "sum_batch", "mean_channel", "sum_channel"):
        ref, ours = mm.SSIMMetric(spatial_dims=2, reduction=reduction, get_not_nans=True), \
            fmo.SSIMMetric(spatial_dims=2, reduction=reduction, get_not_nans=True)
        assert isinstance(ours, mm.SSIMMetric)
        for i in range(3):
            ref(p[2 * i:2 * i + 2], t[2 * i:2 * i + 2])
            ours(p[2 * i:2 * i + 2], t[2 * i:2 * i + 2])
        (r, rn), (o, on) = ref.aggregate(), ours.aggregate()
        assert o.shape == r.shape and torch.equal(on, rn)
        assert torch.allclose(o, r, rtol=0, atol=1e-4 * (6 if "sum" in reduction else 1))
        ours.reset()
        assert ours.get_buffer() is None
    import pickle

    again = pickle.loads(pickle.dumps(fmo.SSIMMetric(spatial_dims=2)))
    assert type(again).__name__ == "SSIMMetric"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_values_and_gradients_for_both_inputs(reduction):
    need("monai")
    import monai.losses as ml

    p, t = _batch()
    grads = []
    for make, ctx in ((ml.SSIMLoss, monai_in_float64), (fmo.SSIMLoss, contextlib.nullcontext)):
        a, b = p.clone().requires_grad_(), t.clone().requires_grad_()
        with ctx():
            loss = make(spatial_dims=2, reduction=reduction)(a, b)
        loss.sum().backward()
        grads.append((loss.detach().double(), a.grad, b.grad))
    (rv, rga, rgb), (ov, oga, ogb) = grads
    assert ov.shape == rv.shape and torch.allclose(ov, rv, rtol=0, atol=1e-6)
    for r, o in ((rga, oga), (rgb, ogb)):  # 1e-7: MONAI's values are float32, so is the mean's 1/N
        assert (o - r).abs().max().item() <= 1e-7 * r.abs().max().item()
    loss = fmo.SSIMLoss(spatial_dims=2)
    loss.data_range = 2.0  # MONAI's property reaches the metric inside
    assert loss.ssim_metric.data_range == 2.0 and isinstance(loss.ssim_metric, fmo.SSIMMetric)


def test_metatensor_input():
    need("monai")
    from monai.data import MetaTensor

    p, t = _batch()
    mp, mt = MetaTensor(p, meta={"spacing": (1.0, 1.0)}), MetaTensor(t)
    assert torch.allclose(fmo.SSIMMetric(spatial_dims=2)(mp, mt), fmo.SSIMMetric(spatial_dims=2)(p, t), rtol=0,
                          atol=0)


def test_errors_name_the_problem():
    need("monai")
    p, t = _batch(torch.float32)
    with pytest.raises(ValueError, match="4 dimensions"):
        fmo.SSIMMetric(spatial_dims=2)(p[:, :, None], t[:, :, None])
    with pytest.raises(ValueError, match=r"one value or 2 \(one per spatial axis\)"):
        fmo.SSIMMetric(spatial_dims=2, win_size=(7, 9, 11))(p, t)
    with pytest.raises(ValueError, match="image height must be larger"):
        fmo.MultiScaleSSIMMetric(spatial_dims=2)(p[..., :100, :], t[..., :100, :])
    with pytest.raises(ValueError, match="exceeds the image extent"):
        fmo.SSIMMetric(spatial_dims=2)(p[..., :8, :8], t[..., :8, :8])
