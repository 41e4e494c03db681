"""MS-SSIM against Wang's msssim.m (a NumPy transcription) and pytorch_msssim, on real images."""

import numpy as np
import pytest

import fastssim
from fastssim import config as cfg
import naive
from images import DISTORTIONS, camera, colour, heavy_noise, need

W3 = (0.3, 0.3, 0.4)


@pytest.mark.parametrize("distortion", sorted(DISTORTIONS))
def test_matches_msssim_m_on_real_images(distortion):
    x = camera()
    y = DISTORTIONS[distortion](x)
    ref = naive.ms_ssim(x, y, 255)
    assert fastssim.ms_ssim(x, y) == pytest.approx(ref, abs=1e-5)
    assert fastssim.ms_ssim(x.astype(np.float64), y.astype(np.float64), data_range=255) == pytest.approx(ref, abs=1e-9)


def test_odd_sizes_follow_msssim_m():
    """181 x 203: odd at several scales; the last sample is averaged with itself."""
    x = camera()[:181, :203].astype(np.float64)
    y = DISTORTIONS["jpeg"](camera())[:181, :203].astype(np.float64)
    assert fastssim.ms_ssim(x, y, data_range=255) == pytest.approx(naive.ms_ssim(x, y, 255), abs=1e-9)


@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
def test_channel_last_colour_scores_as_planes(monkeypatch, dtype):
    """Channel-last colour takes MS-SSIM's first scale as interleaved rows (the channels filtered
    together, the contrast-structure term summed per channel): each channel's MS-SSIM, and the
    first scale's contrast-structure means, equal those of the channel alone, for 2 to 4 channels
    with levels far apart, a width across three column bands and a remainder, an odd height."""
    import fastssim.kernels.engine as engine
    import fastssim.kernels.ssim_plan as ssim_plan
    from images import noise

    taken = []
    lanes_of = ssim_plan.interleaved_lanes
    monkeypatch.setattr(ssim_plan, "interleaved_lanes", lambda *a: taken.append(lanes_of(*a)) or taken[-1])
    ref = np.tile(colour(), (1, 3, 1))[:203, :1283]
    dist = noise(ref, 12.0, seed=5)
    for c in (2, 3, 4):
        x = np.ascontiguousarray(np.concatenate([ref, 255 - ref[..., :1]], axis=-1)[..., :c])
        y = np.ascontiguousarray(np.concatenate([dist, 255 - dist[..., :1]], axis=-1)[..., :c])
        kw = {}
        if dtype != "uint8":  # the last channel far from the others' level
            x, y = (a.astype(dtype) / 255 + np.arange(c) * 20.0 for a in (x, y))
            x, y, kw = x.astype(dtype), y.astype(dtype), dict(data_range=1.0)
        taken.clear()
        got = fastssim.ms_ssim_batch(x[None], y[None], channel_axis=-1, weights=W3, **kw)[0]
        assert taken[0] == c  # the first scale interleaved, the halved ones planar
        alone = [fastssim.ms_ssim(np.ascontiguousarray(x[..., k]), np.ascontiguousarray(y[..., k]), weights=W3, **kw)
                 for k in range(c)]
        assert got == pytest.approx(np.mean(alone), rel=0, abs=1e-9)
        assert all(0.3 < a < 0.999 for a in alone)
        # the first scale's contrast-structure means themselves, interleaved against planar
        consts = engine.kernel_constants(255.0 if dtype == "uint8" else 1.0, 0.01, 0.03, 1.0,
                                         np.dtype(np.float64 if dtype == "float64" else np.float32))
        w = fastssim.kernels.math.window_weights(11, 1.5, True)
        five = np.moveaxis(x, -1, 0)[None, :, None], np.moveaxis(y, -1, 0)[None, :, None]
        inter, _ = engine.ssim_means(*five, 2, w, consts, want_cs=True)
        planar, _ = engine.ssim_means(*(np.ascontiguousarray(a) for a in five), 2, w, consts, want_cs=True)
        np.testing.assert_allclose(inter, planar, rtol=0, atol=1e-12)
        assert (inter[..., 1] > 0.3).all() and (inter[..., 1] != inter[..., 0]).all()


def test_colour_and_volume():
    c = colour()[:200, :240]
    d = heavy_noise(colour())[:200, :240]
    per_channel = [naive.ms_ssim(c[..., k], d[..., k], 255) for k in range(3)]
    assert fastssim.ms_ssim(c, d, channel_axis=-1) == pytest.approx(np.mean(per_channel), abs=1e-5)
    rng = np.random.default_rng(0)
    v = rng.random((24, 30, 28))
    w = np.clip(v + 0.1 * rng.standard_normal(v.shape), 0, 1)
    ref = naive.ms_ssim(v, w, 1.0, weights=W3, win_size=5)
    assert fastssim.ms_ssim(v, w, data_range=1.0, weights=W3, win_size=5) == pytest.approx(ref, abs=1e-9)


def test_against_pytorch_msssim():
    torch = need("torch")
    pm = need("pytorch_msssim")
    x = camera().astype(np.float64)
    y = DISTORTIONS["noise"](camera()).astype(np.float64)
    X, Y = torch.from_numpy(x[None, None]), torch.from_numpy(y[None, None])
    # pytorch_msssim builds its window in float32; with the same window in float64 the
    # two agree to rounding, and with its own window to its float32 precision
    win = torch.from_numpy(naive.window(11)).reshape(1, 1, 1, 11)
    ours = fastssim.ms_ssim(x, y, data_range=255)
    assert ours == pytest.approx(float(pm.ms_ssim(X, Y, data_range=255, win=win)), abs=1e-12)
    assert ours == pytest.approx(float(pm.ms_ssim(X, Y, data_range=255)), abs=2e-5)
    # a volume whose sides stay even over the five scales
    rng = np.random.default_rng(1)
    v = rng.random((176, 192, 208))
    w = np.clip(v + 0.1 * rng.standard_normal(v.shape), 0, 1)
    win3 = torch.from_numpy(naive.window(11)).reshape(1, 1, 1, 1, 11)
    ref = float(pm.ms_ssim(torch.from_numpy(v[None, None]), torch.from_numpy(w[None, None]), data_range=1.0, win=win3))
    assert fastssim.ms_ssim(v, w, data_range=1.0) == pytest.approx(ref, abs=1e-12)


def test_properties():
    x = camera()
    assert fastssim.ms_ssim(x, x) == 1.0
    # anti-correlated images: negative contrast-structure terms are clamped, never NaN
    assert fastssim.ms_ssim(x, 255 - x) == 0.0
    y = DISTORTIONS["blur"](x)
    assert fastssim.ms_ssim(x, y) == pytest.approx(fastssim.ms_ssim(y, x), abs=1e-7)  # float32 path
    # one scale is plain SSIM
    assert fastssim.ms_ssim(x, y, weights=(1.0,)) == pytest.approx(fastssim.ssim(x, y), abs=1e-12)


def test_batch_and_slices_equal_loops():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (3, 40, 44), dtype=np.uint8)
    y = np.clip(x + rng.normal(0, 25, x.shape), 0, 255).astype(np.uint8)
    kw = dict(weights=W3, win_size=7)
    got = fastssim.ms_ssim_batch(x, y, **kw)
    np.testing.assert_array_equal(got, [fastssim.ms_ssim(a, b, **kw) for a, b in zip(x, y)])
    v = rng.integers(0, 256, (20, 30, 33), dtype=np.uint8)
    w = np.clip(v + rng.normal(0, 25, v.shape), 0, 255).astype(np.uint8)
    sl = fastssim.ms_ssim_slices(v, w, axis=0, **kw)
    np.testing.assert_array_equal(sl, [fastssim.ms_ssim(a, b, **kw) for a, b in zip(v, w)])
    with pytest.raises(ValueError, match=r"needs every spatial axis to be at least 25 long.*\(20, 33\)"):
        fastssim.ms_ssim_slices(v, w, axis=1, **kw)


def test_errors():
    x = np.zeros((160, 200), np.uint8)
    with pytest.raises(ValueError, match=r"needs every spatial axis to be at least 161 long.*got \(160, 200\)"):
        fastssim.ms_ssim(x, x)
    with pytest.raises(ValueError, match="weights must be one or more finite non-negative numbers"):
        fastssim.ms_ssim(x, x, weights=(0.5, -0.5))
    with pytest.raises(TypeError, match="weights must be a sequence of numbers"):
        fastssim.ms_ssim(x, x, weights="abc")


@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
def test_halving_sums_in_written_order(dtype):
    """The 2x2 (2x2x2) means between scales equal ``((a + b) + c) + d`` (times 1/4; two such sums
    added, times 1/8, for volumes) computed in the input's float type (float64 for integers;
    exact for uint8 either way), the last sample of an odd axis repeated: bitwise, for odd and
    even sizes, planar and channel-last rows (so both layouts score the same), mirrored views
    (read through a copy) and rows read in place or converted."""
    from fastssim.kernels.engine_ms import halve

    rng = np.random.default_rng(7)

    def expected(a, depth_too, out_dtype):
        t = np.float32 if a.dtype == np.float32 else np.float64
        axes = (2, 3, 4) if depth_too else (3, 4)
        a = np.pad(a.astype(t), [(0, a.shape[ax] % 2 if ax in axes else 0) for ax in range(5)], mode="edge")

        def sum4(p):
            return ((p[..., 0::2, 0::2] + p[..., 0::2, 1::2]) + p[..., 1::2, 0::2]) + p[..., 1::2, 1::2]
        if depth_too:
            return ((sum4(a[:, :, 0::2]) + sum4(a[:, :, 1::2])) * t(0.125)).astype(out_dtype)
        return (sum4(a) * t(0.25)).astype(out_dtype)

    out_dtype = np.float64 if dtype == "float64" else np.float32
    for shape, depth_too in [((3, 4, 1, 64, 96), False), ((2, 3, 1, 37, 51), False), ((2, 2, 9, 14, 17), True),
                             ((1, 1, 8, 10, 12), True)]:
        a = rng.random(shape) * (255 if dtype == "uint8" else 3)
        a = a.astype(dtype)
        last = np.moveaxis(np.ascontiguousarray(np.moveaxis(a, 1, -1)), -1, 1)  # channels side by side
        for view in (a, last, a[..., ::-1], last[:, :, :, ::-1]):
            out = halve(view, 3 if depth_too else 2, np.dtype(out_dtype))
            want = expected(np.asarray(view), depth_too, out_dtype)
            assert out.shape == want.shape
            np.testing.assert_array_equal(out, want, err_msg=f"{shape} {view.strides}")


def test_pair_halved_in_one_call_as_each_alone():
    """MS-SSIM halves both images of a pair in one call: each result equals halving it alone,
    bit for bit, for every convention's rule (the padding and cropping around the call), odd and
    even sizes, volumes, and a pair whose rows are of two types (uint8 and float64: halved one
    after the other, each in its own rows)."""
    from fastssim.kernels.engine_ms import CONVENTIONS, halve, halve_by

    rng = np.random.default_rng(11)
    for shape, nd in [((2, 3, 1, 37, 51), 2), ((1, 2, 1, 64, 96), 2), ((1, 1, 9, 14, 17), 3)]:
        x = rng.random(shape).astype(np.float32)
        y = (x + 0.1 * rng.random(shape)).astype(np.float32)
        for conv in CONVENTIONS.values():
            gx, gy = halve_by(x, conv, nd, np.dtype(np.float32), y)
            np.testing.assert_array_equal(gx, halve_by(x, conv, nd, np.dtype(np.float32)), err_msg=conv.name)
            np.testing.assert_array_equal(gy, halve_by(y, conv, nd, np.dtype(np.float32)), err_msg=conv.name)
        u = (x * 255).astype(np.uint8)
        d = (y * 255).astype(np.float64)
        for wdt in (np.dtype(np.float32), np.dtype(np.float64)):
            gu, gd = halve(u, nd, wdt, d)
            np.testing.assert_array_equal(gu, halve(u, nd, wdt))
            np.testing.assert_array_equal(gd, halve(d, nd, wdt))
            assert not np.array_equal(gu, gd)  # the two images, not one of them twice
    with pytest.raises(ValueError, match="one shape"):
        halve(x, 2, np.dtype(np.float32), x[..., :-1])


def test_contrast_structure_alone_equals_it_beside_ssim():
    """MS-SSIM's finer scales ask the SSIM kernel for the contrast-structure term alone
    (``want_cs='only'``: SSIM's division skipped): the same mean, bit for bit, as beside SSIM,
    for grey images, channel-last colour, a volume, float64 and a uniform window over 8-bit images
    (the exact sums); the mean SSIM, not computed, is NaN rather than a number."""
    from fastssim.kernels.engine import kernel_constants, ssim_means
    from fastssim.kernels.math import window_weights

    cam = camera()[:96, :120]
    rgb = colour()[:80, :90]
    rng = np.random.default_rng(5)
    planar = np.ascontiguousarray(np.moveaxis(rgb, -1, 0))[None, :, None]
    cases = [(cam[None, None, None], 2, np.float32, True),
             (np.moveaxis(rgb, -1, 0)[None, :, None], 2, np.float32, True),  # channel-last: interleaved rows
             (planar, 2, np.float32, True), (np.stack([cam[:40, :40]] * 12)[None, None], 3, np.float64, True),
             (cam[None, None, None], 2, np.float64, False)]
    for x5, nd, wdt, gaussian in cases:
        y5 = np.clip(x5 + rng.normal(0, 12, x5.shape), 0, 255).astype(np.uint8)
        weights = window_weights(11 if gaussian else 7, 1.5, gaussian)
        consts = kernel_constants(255.0, 0.01, 0.03, 1.0, np.dtype(wdt))
        both, _ = ssim_means(x5, y5, nd, weights, consts, want_cs=True)
        alone, _ = ssim_means(x5, y5, nd, weights, consts, want_cs="only")
        np.testing.assert_array_equal(alone[..., 1], both[..., 1])
        assert np.isnan(alone[..., 0]).all() and np.isfinite(both).all()
        assert (both[..., 1] > 0.1).all() and (both[..., 1] < 1).all()


def test_the_ssim_kernel_halves_as_the_halving_kernel_does():
    """MS-SSIM's SSIM kernel halves both images as it reads them (``ssim_means(..., halve=)``): the
    halving kernel's numbers to the bit ('block': an odd edge averaged with itself; 'floor': dropped,
    torchmetrics' and MONAI's rule), over several row and column bands (each task halves the rows and
    columns it owns), odd and even sides, a two-tap window, every input dtype whose rows that kernel
    sums in the work dtype, rows read in place or converted; and the means are those of a call that
    does not halve. Where the rows differ, or for channel-last colour, the exact sums, volumes and a
    transposed view (read in memory order: its blocks would be summed in another order), the caller
    is told to halve (None)."""
    from fastssim.kernels.engine import kernel_constants, ssim_means
    from fastssim.kernels.ssim_plan import halving_fuses
    from fastssim.kernels.engine_ms import halve
    from fastssim.kernels.math import window_weights

    rng = np.random.default_rng(3)
    cam = camera().astype(np.float64)
    big = np.concatenate([cam, cam[::-1], cam[:, ::-1]], axis=1)[:, :1031]  # three column bands of 512
    fused = 0
    for shape in [(1, 2, 1, 263, 1031), (2, 1, 1, 130, 96), (1, 1, 1, 13, 23)]:
        base = big[:shape[3], :shape[4]] * np.ones(shape)
        for dtype, wdt in [("uint8", np.float32), ("uint8", np.float64), ("uint16", np.float32), ("int16", np.float64),
                           ("float32", np.float32), ("float64", np.float64), ("float16", np.float32)]:
            scale = 200 if dtype == "uint16" else 1
            x = (base * scale).astype(dtype)
            y = np.clip(base + rng.normal(0, 20, shape), 0, 255).astype(dtype) * np.asarray(scale, dtype)
            for a, b in [(x, y), (x[..., ::2], y[..., ::2])]:
                for taps in (11, 2):
                    weights = window_weights(taps, 1.5, taps == 11)
                    consts = kernel_constants(255.0 * scale, 0.01, 0.03, 1.0, np.dtype(wdt))
                    plain, _ = ssim_means(a, b, 2, weights, consts, want_cs="only")
                    assert halving_fuses(a, b, 2, weights, consts)
                    for mode in ("block", "floor"):
                        means, _, halved = ssim_means(a, b, 2, weights, consts, want_cs="only", halve=mode)
                        want = halve(a, 2, np.dtype(wdt), b)
                        if mode == "floor":
                            want = [w[..., :a.shape[3] // 2, :a.shape[4] // 2] for w in want]
                        what = f"{a.shape} {a.strides} {dtype} {wdt.__name__} {taps} {mode}"
                        assert halved.dtype == wdt and halved.shape == (2,) + want[0].shape, what
                        np.testing.assert_array_equal(halved[0], want[0], err_msg=what)
                        np.testing.assert_array_equal(halved[1], want[1], err_msg=what)
                        np.testing.assert_array_equal(means, plain, err_msg=what)
                        fused += 1
    assert fused == 3 * 7 * 2 * 2 * 2
    # not halved in the kernel: the caller halves
    weights = window_weights(11, 1.5, True)
    c32, c64 = (kernel_constants(255.0, 0.01, 0.03, 1.0, np.dtype(t)) for t in (np.float32, np.float64))
    x = camera()[:64, :64]
    rgb = colour()[:64, :64]
    vol = np.stack([x[:20, :20]] * 12)
    refused = [(x.astype(np.float32), c64, weights, 2),  # float32 rows summed in float32, work in float64
               (x.astype(np.float16), c64, weights, 2),
               (np.moveaxis(rgb, -1, 0)[None, :, None], c32, weights, 2),  # channel-last: interleaved rows
               (x, c64, window_weights(7, 1.5, False), 2),  # 8-bit images under a uniform window: exact sums
               (vol, c32, weights, 3), (x.T, c32, weights, 2)]
    for a, consts, w, nd in refused:
        a5 = a[None, None] if a.ndim == nd else a
        a5 = a5[:, :, None] if nd == 2 and a5.ndim == 4 else a5
        assert not halving_fuses(a5, a5, nd, w, consts)
        assert ssim_means(a5, a5, nd, w, consts, want_cs="only", halve="block")[2] is None


@pytest.mark.parametrize("preset", [None, "torchmetrics", "monai"])
def test_ms_ssim_is_the_same_halved_in_the_kernel_or_apart(monkeypatch, preset):
    """MS-SSIM with the halving in its SSIM kernel equals, bit for bit, MS-SSIM with the halving
    kernel between the scales (the kernel told not to halve): grey and colour, odd sides, uint8 and
    float32, Wang's rule and the 'floor' rule of torchmetrics and MONAI."""
    from fastssim.kernels import engine_ms

    rng = np.random.default_rng(2)
    pairs = []
    for x in (camera()[:301, :263], colour()[:200, :333]):
        y = np.clip(x + rng.normal(0, 15, x.shape), 0, 255).astype(np.uint8)
        pairs += [(x, y), (x / np.float32(255), y / np.float32(255))]
    kw = {} if preset is None else {"preset": preset}
    if preset == "monai":
        from fastssim.compat import monai

        def score(x, y, **kw):
            t = [torch.from_numpy(np.ascontiguousarray(a.astype(np.float32))).movedim(-1, 0)[None]
                 if a.ndim == 3 else torch.from_numpy(a.astype(np.float32))[None, None] for a in (x, y)]
            return monai.MultiScaleSSIMMetric(spatial_dims=2, data_range=255.0, kernel_size=7)(*t).numpy()
        torch = pytest.importorskip("torch")
    else:
        def score(x, y, **kw):
            return fastssim.ms_ssim(x, y, data_range=255 if x.dtype == np.uint8 else 1.0,
                                    channel_axis=-1 if x.ndim == 3 else None, **kw)
    monkeypatch.setattr(cfg, "KEPT_CALLS", 0)  # every call prepares its own (`ssim_plan.take`)
    real = engine_ms.prepare_ssim_means
    halved = []

    def seen(*args, **kwargs):
        call = real(*args, **kwargs)
        halved.append(call.halved is not None)
        return call
    monkeypatch.setattr(engine_ms, "prepare_ssim_means", seen)
    fused = [score(x, y, **kw) for x, y in pairs]
    assert any(halved)  # the kernel halved
    calls = []

    def apart(*args, halve=None, **kwargs):
        calls.append(halve)
        return real(*args, **kwargs)
    monkeypatch.setattr(engine_ms, "prepare_ssim_means", apart)
    for (x, y), want in zip(pairs, fused):
        np.testing.assert_array_equal(score(x, y, **kw), want)
    assert "block" in calls or "floor" in calls  # the kernel was asked to halve, and did not


def test_halved_scales_share_one_kernel_plan(monkeypatch, plans_made):
    """MS-SSIM derives the kernel's call once for its halved scales (`ssim_plan.Plan`, kept under
    `plan_key`): one plan for a float32 pair (its first scale of the same kind), two for uint8 or
    channel-last colour (the first scale its own) and for torchmetrics' rule (its reflected last
    scale its own); and the numbers, bit for bit,
    of every scale deriving its own (grey, colour, a volume, Wang's rule and torchmetrics')."""
    from fastssim.kernels import engine

    rng = np.random.default_rng(4)
    x = camera()[:203, :187]
    y = np.clip(x + rng.normal(0, 15, x.shape), 0, 255).astype(np.uint8)
    xf, yf = x / np.float32(255), y / np.float32(255)
    v = rng.random((45, 48, 44), dtype=np.float32)
    vd = np.clip(v + 0.1 * rng.standard_normal(v.shape), 0, 1).astype(np.float32)
    c, cd = colour()[:200, :190], np.clip(colour()[:200, :190] + rng.normal(0, 9, (200, 190, 3)), 0, 255).astype(
        np.uint8)
    calls = [
        ("float32", 1, 5, lambda: fastssim.ms_ssim(xf, yf, data_range=1.0)),
        ("uint8", 2, 5, lambda: fastssim.ms_ssim(x, y)),
        ("torchmetrics", 2, 5, lambda: fastssim.ms_ssim(xf, yf, data_range=1.0, preset="torchmetrics")),
        ("RGB", 2, 5, lambda: fastssim.ms_ssim(c, cd, channel_axis=-1)),
        ("volume", 1, 3, lambda: fastssim.ms_ssim(v, vd, data_range=1.0, weights=W3)),
    ]
    monkeypatch.setattr(cfg, "KEPT_CALLS", 0)  # every call prepares its own (`ssim_plan.take`)
    made = plans_made
    values = {}
    for name, plans, _, call in calls:
        made.clear()
        values[name] = call()
        assert len(made) == plans, name
    monkeypatch.setattr(engine, "plan_key", lambda *args: None)  # each call derives its own
    for name, _, scales, call in calls:
        made.clear()
        assert call() == values[name], name
        assert len(made) == scales, name
    assert all(0.5 < values[name] < 0.999 for name in values)


def test_plans_are_kept_only_for_their_kind():
    """`plan_key` keeps a plan only for plain calls on C-contiguous arrays of the work dtype whose
    spatial axes all have two samples or more (what its plan does not depend on otherwise)."""
    from fastssim.kernels.engine import kernel_constants
    from fastssim.kernels.math import window_weights
    from fastssim.kernels.ssim_plan import plan_key

    w = window_weights(7, 1.5, True)
    f32 = kernel_constants(1.0, 0.01, 0.03, 1.0, np.dtype(np.float32))
    a = np.zeros((1, 1, 1, 30, 40), np.float32)
    key = plan_key(a, a, 2, w, f32, False, None, 0, "symmetric", "block")
    assert key is not None and key == plan_key(a[..., :20, :10].copy(), a[..., :20, :10].copy(), 2, w, f32, False,
                                               None, 0, "symmetric", "block")
    assert key != plan_key(a, a, 2, w.copy(), f32, False, None, 0, "symmetric", "block")  # another window
    assert key != plan_key(a, a, 2, w, f32, False, None, 3, "symmetric", "block")  # padded
    assert key != plan_key(a, a, 2, w, f32, False, None, 0, "symmetric", "floor")  # another halving
    for x5, consts, want_map, mask in [
        (a.transpose(0, 1, 2, 4, 3), f32, False, None),  # not C-contiguous
        (a.astype(np.uint8), f32, False, None),  # not the work dtype
        (a, kernel_constants(1.0, 0.01, 0.03, 1.0, np.dtype(np.float64)), False, None),
        (a[..., :1, :], f32, False, None),  # one row
        (a, f32, True, None),  # a map
        (a, f32, False, np.ones(1, np.uint8)),  # a mask
    ]:
        assert plan_key(x5, x5, 2, w, consts, want_map, mask, 0, "symmetric", "block") is None
