"""The SSIM gradient: exact (finite differences), MATLAB's reference, scikit-image's formula."""

import numpy as np
import pytest
from skimage.metrics import structural_similarity as sk

import fastssim
from fastssim.integrations.skimage import structural_similarity as compat
from images import DISTORTIONS, camera, refdata, need


def noisy_camera():
    cam = camera()
    np.random.seed(5)
    return cam, np.clip(cam + 20.0 * np.random.randn(*cam.shape), 0, 255).astype(np.uint8)


def test_matlab_reference_gradient():
    ref = np.load(refdata("matlab-camera", "mssim_matlab_output.npz"))
    cam, noisy = noisy_camera()
    value, grad = fastssim.ssim_with_gradient(cam, noisy, preset="matlab")
    assert value == pytest.approx(float(ref["mssim_matlab"][0, 0]), abs=1e-7)
    g = ref["grad_matlab"]
    scale = np.abs(g).max()
    np.testing.assert_allclose(grad[5:-5, 5:-5], g[5:-5, 5:-5], rtol=0, atol=1e-6 * scale)
    np.testing.assert_allclose(grad, g, rtol=0, atol=1e-6 * scale)  # borders too (zero padding)


def _finite_differences(f, y, points, h=1e-5):
    out = []
    for p in points:
        yp, ym = y.copy(), y.copy()
        yp[p] += h
        ym[p] -= h
        out.append((f(yp) - f(ym)) / (2 * h))
    return np.array(out)


@pytest.mark.parametrize("kw", [
    dict(),
    dict(win_size=5, gaussian=False, sample_covariance=True),
    dict(K1=0.05, K2=0.1, sigma=1.0, win_size=9),
])
def test_exact_gradient_matches_finite_differences(kw):
    rng = np.random.default_rng(0)
    x = camera()[100:130, 200:236].astype(np.float64) / 255
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    value, grad = fastssim.ssim_with_gradient(x, y, data_range=1.0, **kw)
    assert value == pytest.approx(fastssim.ssim(x, y, data_range=1.0, **kw), abs=1e-12)
    points = [(0, 0), (0, 35), (4, 7), (15, 18), (29, 35), (12, 0)]
    fd = _finite_differences(lambda yy: fastssim.ssim(x, yy, data_range=1.0, **kw), y, points)
    np.testing.assert_allclose([grad[p] for p in points], fd, rtol=1e-5, atol=1e-9)


def test_gradient_3d_and_channels():
    rng = np.random.default_rng(1)
    v = rng.random((12, 13, 14))
    w = np.clip(v + 0.1 * rng.standard_normal(v.shape), 0, 1)
    _, grad = fastssim.ssim_with_gradient(v, w, data_range=1.0, win_size=5)
    points = [(0, 0, 0), (6, 6, 6), (11, 12, 13)]
    fd = _finite_differences(lambda a: fastssim.ssim(v, a, data_range=1.0, win_size=5), w, points)
    np.testing.assert_allclose([grad[p] for p in points], fd, rtol=1e-5, atol=1e-9)
    c = rng.random((20, 21, 3))
    d = np.clip(c + 0.1 * rng.standard_normal(c.shape), 0, 1)
    _, grad = fastssim.ssim_with_gradient(c, d, data_range=1.0, win_size=7, channel_axis=-1)
    assert grad.shape == c.shape
    points = [(0, 0, 0), (10, 10, 1), (19, 20, 2)]
    fd = _finite_differences(lambda a: fastssim.ssim(c, a, data_range=1.0, win_size=7, channel_axis=-1), d, points)
    np.testing.assert_allclose([grad[p] for p in points], fd, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("kw", [dict(), dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False),
                                dict(full=True), dict(channel_axis=-1)])
def test_compat_gradient_is_skimage(kw):
    x = camera() if "channel_axis" not in kw else np.stack([camera()] * 3, -1)[:200, :220]
    y = DISTORTIONS["noise"](x)
    ref = sk(x, y, gradient=True, data_range=255, **kw)
    got = compat(x, y, gradient=True, data_range=255, **kw)
    assert len(got) == len(ref)
    assert got[0] == pytest.approx(ref[0], abs=1e-12)
    np.testing.assert_allclose(got[1], ref[1], rtol=0, atol=1e-15)
    assert got[1].dtype == ref[1].dtype
    if kw.get("full"):
        np.testing.assert_allclose(got[2], ref[2], rtol=0, atol=1e-10)


def test_gradient_errors():
    x = camera()[:32, :32]
    with pytest.raises(ValueError, match="supports preset None, 'wang' or 'matlab', got 'skimage'"):
        fastssim.ssim_with_gradient(x, x, preset="skimage")


def _separable_reference(x, y, **kw):
    """The unfused path (full-size float64 moments through the separable filter) on the same
    prepared planes: the reference the fused 2-D kernels must equal."""
    from fastssim.kernels import engine_gradient as _engine
    from fastssim.metrics.structural import _prepare

    job = _prepare(x, y, batch=False, spatial_ndim=None, channel_axis=kw.get("channel_axis"), data_range=1.0,
                   win_size=kw.get("win_size", 11), sigma=1.5, gaussian=True, K1=0.01, K2=0.03,
                   sample_covariance=False, backend="cpu", preset=None)
    means, grad = _engine.ssim_gradient(job.x5, job.y5, 2, job.weights, job.consts.astype(np.float64))
    from fastssim.conventions import checks as v

    return means.mean(), v.from_5d(grad / grad.shape[1], 2, job.ca)


@pytest.mark.parametrize("name", ["camera", "astronaut"])
def test_fused_gradient_equals_the_separable_path_and_float32_stays_close(name, rgb_img):
    img = camera() if name == "camera" else rgb_img
    kw = {} if img.ndim == 2 else {"channel_axis": -1}
    x = img.astype(np.float64) / 255
    y = np.clip(x + np.random.default_rng(2).normal(0, 0.05, x.shape), 0, 1)
    y = y.astype(np.float32).astype(np.float64)  # values float32 holds exactly, for the comparison below
    want_value, want = _separable_reference(x.astype(np.float32).astype(np.float64), y, **kw)
    value, grad = fastssim.ssim_with_gradient(x.astype(np.float32).astype(np.float64), y, data_range=1.0, **kw)
    assert grad.dtype == np.float64 and value == pytest.approx(want_value, rel=1e-13)
    assert np.abs(grad - want).max() <= 1e-12 * np.abs(want).max()
    v32, g32 = fastssim.ssim_with_gradient(x.astype(np.float32), y.astype(np.float32), data_range=1.0, **kw)
    assert g32.dtype == np.float32 and v32 == pytest.approx(want_value, rel=1e-6)
    assert np.abs(g32 - want).max() <= 1e-5 * np.abs(want).max()  # float32 work, float64 moments


@pytest.mark.parametrize("win_size", [3, 5, 11])
def test_fused_gradient_over_many_bands_and_short_windows(win_size):
    """Planes cut into several bands of rows and of columns, each with a remainder (140 x 610), and
    windows under four taps (their ring filters one output row per sweep): the separable path's
    numbers, float64 and float32."""
    from fastssim import config as cfg

    x = camera()[:140].astype(np.float64) / 255
    x = np.concatenate([x, x[:, ::-1][:, :98]], axis=1)  # 140 x 610
    assert x.shape[0] - win_size + 1 > cfg.GRAD_BAND_H and x.shape[1] - win_size + 1 > 2 * cfg.GRAD_BAND_W
    y = np.clip(x + np.random.default_rng(12).normal(0, 0.05, x.shape), 0, 1).astype(np.float32).astype(np.float64)
    x = x.astype(np.float32).astype(np.float64)
    want_value, want = _separable_reference(x, y, win_size=win_size)
    value, grad = fastssim.ssim_with_gradient(x, y, data_range=1.0, win_size=win_size)
    assert value == pytest.approx(want_value, rel=1e-13)
    assert np.abs(grad - want).max() <= 1e-12 * np.abs(want).max()
    v32, g32 = fastssim.ssim_with_gradient(x.astype(np.float32), y.astype(np.float32), data_range=1.0,
                                           win_size=win_size)
    assert v32 == pytest.approx(want_value, rel=1e-6)
    assert np.abs(g32 - want).max() <= 1e-5 * np.abs(want).max()


def test_successive_gradients_share_no_memory_and_the_kept_buffers_stay_under_their_cap(monkeypatch):
    """The derivative maps' buffers are kept per thread for the next call: a gradient returned
    earlier is not touched by later calls, and what is kept stays under ``GRAD_SCRATCH_BYTES``
    (larger maps are allocated each time), with the same numbers either way."""
    from fastssim import config as cfg
    from fastssim.kernels import engine_gradient

    rng = np.random.default_rng(13)
    pairs = [(rng.random(shape, dtype=np.float32), rng.random(shape, dtype=np.float32))
             for shape in ((60, 70), (60, 70), (90, 40), (200, 210))]
    first = [fastssim.ssim_with_gradient(a, b, data_range=1.0) for a, b in pairs]
    kept = [g.copy() for _, g in first]
    again = [fastssim.ssim_with_gradient(a, b, data_range=1.0) for a, b in pairs[::-1]][::-1]
    for (v0, g0), g_kept, (v1, g1) in zip(first, kept, again):
        assert np.array_equal(g0, g_kept) and np.array_equal(g1, g0) and v1 == v0
        assert not any(np.shares_memory(g0, g) for _, g in again)
    maps_bytes = 3 * 4 * (60 - 10) * (70 - 10)  # the first shape's three float32 maps
    monkeypatch.setattr(cfg, "GRAD_SCRATCH_BYTES", maps_bytes)
    engine_gradient._SCRATCH.maps = {}
    for (a, b), (v0, g0) in zip(pairs, first):
        v, g = fastssim.ssim_with_gradient(a, b, data_range=1.0)
        assert v == v0 and np.array_equal(g, g0)
        held = sum(3 * m[0].nbytes for m in engine_gradient._SCRATCH.maps.values())
        assert held <= maps_bytes
    # (90, 40)'s maps fit beside nothing else: the first shape's were dropped for them; (200, 210)'s exceed the cap
    assert list(engine_gradient._SCRATCH.maps) == [((1, 80, 30), "<f4")]


def test_gradients_computed_in_threads_at_once_equal_the_serial_ones():
    """Each thread keeps its own map buffers: calls from several threads at once, of one shape and
    of several, give bitwise the numbers of the same calls made one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(14)
    pairs = [(rng.random(shape, dtype=np.float32), rng.random(shape, dtype=np.float32))
             for shape in [(128, 128)] * 4 + [(100, 150), (150, 100)] * 2]
    serial = [fastssim.ssim_with_gradient(a, b, data_range=1.0) for a, b in pairs]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            threaded = list(pool.map(lambda p: fastssim.ssim_with_gradient(*p, data_range=1.0), pairs))
            for (v0, g0), (v1, g1) in zip(serial, threaded):
                assert v1 == v0 and np.array_equal(g1, g0)


def test_fused_gradient_memory_is_a_few_inputs():
    """float32 input: three derivative maps and the gradient in float32, no float64 copies (the
    unfused path needed about 40 times the input)."""
    import tracemalloc

    rng = np.random.default_rng(3)
    a = rng.random((1024, 1024), dtype=np.float32)
    b = (a + np.float32(0.1) * rng.random((1024, 1024), dtype=np.float32)).astype(np.float32)
    fastssim.ssim_with_gradient(a[:64, :64], b[:64, :64], data_range=1.0)  # compiled outside the measurement
    tracemalloc.start()
    fastssim.ssim_with_gradient(a, b, data_range=1.0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5 * a.nbytes, peak / a.nbytes


@pytest.mark.parametrize("case", ["grey", "rgb", "volumes", "float32"])
def test_batch_gradient_is_each_pairs_gradient(case, rgb_img):
    rng = np.random.default_rng(4)
    if case == "volumes":
        x = rng.random((3, 9, 20, 22))
        kw = dict(spatial_ndim=3, win_size=5)
    elif case == "rgb":
        x = np.stack([rgb_img[i:i + 40, 2 * i:2 * i + 48] for i in (0, 100, 200)]).astype(np.float64) / 255
        kw = dict(channel_axis=-1)
    else:
        x = np.stack([camera()[i:i + 40, i:i + 50] for i in (0, 150, 300, 420)]).astype(np.float64) / 255
        kw = {}
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    if case == "float32":
        x, y = x.astype(np.float32), y.astype(np.float32)
    values, grads = fastssim.ssim_batch_with_gradient(x, y, data_range=1.0, **kw)
    assert grads.shape == y.shape and grads.dtype == (np.float32 if case == "float32" else np.float64)
    np.testing.assert_allclose(values, fastssim.ssim_batch(x, y, data_range=1.0, **kw), rtol=1e-6 if case == "float32"
                               else 1e-12)
    one = {k: w for k, w in kw.items() if k != "spatial_ndim"}
    for i in range(len(x)):
        value, grad = fastssim.ssim_with_gradient(x[i], y[i], data_range=1.0, **one)
        assert values[i] == pytest.approx(value, rel=1e-12)
        np.testing.assert_allclose(grads[i], grad, rtol=1e-12 if case != "float32" else 1e-6,
                                   atol=1e-12 * np.abs(grad).max())  # the same kernels; the plane means' order
    with pytest.raises(ValueError, match="spatial_ndim must be 2 or 3"):
        fastssim.ssim_batch_with_gradient(x, y, data_range=1.0, spatial_ndim=4)


def test_ms_ssim_gradient_matches_finite_differences_on_odd_sizes():
    rng = np.random.default_rng(6)
    cam = camera().astype(np.float64) / 255
    x = np.stack([cam[:200, :190], cam[100:300, 50:240]])  # odd sizes appear from the second scale on
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    values, grads = fastssim.ms_ssim_batch_with_gradient(x, y, data_range=1.0)
    np.testing.assert_allclose(values, fastssim.ms_ssim_batch(x, y, data_range=1.0), rtol=1e-12)
    for n in range(2):
        points = [(100, 95), (57, 3), (120, 181), (199, 0), (5, 189)]
        fd = _finite_differences(lambda a: fastssim.ms_ssim(x[n], a, data_range=1.0), y[n], points)
        np.testing.assert_allclose([grads[n][p] for p in points], fd, rtol=1e-4, atol=3e-10)
    v32, g32 = fastssim.ms_ssim_batch_with_gradient(x.astype(np.float32), y.astype(np.float32), data_range=1.0)
    assert g32.dtype == np.float32
    v64, g64 = fastssim.ms_ssim_batch_with_gradient(x.astype(np.float32).astype(np.float64),
                                                    y.astype(np.float32).astype(np.float64), data_range=1.0)
    np.testing.assert_allclose(v32, v64, rtol=1e-6)
    assert np.abs(g32 - g64).max() <= 1e-5 * np.abs(g64).max()
    with pytest.raises(ValueError, match="161"):
        fastssim.ms_ssim_batch_with_gradient(x[:, :100], y[:, :100], data_range=1.0)


def test_ms_ssim_gradient_equals_pytorch_msssim(rgb_img):
    torch = need("torch")
    pm = need("pytorch_msssim")
    from fastssim.kernels.math import window_weights

    x = np.moveaxis(rgb_img[:256, 128:384], -1, 0)[None].astype(np.float64) / 255  # even sizes: the same pyramid
    y = np.clip(x + np.random.default_rng(7).normal(0, 0.04, x.shape), 0, 1)
    values, grads = fastssim.ms_ssim_batch_with_gradient(x, y, data_range=1.0, channel_axis=0)
    win = torch.from_numpy(window_weights(11, 1.5, True).copy()).reshape(1, 1, 1, 11).repeat(3, 1, 1, 1)
    Y = torch.from_numpy(y).requires_grad_()
    theirs = pm.ms_ssim(torch.from_numpy(x), Y, data_range=1.0, win=win)
    theirs.backward()
    assert values[0] == pytest.approx(theirs.item(), abs=1e-12)
    assert np.abs(grads - Y.grad.numpy()).max() <= 1e-10 * np.abs(grads).max()


def test_ms_ssim_gradient_pytorch_msssim_halving_and_volumes():
    """The gradient through pytorch_msssim's halving (a zero before an odd side's first sample)
    and through the 2x2x2 halving of volumes: equal to central differences of the forward
    value, on odd sizes at every scale."""
    rng = np.random.default_rng(9)
    cam = camera().astype(np.float64) / 255
    x = cam[None, 13:194, 31:220]  # 181 x 189: odd at the first halving
    y = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    values, grads = fastssim.ms_ssim_batch_with_gradient(x, y, data_range=1.0, preset="pytorch_msssim")
    assert values[0] == pytest.approx(fastssim.ms_ssim(x[0], y[0], data_range=1.0, preset="pytorch_msssim"),
                                      abs=1e-13)
    points = [(0, 0), (90, 94), (180, 188), (1, 187), (179, 2)]
    fd = _finite_differences(lambda a: fastssim.ms_ssim(x[0], a, data_range=1.0, preset="pytorch_msssim"), y[0],
                             points)
    np.testing.assert_allclose([grads[0][p] for p in points], fd, rtol=1e-4, atol=3e-10)
    vol = np.stack([cam[i:i + 27, 100:125] for i in range(0, 189, 9)])  # 21 x 27 x 25
    noisy = np.clip(vol + rng.normal(0, 0.05, vol.shape), 0, 1)
    for preset in (None, "pytorch_msssim"):
        kw = dict(data_range=1.0, weights=(0.4, 0.6), preset=preset)
        values, grads = fastssim.ms_ssim_batch_with_gradient(vol[None], noisy[None], spatial_ndim=3, **kw)
        assert values[0] == pytest.approx(fastssim.ms_ssim(vol, noisy, **kw), abs=1e-13)
        points = [(0, 0, 0), (10, 13, 12), (20, 26, 24), (20, 0, 24)]
        fd = _finite_differences(lambda a: fastssim.ms_ssim(vol, a, **kw), noisy, points)
        np.testing.assert_allclose([grads[0][p] for p in points], fd, rtol=1e-4, atol=3e-10)
    with pytest.raises(ValueError, match="supports preset"):
        fastssim.ms_ssim_batch_with_gradient(x, y, data_range=1.0, preset="torchmetrics")


def _gathered(g, shape, pad):
    """The gradient ``g`` of planes of ``shape`` extended by PyTorch's reflection gathered back onto
    the planes (the reflection's transpose): each extended sample's share added to the sample it
    copies, by NumPy's own reflection of the samples' indices."""
    index = np.pad(np.arange(int(np.prod(shape))).reshape(shape), [(0, 0)] + [(pad, pad)] * (len(shape) - 1),
                   mode="reflect")
    back = np.zeros(int(np.prod(shape)), dtype=np.float64)
    np.add.at(back, index.reshape(-1), np.asarray(g, dtype=np.float64).reshape(-1))
    return back.reshape(shape)


@pytest.mark.parametrize("shape, pad, win, bands", [
    ((2, 9, 11), 4, 9, None), ((3, 40, 33), 5, 11, None), ((2, 7, 8, 9), 3, 7, None),
    ((1, 20, 13), 5, 11, (3, 4)), ((2, 27, 31), 2, 5, (5, 7)), ((1, 6, 7, 8), 5, 11, None),
    ((2, 12, 17), 1, 3, (1, 1))])
def test_the_gradient_through_a_reflection_is_folded_in_the_kernels(shape, pad, win, bands, monkeypatch):
    """The planes extended by PyTorch's reflection are read in place by both gradient passes and
    the gradient folded back onto the samples it copies in the backward kernel (no padded copy):
    the values and gradient of a padded copy's, gathered back by NumPy's reflection of the indices
    (float64, to 1e-12), for SSIM, the contrast-structure term and a map's vector-Jacobian product.
    2-D and 3-D; sides barely longer than the reflection (reflections overlapping inside a band);
    small bands (``bands``: rows, columns), so that a last band of ``pad`` samples or fewer is
    merged into the one before; a real photograph and its noisy copy."""
    from fastssim import config as cfg
    from fastssim.metrics.planes import ssim_map_planes_vjp, ssim_planes

    if bands:
        monkeypatch.setattr(cfg, "GRAD_BAND_H", bands[0])
        monkeypatch.setattr(cfg, "GRAD_BAND_W", bands[1])
    rng = np.random.default_rng(len(shape) * 10 + pad)
    cam = camera().astype(np.float64) / 255
    x = cam[tuple(slice(40 + 9 * i, 40 + 9 * i + n) for i, n in enumerate(shape[-2:]))]
    x = np.broadcast_to(x, shape) + 0.02 * rng.standard_normal(shape)
    y = np.clip(x + rng.normal(0, 0.05, shape), 0, 1)
    nd = len(shape) - 1
    taps = np.exp(-0.5 * ((np.arange(win) - win // 2) / 1.5) ** 2)
    taps /= taps.sum()
    padded = [np.pad(a, [(0, 0)] + [(pad, pad)] * nd, mode="reflect") for a in (x, y)]
    kw = dict(spatial_ndim=nd, taps=taps, data_range=1.0)
    for cs_only in (False, True):
        values, grad = ssim_planes(x, y, gradient=True, cs_only=cs_only, pad=pad, **kw)
        want_values, want_grad = ssim_planes(*padded, gradient=True, cs_only=cs_only, **kw)
        np.testing.assert_allclose(values, want_values, rtol=1e-13)
        assert grad.shape == shape and np.abs(grad).max() > 0
        np.testing.assert_allclose(grad, _gathered(want_grad, shape, pad), rtol=1e-9,
                                   atol=1e-12 * np.abs(want_grad).max())
    upstream = rng.standard_normal(tuple(n + 2 * pad - win + 1 for n in shape[1:]))
    up = np.concatenate([upstream[None]] * shape[0])
    got = ssim_map_planes_vjp(x, y, up, pad=pad, **kw)
    want = ssim_map_planes_vjp(*padded, up, **kw)
    np.testing.assert_allclose(got, _gathered(want, shape, pad), rtol=1e-9, atol=1e-12 * np.abs(want).max())


def test_a_window_that_does_not_sum_to_one_is_taken_as_it_is():
    """Taps that sum to 1 only within float32 rounding (another library's window): the fused
    kernels' values and gradient equal the raw-moment definition in float64 (a shift by the
    plane's level would not cancel)."""
    from fastssim.kernels.engine import kernel_constants
    from fastssim.kernels.separable import ssim_map_separable
    from fastssim.metrics.planes import ssim_planes

    g = np.exp(-0.5 * ((np.arange(11) - 5) / 1.5) ** 2)
    taps = (g / g.sum()).astype(np.float32).astype(np.float64) * (1 + 3e-7)
    cam = camera().astype(np.float64) / 255
    x = np.stack([cam[:60, :70], cam[200:260, 300:370]])
    y = np.clip(x + np.random.default_rng(10).normal(0, 0.02, x.shape), 0, 1)
    consts = kernel_constants(1.0, 0.01, 0.03, 1.0, np.dtype(np.float64))
    exact = ssim_map_separable(x[:, None, None], y[:, None, None], 2, taps, consts, shift=False).mean(axis=(1, 2, 3, 4))
    values, _ = ssim_planes(x, y, spatial_ndim=2, taps=taps, data_range=1.0)
    np.testing.assert_allclose(values, exact, rtol=0, atol=1e-13)
    values, grad = ssim_planes(x, y, spatial_ndim=2, taps=taps, data_range=1.0, gradient=True)
    np.testing.assert_allclose(values, exact, rtol=0, atol=1e-13)
    points = [(0, 0), (30, 35), (59, 69)]
    fd = _finite_differences(lambda a: ssim_planes(x[1:], a[None], spatial_ndim=2, taps=taps, data_range=1.0)[0][0],
                             y[1], points)
    np.testing.assert_allclose([grad[1][p] for p in points], fd, rtol=1e-4, atol=3e-10)
    shifted, _ = ssim_planes(x, y, spatial_ndim=2, taps=taps / taps.sum(), data_range=1.0)
    assert np.abs(shifted - values).max() > 1e-8  # the unnormalised window changes the number


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradients_on_the_gpu_equal_the_cpus(dtype):
    """The CUDA gradient kernels (the simulator where no GPU is present: small crops) compute
    the same _math terms as the CPU ones."""
    pytest.importorskip("numba.cuda")
    cam = camera().astype(np.float64) / 255
    x = np.stack([cam[:20, :24], cam[100:120, 50:74]])
    y = np.clip(x + np.random.default_rng(0).normal(0, 0.05, x.shape), 0, 1)
    x, y = x.astype(dtype), y.astype(dtype)
    tol = 1e-13 if dtype == np.float64 else 1e-6
    for f, kw in ((fastssim.ssim_batch_with_gradient, dict(win_size=7)),
                  (fastssim.ms_ssim_batch_with_gradient, dict(win_size=3, weights=(0.3, 0.3, 0.4)))):
        vg, gg = f(x, y, data_range=1.0, backend="cuda", **kw)
        vc, gc = f(x, y, data_range=1.0, backend="cpu", **kw)
        assert gg.dtype == gc.dtype == dtype
        np.testing.assert_allclose(vg, vc, rtol=1e-12)
        assert np.abs(gg - gc).max() <= tol * np.abs(gc).max()


def test_fused_3d_gradient_equals_the_separable_path():
    from fastssim.kernels import engine_gradient as _engine
    from fastssim.metrics.structural import _prepare

    rng = np.random.default_rng(8)
    vol = np.stack([camera()[i:i + 40, 100:146] for i in range(0, 130, 10)]).astype(np.float64) / 255  # 13x40x46
    w = np.clip(vol + rng.normal(0, 0.05, vol.shape), 0, 1).astype(np.float32).astype(np.float64)
    vol = vol.astype(np.float32).astype(np.float64)
    value, grad = fastssim.ssim_with_gradient(vol, w, data_range=1.0, win_size=7)
    job = _prepare(vol, w, batch=False, spatial_ndim=None, channel_axis=None, data_range=1.0, win_size=7, sigma=1.5,
                   gaussian=True, K1=0.01, K2=0.03, sample_covariance=False, backend="cpu", preset=None)
    means, want = _engine.ssim_gradient(job.x5, job.y5, 3, job.weights, job.consts.astype(np.float64))
    assert value == pytest.approx(means.mean(), rel=1e-13)
    assert np.abs(grad - want[0, 0]).max() <= 1e-12 * np.abs(want).max()
    v32, g32 = fastssim.ssim_with_gradient(vol.astype(np.float32), w.astype(np.float32), data_range=1.0, win_size=7)
    assert g32.dtype == np.float32 and v32 == pytest.approx(value, rel=1e-6)
    assert np.abs(g32 - want[0, 0]).max() <= 1e-5 * np.abs(want).max()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gpu_arrays_are_read_in_place_and_their_gradient_stays_there(dtype):
    pytest.importorskip("numba.cuda")
    from test_cuda_backend import strided_gpu, to_gpu

    cam = camera().astype(np.float64) / 255
    x = np.stack([np.stack([cam[:20, :24], cam[50:70, :24]]), np.stack([cam[100:120, 50:74], cam[200:220, 50:74]])])
    y = np.clip(x + np.random.default_rng(0).normal(0, 0.05, x.shape), 0, 1)
    x, y = x.astype(dtype), y.astype(dtype)
    values, grad = fastssim.ssim_batch_with_gradient(to_gpu(x), to_gpu(y), data_range=1.0, win_size=7, channel_axis=0)
    want_v, want_g = fastssim.ssim_batch_with_gradient(x, y, data_range=1.0, win_size=7, channel_axis=0)
    assert callable(getattr(grad, "copy_to_host", None)) and tuple(grad.shape) == x.shape  # a device array
    g = grad.copy_to_host()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(values, want_v, rtol=tol)
    assert g.dtype == dtype and np.abs(g - want_g).max() <= tol * np.abs(want_g).max()
    with pytest.raises(ValueError, match="C-contiguous"):
        fastssim.ssim_batch_with_gradient(strided_gpu(x), strided_gpu(y), data_range=1.0, win_size=7, channel_axis=0)
    with pytest.raises(ValueError, match="channel_axis=0"):
        fastssim.ssim_batch_with_gradient(to_gpu(x), to_gpu(y), data_range=1.0, win_size=7, channel_axis=-1)
    with pytest.raises(TypeError, match="ssim_with_gradient takes host"):
        fastssim.ssim_with_gradient(to_gpu(x[0, 0]), to_gpu(y[0, 0]), data_range=1.0)
