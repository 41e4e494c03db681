"""``fastssim.compat.torchmetrics`` against the installed torchmetrics over its parameters, on real
images. torchmetrics' sdist ships no tests, so this is the proof that it is a drop-in: values
(float64: 1e-12; float32: torchmetrics' float64 result to 2e-6, which its own float32 misses by up
to 5e-5), gradients for both inputs, the second outputs, MS-SSIM, the metric classes' protocol,
2-D and 3-D, odd sizes, every reduction, half precision, errors and torch.compile."""

import pytest

from images import grey_volume_pair, need, odd_batch, preds_target

torch = pytest.importorskip("torch", reason="the torchmetrics drop-in needs PyTorch")
ft = pytest.importorskip("fastssim.compat.torchmetrics")


def _batch(dtype=torch.float64):
    return preds_target(odd_batch(), dtype)


def _volume(dtype=torch.float64):
    """23 x 29 x 31 of `grey_volume_pair`: torchmetrics convolves volumes through an unfolded copy
    of each window (a 3-D Gaussian of 11^3 taps: 4-6 GB for the whole 23 x 57 x 61 in float64)."""
    return tuple(a[..., :29, :31].contiguous() for a in preds_target(grey_volume_pair(), dtype))


def _tm():
    need("torchmetrics")
    import torchmetrics.functional.image as tf

    return tf


SSIM_OPTIONS = [dict(), dict(data_range=1.0), dict(data_range=(0.1, 0.9)), dict(sigma=2.0, data_range=1.0),
                dict(gaussian_kernel=False, kernel_size=7), dict(k1=0.02, k2=0.05, data_range=1.0),
                dict(reduction="none"), dict(reduction="sum"), dict(reduction=None)]


@pytest.mark.parametrize("options", SSIM_OPTIONS, ids=[str(o) for o in SSIM_OPTIONS])
def test_ssim_values(options):
    tf = _tm()
    p, t = _batch()
    ref = tf.structural_similarity_index_measure(p, t, **options)
    ours = ft.structural_similarity_index_measure(p, t, **options)
    assert ours.dtype == ref.dtype and ours.shape == ref.shape
    assert torch.allclose(ours, ref, rtol=0, atol=1e-12)
    ref64 = ref
    ours32 = ft.structural_similarity_index_measure(p.float(), t.float(), **options)
    assert ours32.dtype == torch.float32
    assert torch.allclose(ours32.double(), ref64, rtol=0, atol=2e-6 * (6 if options.get("reduction") == "sum" else 1))


def test_second_outputs():
    tf = _tm()
    p, t = _batch()
    for key in ("return_contrast_sensitivity", "return_full_image"):
        ref = tf.structural_similarity_index_measure(p, t, data_range=1.0, **{key: True})
        ours = ft.structural_similarity_index_measure(p, t, data_range=1.0, **{key: True})
        assert ours[1].shape == ref[1].shape and ours[1].dtype == ref[1].dtype
        assert torch.allclose(ours[0], ref[0], rtol=0, atol=1e-12)
        assert torch.allclose(ours[1], ref[1], rtol=0, atol=1e-10)


def test_volumes():
    tf = _tm()
    p, t = _volume()
    for options in (dict(), dict(data_range=1.0, return_contrast_sensitivity=True)):
        ref = tf.structural_similarity_index_measure(p, t, **options)
        ours = ft.structural_similarity_index_measure(p, t, **options)
        for r, o in zip(ref if isinstance(ref, tuple) else [ref], ours if isinstance(ours, tuple) else [ours]):
            assert torch.allclose(o, r, rtol=0, atol=1e-12)
    assert torch.allclose(ft.multiscale_structural_similarity_index_measure(p, t, betas=(0.5, 0.5)),
                          tf.multiscale_structural_similarity_index_measure(p, t, betas=(0.5, 0.5)), rtol=0,
                          atol=1e-12)


MS_OPTIONS = [dict(), dict(data_range=1.0), dict(data_range=(0.1, 0.9)), dict(normalize=None),
              dict(normalize="simple"), dict(betas=(0.3, 0.3, 0.4)), dict(reduction="none"),
              dict(gaussian_kernel=False, kernel_size=7)]


@pytest.mark.parametrize("options", MS_OPTIONS, ids=[str(o) for o in MS_OPTIONS])
def test_ms_ssim_values(options):
    """181 x 203: the halving drops an odd last row or column at every scale."""
    tf = _tm()
    p, t = _batch()
    ref = tf.multiscale_structural_similarity_index_measure(p, t, **options)
    ours = ft.multiscale_structural_similarity_index_measure(p, t, **options)
    assert ours.shape == ref.shape and torch.allclose(ours, ref, rtol=0, atol=1e-12)
    ours32 = ft.multiscale_structural_similarity_index_measure(p.float(), t.float(), **options)
    assert torch.allclose(ours32.double(), ref, rtol=0, atol=2e-6)


@pytest.mark.parametrize("data_range", [None, 1.0, (0.1, 0.9)])
def test_ms_ssim_without_a_gradient_is_the_per_scale_loop_bitwise(data_range, monkeypatch):
    """Without a gradient the scales come from one kernel call (`_fused_terms`), not from the
    per-scale operations autograd and torch.compile see: both give the same bits, 2-D of odd
    sides in both dtypes and a volume (a (min, max) range, which clamps each scale, takes the
    loop)."""
    from fastssim.integrations import torchmetrics as module

    cases = [(_batch(), {}), (_batch(torch.float32), {}), (_volume(torch.float32), dict(betas=(0.5, 0.5)))]
    for (p, t), options in cases:
        kw = dict(data_range=data_range, reduction="none", **options)
        fast = ft.multiscale_structural_similarity_index_measure(p, t, **kw)
        with monkeypatch.context() as m:
            m.setattr(module, "_fused_terms", lambda *a: None)
            loop = ft.multiscale_structural_similarity_index_measure(p, t, **kw)
        assert fast.dtype == loop.dtype == p.dtype and torch.equal(fast, loop)
        assert not torch.equal(fast, torch.ones_like(fast))


ANISOTROPIC = [dict(sigma=(1.5, 1.0)), dict(sigma=(1.0, 2.0), kernel_size=(9, 13)),
               dict(gaussian_kernel=False, kernel_size=(5, 9))]


@pytest.mark.parametrize("options", ANISOTROPIC, ids=[str(o) for o in ANISOTROPIC])
def test_anisotropic_windows(options):
    """A window per axis (a sequence of sigmas or kernel sizes): SSIM with its reflection (a copy
    where the widths differ), the full image, MS-SSIM, volumes and the gradients for both
    inputs, float64, against torchmetrics."""
    tf = _tm()
    p, t = _batch()
    full = dict(options, data_range=1.0, return_full_image=True)
    for r, o in zip(tf.structural_similarity_index_measure(p, t, **full),
                    ft.structural_similarity_index_measure(p, t, **full)):
        assert o.shape == r.shape and torch.allclose(o, r, rtol=0, atol=1e-11)
    ms = dict(options, betas=(0.5, 0.5))
    assert torch.allclose(ft.multiscale_structural_similarity_index_measure(p, t, **ms),
                          tf.multiscale_structural_similarity_index_measure(p, t, **ms), rtol=0, atol=1e-12)
    grads = []
    for impl in (tf, ft):
        a, b = p.clone().requires_grad_(), t.clone().requires_grad_()
        impl.structural_similarity_index_measure(a, b, data_range=1.0, reduction="sum", **options).backward()
        grads.append((a.grad, b.grad))
    for r, o in zip(*grads):
        assert (o - r).abs().max().item() <= 1e-9 * r.abs().max().item()
    v, w = _volume()
    opts3 = {key: tuple(val) + (val[0],) for key, val in options.items() if isinstance(val, tuple)}
    opts3 = dict(options, **opts3)
    if "kernel_size" not in opts3:  # torchmetrics pads D by kernel_size: its default 11 with these sigmas
        opts3["kernel_size"] = 11
    assert torch.allclose(ft.structural_similarity_index_measure(v, w, **opts3),
                          tf.structural_similarity_index_measure(v, w, **opts3), rtol=0, atol=1e-12)
    # the anisotropic window differs from the isotropic one: the test can fail
    assert not torch.allclose(ft.structural_similarity_index_measure(p, t), tf.structural_similarity_index_measure(
        p, t, **options), rtol=0, atol=1e-4)


@pytest.mark.parametrize("fn", ["structural_similarity_index_measure",
                                "multiscale_structural_similarity_index_measure"])
def test_gradients_for_both_inputs(fn):
    """With the data range given (torchmetrics then differentiates nothing else): the same
    gradients for preds and target as torchmetrics' autograd, float64."""
    tf = _tm()
    p, t = _batch()
    grads = []
    for impl in (tf, ft):
        a, b = p.clone().requires_grad_(), t.clone().requires_grad_()
        getattr(impl, fn)(a, b, data_range=1.0, reduction="sum").backward()
        grads.append((a.grad, b.grad))
    for r, o in zip(*grads):
        assert (o - r).abs().max().item() <= 1e-9 * r.abs().max().item()


def test_metric_classes_follow_torchmetrics_protocol():
    """update over batches, compute, reset, forward: the original's numbers; the mean's state
    is a running sum (a 0-d tensor), not a list of images."""
    need("torchmetrics")
    import torchmetrics.image as ti

    p, t = _batch()
    for cls, kw in (("StructuralSimilarityIndexMeasure", dict(data_range=1.0)),
                    ("StructuralSimilarityIndexMeasure", dict(reduction="none")),
                    ("StructuralSimilarityIndexMeasure", dict(data_range=1.0, return_full_image=True)),
                    ("MultiScaleStructuralSimilarityIndexMeasure", dict(data_range=1.0)),
                    ("MultiScaleStructuralSimilarityIndexMeasure", dict(reduction="sum", normalize="simple"))):
        ref, ours = getattr(ti, cls)(**kw).double(), getattr(ft, cls)(**kw).double()
        assert isinstance(ours, getattr(ti, cls))
        for i in range(3):
            step_ref = ref(p[2 * i:2 * i + 2], t[2 * i:2 * i + 2])  # forward: this batch's value
            step = ours(p[2 * i:2 * i + 2], t[2 * i:2 * i + 2])
            for r, o in zip(step_ref if isinstance(step_ref, tuple) else [step_ref],
                            step if isinstance(step, tuple) else [step]):
                assert torch.allclose(o, r, rtol=0, atol=1e-10)
        for r, o in zip(*(c.compute() if isinstance(c.compute(), tuple) else [c.compute()] for c in (ref, ours))):
            assert torch.allclose(o, r, rtol=0, atol=1e-10)
        if kw.get("reduction", "elementwise_mean") != "none":
            assert ours.similarity.dim() == 0
            ours.reset()
            ours.update(p[:1], t[:1])
            assert ours.total.item() == 1
        import pickle

        again = pickle.loads(pickle.dumps(ours))  # checkpoints and worker processes pickle metrics
        assert type(again) is type(ours) and torch.equal(again.total, ours.total)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_and_autocast(dtype):
    """float16/bfloat16 are computed in float32: identical images give exactly 1 and no value
    exceeds 1 (torchmetrics' issue 1290); values are the float32 ones in the output dtype."""
    p, t = _batch(torch.float32)
    ph, th = p.to(dtype), t.to(dtype)
    ours = ft.structural_similarity_index_measure(ph, th, data_range=1.0, reduction="none")
    assert ours.dtype == dtype and (ours <= 1).all()
    ref = ft.structural_similarity_index_measure(ph.float(), th.float(), data_range=1.0, reduction="none")
    assert torch.allclose(ours.float(), ref.to(dtype).float(), rtol=0, atol=0)
    assert ft.structural_similarity_index_measure(ph, ph, data_range=1.0).item() == 1.0
    assert ft.multiscale_structural_similarity_index_measure(ph, ph, data_range=1.0).item() == 1.0
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = torch.nn.functional.conv2d(t, torch.eye(3)[:, :, None, None])
        assert out.dtype == torch.bfloat16
        assert ft.structural_similarity_index_measure(out, out, data_range=1.0).item() == 1.0


def test_errors_name_the_problem():
    p, t = _batch(torch.float32)
    with pytest.raises(RuntimeError, match="same shape"):
        ft.structural_similarity_index_measure(p, t[:, :, 1:])
    with pytest.raises(ValueError, match="BxCxHxW"):
        ft.structural_similarity_index_measure(p[0], t[0])
    with pytest.raises(ValueError, match="odd positive"):
        ft.structural_similarity_index_measure(p, t, gaussian_kernel=False, kernel_size=8)
    with pytest.raises(ValueError, match="`sigma` has dimension 3"):
        ft.structural_similarity_index_measure(p, t, sigma=(1.5, 2.0, 1.0))
    with pytest.raises(ValueError, match="mutually exclusive"):
        ft.structural_similarity_index_measure(p, t, return_full_image=True, return_contrast_sensitivity=True)
    with pytest.raises(ValueError, match="Reduction"):
        ft.structural_similarity_index_measure(p, t, reduction="max")
    with pytest.raises(ValueError, match="height must be larger"):
        ft.multiscale_structural_similarity_index_measure(p[..., :120, :], t[..., :120, :])
    with pytest.raises(ValueError, match="tuple"):
        ft.multiscale_structural_similarity_index_measure(p, t, betas=[0.5, 0.5])
    bad = t.clone()
    bad[0, 0, 3, 3] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        ft.structural_similarity_index_measure(p, bad, data_range=1.0)


def test_torch_compile_fullgraph():
    torch.manual_seed(0)
    model = torch.nn.Conv2d(3, 3, 3, padding=1, dtype=torch.float64)
    p, t = _batch()

    def loss(m):
        return 1 - ft.multiscale_structural_similarity_index_measure(m(p), t, data_range=1.0)

    eager = loss(model)
    eager.backward()
    grads = [q.grad.clone() for q in model.parameters()]
    model.zero_grad()
    value = torch.compile(loss, fullgraph=True, backend="aot_eager")(model)
    value.backward()
    assert value.item() == pytest.approx(eager.item(), abs=1e-14)
    for g, q in zip(grads, model.parameters()):
        assert torch.allclose(q.grad, g, rtol=0, atol=1e-12 * g.abs().max().item())
