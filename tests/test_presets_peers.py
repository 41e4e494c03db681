"""The presets of libraries that install here, run against those libraries on real photographs
(scikit-image's astronaut and coffee): kornia, sewar, torchmetrics' MS-SSIM."""

import warnings

import numpy as np
import pytest

import fastssim
from fastssim.conventions.transforms import YIQ_Y, pyiqa_levels
from images import colour, heavy_noise, noise, need


def _pair(dtype=np.float64, crop=None):
    x = colour()
    y = noise(x, 25.0, seed=3)
    if crop is not None:
        x, y = x[:crop[0], :crop[1]], y[:crop[0], :crop[1]]
    if dtype == np.uint8:
        return x, y
    return x.astype(dtype) / 255, y.astype(dtype) / 255


def _nchw(torch, a):
    return torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0)[None] if a.ndim == 3 else a[None, None]))


@pytest.mark.parametrize("win_size", [7, 11])
def test_kornia(win_size):
    torch = need("torch")
    kornia = need("kornia")
    letterboxed = _pair()
    for a in letterboxed:
        a[:40] = 0  # a black band, as letterboxed frames have: there kornia's eps moves SSIM
    for x, y in (_pair(crop=(256, 288)), _pair(crop=(201, 237)), letterboxed):  # odd sizes too
        X, Y = _nchw(torch, x), _nchw(torch, y)
        got = fastssim.ssim(x, y, channel_axis=-1, preset="kornia", data_range=1.0, win_size=win_size)
        assert got == pytest.approx(float(kornia.metrics.ssim(X, Y, win_size, max_val=1.0).mean()), abs=1e-12)
        loss = float(kornia.losses.ssim_loss(X, Y, win_size, max_val=1.0))
        assert fastssim.dssim(x, y, channel_axis=-1, preset="kornia", data_range=1.0,
                              win_size=win_size) == pytest.approx(loss, abs=1e-12)
    # the black band's windows are where kornia's eps (1e-12) counts: without it, 4e-6 away
    without = float(kornia.metrics.ssim(X, Y, win_size, max_val=1.0, eps=0.0).mean())
    assert abs(got - without) > 1e-7
    # uint8 data with kornia's max_val=255 (kornia does not rescale)
    x8, y8 = _pair(np.uint8, (256, 288))
    ref = float(kornia.metrics.ssim(_nchw(torch, x8).double(), _nchw(torch, y8).double(), win_size,
                                    max_val=255.0).mean())
    assert fastssim.ssim(x8, y8, channel_axis=-1, preset="kornia", win_size=win_size) == pytest.approx(ref, abs=1e-6)


def test_kornia_volumes():
    torch = need("torch")
    kornia = need("kornia")
    v = colour()[100:140, 200:250].astype(np.float64) / 255
    vol = np.stack([v[..., 0], v[..., 1], v[..., 2], v.mean(axis=2)] * 3)  # a (12, 40, 50) volume
    dist = np.clip(vol + np.random.default_rng(4).normal(0, 0.05, vol.shape), 0, 1)
    vol[:, :, :9] = dist[:, :, :9] = 0  # a black side: where kornia's eps counts
    ref = float(kornia.metrics.ssim3d(torch.from_numpy(vol[None, None]), torch.from_numpy(dist[None, None]), 5,
                                      max_val=1.0).mean())
    assert fastssim.ssim(vol, dist, preset="kornia", win_size=5, data_range=1.0) == pytest.approx(ref, abs=1e-12)


def test_sewar():
    sewar = pytest.importorskip("sewar.full_ref")
    for dtype, tol in ((np.float64, 1e-12), (np.uint8, 1e-12)):  # float64 for uint8 too, as sewar computes
        x, y = _pair(dtype)
        # sewar reads (H, W, C) and grey (H, W); floats in [0, 1], integers by their dtype's max
        assert fastssim.ssim(x, y, channel_axis=-1, preset="sewar") == pytest.approx(sewar.ssim(x, y)[0], abs=tol)
        assert fastssim.ssim(x[..., 1], y[..., 1], preset="sewar") == pytest.approx(
            sewar.ssim(x[..., 1], y[..., 1])[0], abs=tol)
        for crop in ((256, 288), (201, 237)):
            xs, ys = x[:crop[0], :crop[1]], y[:crop[0], :crop[1]]
            # msssim: a Gaussian window, halving by scipy's uniform_filter(., 2)[::2, ::2] over
            # all three axes (so the channels mix), channels pooled, complex powers
            assert fastssim.ms_ssim(xs, ys, channel_axis=-1, preset="sewar") == pytest.approx(
                sewar.msssim(xs, ys), abs=tol)
            assert fastssim.ms_ssim(xs[..., 0], ys[..., 0], preset="sewar") == pytest.approx(
                sewar.msssim(xs[..., 0], ys[..., 0]), abs=tol)


def test_sewar_small_images_and_negative_terms():
    sewar = pytest.importorskip("sewar.full_ref")
    x, y = _pair(crop=(100, 120))
    with pytest.warns(UserWarning, match="Reducing to 4 scales"):
        got = fastssim.ms_ssim(x, y, channel_axis=-1, preset="sewar")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert got == pytest.approx(sewar.msssim(x, y), abs=1e-12)
    # an inverted image: negative contrast-structure terms; sewar keeps the real part of the
    # complex product, where Wang's convention clamps at 0
    g = colour()[..., 0].astype(np.float64) / 255
    got = fastssim.ms_ssim(g, 1 - g, preset="sewar")
    assert got < 0 and got == pytest.approx(sewar.msssim(g, 1 - g), abs=1e-12)
    assert fastssim.ms_ssim(g, 1 - g, data_range=1.0) >= 0
    with pytest.raises(ValueError, match="win_size=11 exceeds the image extent"):
        fastssim.ms_ssim(g[:10, :40], g[:10, :40], preset="sewar")


def test_torchmetrics_ms_ssim():
    torch = need("torch")
    tm = pytest.importorskip("torchmetrics.functional.image")
    for crop in ((256, 288), (201, 237)):  # odd sizes: avg_pool2d drops the last row/column
        x, y = _pair(crop=crop)
        X, Y = _nchw(torch, x), _nchw(torch, y)
        ref = float(tm.multiscale_structural_similarity_index_measure(X, Y))
        # the data range recomputed from every scale's images, channels pooled per scale,
        # the last scale's SSIM over the reflect-padded full map
        assert fastssim.ms_ssim(x, y, channel_axis=-1, preset="torchmetrics") == pytest.approx(ref, abs=1e-12)
        ref = float(tm.multiscale_structural_similarity_index_measure(X, Y, data_range=1.0))
        assert fastssim.ms_ssim(x, y, channel_axis=-1, preset="torchmetrics", data_range=1.0) == pytest.approx(
            ref, abs=1e-12)
        assert abs(fastssim.ms_ssim(x, y, channel_axis=-1, data_range=1.0) - ref) > 1e-4
    with pytest.raises(ValueError, match="at least 176 long"):
        fastssim.ms_ssim(x[:170], y[:170], channel_axis=-1, preset="torchmetrics")


def test_torchmetrics_sigma_and_batch_ranges():
    torch = need("torch")
    tm = pytest.importorskip("torchmetrics.functional.image")
    x, y = _pair(crop=(200, 220))
    X, Y = _nchw(torch, x), _nchw(torch, y)
    for sigma in (0.8, 2.0, (1.5, 2.5), (0.8, 1.5)):  # taps follow sigma, 2 int(3.5 sigma + 0.5) + 1; per axis too
        ref = float(tm.structural_similarity_index_measure(X, Y, sigma=sigma))
        assert fastssim.ssim(x, y, channel_axis=-1, preset="torchmetrics", sigma=sigma) == pytest.approx(ref, abs=1e-12)
    # a batch whose pairs have different spans: torchmetrics takes the range over the batch
    xs = np.stack([x[..., 0], 0.5 * x[..., 1], x[..., 2]])
    ys = np.stack([y[..., 0], 0.5 * y[..., 1], heavy_noise(colour())[:200, :220, 2] / 255])
    XS, YS = torch.from_numpy(xs[:, None]), torch.from_numpy(ys[:, None])
    batch = fastssim.ssim_batch(xs, ys, preset="torchmetrics")
    np.testing.assert_allclose(batch, tm.structural_similarity_index_measure(XS, YS, reduction="none").numpy(),
                               rtol=0, atol=1e-12)
    per_pair = fastssim.ssim_batch(xs, ys, preset="torchmetrics", data_range="per-pair")
    np.testing.assert_allclose(per_pair, [float(tm.structural_similarity_index_measure(XS[i:i + 1], YS[i:i + 1]))
                                          for i in range(3)], rtol=0, atol=1e-12)
    assert abs(per_pair[1] - batch[1]) > 1e-4  # the half-range pair is where the rules differ
    ms = fastssim.ms_ssim_batch(np.pad(xs, ((0, 0), (0, 0), (0, 0))), ys, preset="torchmetrics")
    np.testing.assert_allclose(ms, tm.multiscale_structural_similarity_index_measure(
        XS, YS, reduction="none", betas=(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)).numpy(), rtol=0, atol=1e-12)
    # one vocabulary (issue 35): 'pair' is the rule's name everywhere; 'per-pair' its old spelling
    np.testing.assert_array_equal(fastssim.ssim_batch(xs, ys, preset="torchmetrics", data_range="pair"), per_pair)
    with pytest.warns(DeprecationWarning, match="data_range='per-pair' is now spelled 'pair'"):
        fastssim.ssim_batch(xs, ys, preset="torchmetrics", data_range="per-pair")


def _ffmpeg_transcription(a, b, max_value, exact=False):
    """ffmpeg's vf_ssim.c, transcribed in integers: 4x4 block sums, 8x8 windows of 2x2 blocks,
    ssim_end1's formula with constants rounded to integers per sum of 64 samples."""
    a, b = a.astype(np.int64), b.astype(np.int64)
    h4, w4 = a.shape[0] // 4, a.shape[1] // 4

    def blocks(v):
        return v[:4 * h4, :4 * w4].reshape(h4, 4, w4, 4).sum(axis=(1, 3))

    def windows(v):
        return v[:-1, :-1] + v[1:, :-1] + v[:-1, 1:] + v[1:, 1:]

    s1, s2 = windows(blocks(a)), windows(blocks(b))
    ss, s12 = windows(blocks(a * a) + blocks(b * b)), windows(blocks(a * b))
    c1, c2 = 0.01 ** 2 * max_value ** 2 * 64, 0.03 ** 2 * max_value ** 2 * 64 * 63
    if not exact:
        c1, c2 = int(c1 + 0.5), int(c2 + 0.5)
    var = ss * 64 - s1 * s1 - s2 * s2
    cov = s12 * 64 - s1 * s2
    num = (2 * s1 * s2 + c1).astype(np.float64) * (2 * cov + c2)
    return float(np.mean(num / ((s1 * s1 + s2 * s2 + c1).astype(np.float64) * (var + c2))))


@pytest.mark.parametrize("crop", [(256, 288), (201, 237), (11, 14)])
def test_ffmpeg_preset_is_vf_ssim(crop):
    x, y = _pair(np.uint8, crop)
    want = np.mean([_ffmpeg_transcription(x[..., k], y[..., k], 255) for k in range(3)])
    assert fastssim.ssim(x, y, channel_axis=-1, preset="ffmpeg") == pytest.approx(want, abs=1e-12)
    assert fastssim.ssim(x[..., 0], y[..., 0], preset="ffmpeg") == pytest.approx(
        _ffmpeg_transcription(x[..., 0], y[..., 0], 255), abs=1e-12)
    # 16-bit planes: max 65535 (pass data_range=1023 for 10-bit video in uint16)
    x16, y16 = x[..., 1].astype(np.uint16) * 257, y[..., 1].astype(np.uint16) * 251
    assert fastssim.ssim(x16, y16, preset="ffmpeg") == pytest.approx(
        _ffmpeg_transcription(x16, y16, 65535), abs=1e-12)
    assert fastssim.ssim(x16 // 64, y16 // 64, preset="ffmpeg", data_range=1023) == pytest.approx(
        _ffmpeg_transcription(x16 // 64, y16 // 64, 1023), abs=1e-12)
    # float data: ffmpeg's formula with its constants left unrounded
    assert fastssim.ssim(x / 255, y / 255, channel_axis=-1, preset="ffmpeg", data_range=1.0) == pytest.approx(
        np.mean([_ffmpeg_transcription(x[..., k], y[..., k], 255, exact=True) for k in range(3)]), abs=1e-12)
    # a batch, and the GPU kernel (the simulator here) on a crop
    xs, ys = np.stack([x[..., 0], x[..., 2]]), np.stack([y[..., 0], y[..., 2]])
    np.testing.assert_allclose(fastssim.ssim_batch(xs, ys, preset="ffmpeg"),
                               [_ffmpeg_transcription(xs[i], ys[i], 255) for i in range(2)], rtol=0, atol=1e-12)
    small = (x[:20, :27, 0], y[:20, :27, 0])
    assert fastssim.ssim(*small, preset="ffmpeg", backend="cuda") == pytest.approx(
        _ffmpeg_transcription(*small, 255), abs=1e-12)


def test_ffmpeg_preset_errors():
    vol = np.zeros((12, 16, 16), np.uint8)
    with pytest.raises(ValueError, match="preset 'ffmpeg' scores 2-D planes: for a volume use ssim_slices"):
        fastssim.ssim(vol, vol, preset="ffmpeg")
    with pytest.raises(ValueError, match="win_size=8 exceeds the image extent"):
        fastssim.ssim(vol[0, :7], vol[0, :7], preset="ffmpeg")
    with pytest.raises(ValueError, match="preset 'ffmpeg' defines no MS-SSIM convention"):
        fastssim.ms_ssim(vol[0], vol[0], preset="ffmpeg")


def _ffmpeg_filter(tmp_path, a, b):
    """Per-plane and 'All' SSIM printed by the ffmpeg binary's ssim filter for two images."""
    import re
    import subprocess

    import imageio.v3 as iio
    pa, pb = tmp_path / "a.png", tmp_path / "b.png"
    iio.imwrite(pa, a)
    iio.imwrite(pb, b)
    out = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(pa), "-i", str(pb), "-lavfi",
                          "ssim=stats_file=-", "-f", "null", "-"], capture_output=True, text=True, check=True)
    return {k: float(v) for k, v in re.findall(r"(\w+):([0-9.]+)", out.stdout.splitlines()[0]) if k != "n"}


def test_ffmpeg_preset_against_ffmpeg(tmp_path):
    import shutil
    if shutil.which("ffmpeg") is None:
        pytest.skip("the ffmpeg binary is not installed (Debian package ffmpeg; .ci/run installs it)")
    for crop in ((256, 288), (201, 237)):
        x, y = _pair(np.uint8, crop)
        got = _ffmpeg_filter(tmp_path, x, y)  # RGB PNGs: planes G, B, R (gbrp), 'All' their mean
        assert fastssim.ssim(x, y, channel_axis=-1, preset="ffmpeg") == pytest.approx(got["All"], abs=1e-6)
        for k, name in enumerate("RGB"):
            assert fastssim.ssim(x[..., k], y[..., k], preset="ffmpeg") == pytest.approx(got[name], abs=1e-6)
        g16 = x[..., 1].astype(np.uint16) * 257
        d16 = np.clip(g16.astype(np.int64) + np.random.default_rng(5).integers(-900, 900, g16.shape), 0, 65535)
        got = _ffmpeg_filter(tmp_path, g16, d16.astype(np.uint16))  # gray16: ffmpeg's 64-bit path
        assert fastssim.ssim(g16, d16.astype(np.uint16), preset="ffmpeg") == pytest.approx(got["Y"], abs=1e-6)


def _piq_transcription(x, y, data_range=1.0, ms=False, weights=(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)):
    """piq 0.8's ssim(downsample=True) and multi_scale_ssim on (C, H, W) float64 arrays, transcribed
    from its code (piq itself needs torchvision, which does not install here): a 2-D Gaussian built
    from coordinates centred at (k - 1) / 2, 'valid' correlation, per channel then their mean."""
    from scipy.signal import correlate
    x, y = x / data_range, y / data_range
    t = np.arange(11, dtype=np.float64) - 5.0
    g = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * 1.5 ** 2))
    g /= g.sum()
    c1, c2 = 0.01 ** 2, 0.03 ** 2

    def per_channel(a, b):
        out = []
        for k in range(a.shape[0]):
            f = [correlate(v, g, mode="valid") for v in (a[k], b[k], a[k] ** 2, b[k] ** 2, a[k] * b[k])]
            sxx, syy, sxy = f[2] - f[0] ** 2, f[3] - f[1] ** 2, f[4] - f[0] * f[1]
            cs = (2 * sxy + c2) / (sxx + syy + c2)
            out.append((((2 * f[0] * f[1] + c1) / (f[0] ** 2 + f[1] ** 2 + c1) * cs).mean(), cs.mean()))
        return np.array(out)  # (C, 2)

    def avg_pool(a, f):
        h, w = a.shape[1] // f * f, a.shape[2] // f * f
        return a[:, :h, :w].reshape(a.shape[0], h // f, f, w // f, f).mean(axis=(2, 4))

    if not ms:
        f = max(1, round(min(x.shape[-2:]) / 256))
        return per_channel(avg_pool(x, f), avg_pool(y, f))[:, 0].mean()
    terms = []
    for level in range(len(weights)):
        if level:
            p = max(x.shape[1] % 2, x.shape[2] % 2)
            x = avg_pool(np.pad(x, ((0, 0), (p, 0), (p, 0)), mode="edge"), 2)
            y = avg_pool(np.pad(y, ((0, 0), (p, 0), (p, 0)), mode="edge"), 2)
        terms.append(per_channel(x, y))
    t = np.maximum(np.stack([tm[:, 1] for tm in terms[:-1]] + [terms[-1][:, 0]]), 0)
    return float(np.prod(t ** np.asarray(weights)[:, None], axis=0).mean())


@pytest.mark.parametrize("size", [(384, 512), (640, 700), (896, 900), (301, 437)])  # f = 2 (1.5 up), 2 (2.5 to even), 4, 1
def test_piq(size):
    x = np.tile(colour(), (2, 2, 1))[:size[0], :size[1]].astype(np.float64) / 255
    y = np.clip(x + np.random.default_rng(6).normal(0, 0.06, x.shape), 0, 1)
    xc, yc = np.moveaxis(x, -1, 0), np.moveaxis(y, -1, 0)
    got = fastssim.ssim(x, y, channel_axis=-1, preset="piq", data_range=1.0)
    assert got == pytest.approx(_piq_transcription(xc, yc), abs=1e-12)
    if min(size) >= 384:  # downsampled: far from the full-resolution number
        assert abs(got - fastssim.ssim(x, y, channel_axis=-1, data_range=1.0)) > 1e-2
    # the same numbers for data in [0, 255] with data_range=255
    assert fastssim.ssim(x * 255, y * 255, channel_axis=-1, preset="piq", data_range=255.0) == pytest.approx(
        got, abs=1e-12)
    # MS-SSIM: odd sizes repeat the first row and column before halving (both, if either is odd)
    got = fastssim.ms_ssim(x, y, channel_axis=-1, preset="piq", data_range=1.0)
    assert got == pytest.approx(_piq_transcription(xc, yc, ms=True), abs=1e-12)


def _pyiqa_ssim_arch():
    """pyiqa's own ssim_arch module. pyiqa's package imports its whole model zoo (torchvision,
    transformers, ...), which do not install here; its SSIM module needs only torch and
    numpy, so it is loaded from the installed package (``pip install --no-deps pyiqa``) with
    the parent packages' ``__init__`` files skipped."""
    import importlib
    import importlib.util
    import pathlib
    import sys
    import types
    need("torch")
    spec = importlib.util.find_spec("pyiqa")
    if spec is None:
        pytest.skip("pyiqa is not installed (.ci/run installs it with --no-deps)")
    root = pathlib.Path(spec.origin).parent
    saved = {n: sys.modules.get(n) for n in ("pyiqa", "pyiqa.archs", "pyiqa.utils")}
    try:
        for name in saved:
            if name not in sys.modules:
                module = types.ModuleType(name)
                module.__path__ = [str(root.joinpath(*name.split(".")[1:]))]
                sys.modules[name] = module
        return importlib.import_module("pyiqa.archs.ssim_arch")
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)


@pytest.mark.parametrize("crop", [None, (301, 437)])
def test_pyiqa(crop):
    torch = need("torch")
    arch = _pyiqa_ssim_arch()
    from pyiqa.archs.func_util import preprocess_rgb
    x, y = _pair(np.uint8, crop)
    X, Y = (torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0)[None])).float() / 255 for a in (x, y))
    # pyiqa rounds its 2-D Gaussian window to float32, which fastssim's float64 window does not:
    # within 1e-6 of pyiqa's own numbers ...
    for preset, y_channel in (("pyiqa", True), ("pyiqa-rgb", False)):
        assert fastssim.ssim(x, y, channel_axis=-1, preset=preset) == pytest.approx(
            float(arch.SSIM(test_y_channel=y_channel)(X, Y)), abs=1e-6)
        assert fastssim.ms_ssim(x, y, channel_axis=-1, preset=preset) == pytest.approx(
            float(arch.MS_SSIM(test_y_channel=y_channel)(X, Y)), abs=1e-6)
        # ... and to 1e-12 of its functions given a float64 window, on the same levels
        w = np.outer(*[fastssim.kernels.math.window_weights(11, 1.5, True)] * 2)
        FX, FY = (torch.from_numpy(np.moveaxis(np.atleast_3d(pyiqa_levels(a, -1, 255, y_channel)), -1, 0)[None])
                  for a in (x, y))
        win = torch.from_numpy(w)[None, None].repeat(FX.shape[1], 1, 1, 1)
        assert fastssim.ssim(x, y, channel_axis=-1, preset=preset) == pytest.approx(
            float(arch.ssim(FX, FY, win=win, data_range=255)), abs=1e-12)
        assert fastssim.ms_ssim(x, y, channel_axis=-1, preset=preset) == pytest.approx(
            float(arch.ms_ssim(FX, FY, win=win, data_range=255)), abs=1e-12)
        # those levels are pyiqa's own preprocessing (Y of YIQ in float32, rounded), pixel for
        # pixel, except where torch's float32 matmul rounds differently on this CPU (a fused
        # multiply-add on some, e.g. Intel AVX-512 here): then only a Y within a few float32
        # units of a half between two levels can round the other way
        for a, A, F in ((x, X, FX), (y, Y, FY)):
            P = preprocess_rgb(A, y_channel, 255).double()
            apart = (P != F).numpy()[0]
            assert apart.mean() < 1e-3
            assert (abs(P - F)[0].numpy()[apart] == 1).all()
            if y_channel:
                exact = np.tensordot(a.astype(np.float64), [float(np.float32(c)) for c in YIQ_Y], axes=(-1, 0))
                assert (abs(exact - np.floor(exact) - 0.5)[apart[0]] < 1e-4).all()
    # float64 input in [0, 1]: pyiqa then computes its Y in float64 too
    X64, Y64 = (torch.from_numpy(np.ascontiguousarray(np.moveaxis(a, -1, 0)[None])) / 255.0 for a in (x, y))
    assert fastssim.ssim(x / 255.0, y / 255.0, channel_axis=-1, preset="pyiqa", data_range=1.0) == pytest.approx(
        float(arch.SSIM()(X64, Y64)), abs=1e-6)
    with pytest.raises(ValueError, match="preset 'pyiqa' on float input needs data_range="):
        fastssim.ssim(x / 255.0, y / 255.0, channel_axis=-1, preset="pyiqa")


def test_pyiqa_clamps_each_window():
    """pyiqa clamps each window's contrast-structure term at 0 (a ReLU on the map), so an
    inverted image scores above 0 where Wang's mean goes negative."""
    torch = need("torch")
    arch = _pyiqa_ssim_arch()
    g = colour()[:256, :256, 1]
    inv = 255 - g
    got = fastssim.ssim(g, inv, preset="pyiqa")
    G, INV = (torch.from_numpy(a.astype(np.float32)[None, None] / 255) for a in (g, inv))
    assert got == pytest.approx(float(arch.SSIM(channels=1)(G, INV)), abs=1e-6)
    assert got > 0 > fastssim.ssim(g, inv)
    # the clamp on the GPU (the simulator here), a crop
    crop = (g[:24, :30], inv[:24, :30])
    assert fastssim.ssim(*crop, preset="pyiqa", backend="cuda") == pytest.approx(
        fastssim.ssim(*crop, preset="pyiqa", backend="cpu"), abs=1e-6)


@pytest.mark.parametrize("crop", [(660, 550), (328, 400), (401, 333), (512, 512)])
def test_pytorch_msssim(crop):
    """pytorch_msssim's halving pads an odd side with a zero that counts in the first mean
    (avg_pool(kernel_size=2, padding=[s % 2 ...])): with its float64 window given, the preset equals
    it to 1e-12 (SSIM and MS-SSIM, RGB and grey); with its own window (float32 taps) to 5e-6; Wang's
    halving (an odd edge averaged with itself) is another number on odd sizes."""
    torch = need("torch")
    pm = pytest.importorskip("pytorch_msssim")
    c, d = colour(), heavy_noise(colour())
    x = np.tile(c, (2, 2, 1))[:crop[0], :crop[1]].astype(np.float64)
    y = np.tile(d, (2, 2, 1))[:crop[0], :crop[1]].astype(np.float64)
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    for a, b in ((x, y), (x[..., 1], y[..., 1])):
        X, Y = _nchw(torch, a), _nchw(torch, b)
        win = torch.from_numpy(g / g.sum())[None, None].repeat([X.shape[1], 1, 1, 1])
        ca = -1 if a.ndim == 3 else None
        ms = fastssim.ms_ssim(a, b, channel_axis=ca, preset="pytorch_msssim")
        assert ms == pytest.approx(float(pm.ms_ssim(X, Y, data_range=255, win=win)), abs=1e-12)
        assert fastssim.ssim(a, b, channel_axis=ca, preset="pytorch_msssim") == pytest.approx(
            float(pm.ssim(X, Y, data_range=255, win=win)), abs=1e-12)
        assert ms == pytest.approx(float(pm.ms_ssim(X, Y, data_range=255)), abs=5e-6)
        wang = fastssim.ms_ssim(a, b, channel_axis=ca, data_range=255)
        if crop != (512, 512):
            assert abs(wang - ms) > 1e-5
        else:
            assert wang == pytest.approx(ms, abs=1e-12)  # even sizes all the way down: the same halving


def test_pytorch_msssim_volume():
    torch = need("torch")
    pm = pytest.importorskip("pytorch_msssim")
    v = colour()[100:140, 200:250].astype(np.float64)
    vol = np.stack([v[..., 0], v[..., 1], v[..., 2], v.mean(axis=2)] * 4)  # (16, 40, 50)
    dist = np.clip(vol + np.random.default_rng(4).normal(0, 12, vol.shape), 0, 255)
    g = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    win = torch.from_numpy(g / g.sum())[None, None, None, None]  # (1, 1, 1, 1, 11): one channel, 3-D
    ref = float(pm.ssim(torch.from_numpy(vol[None, None]), torch.from_numpy(dist[None, None]), data_range=255,
                        win=win))
    assert fastssim.ssim(vol, dist, preset="pytorch_msssim") == pytest.approx(ref, abs=1e-12)


def test_fastmri_is_scikit_image_per_slice_with_the_volumes_max():
    """fastMRI's ``evaluate.ssim(gt, pred)``: scikit-image's defaults on every slice along axis 0,
    ``data_range=gt.max()`` of the whole volume, the slices' mean; on MRI-like magnitudes (an
    offset and scale, so that max differs from max - min)."""
    from skimage.metrics import structural_similarity

    from images import grey

    g = grey().astype(np.float64)
    gt = np.stack([g[50 + 4 * i:250 + 4 * i, 100:281] for i in range(12)]) * 3.7 + 11
    pred = np.clip(gt + np.random.default_rng(0).normal(0, 40, gt.shape), 0, None)
    ref = np.mean([structural_similarity(gt[i], pred[i], data_range=gt.max()) for i in range(len(gt))])
    assert fastssim.ssim(gt, pred, preset="fastmri") == pytest.approx(ref, abs=1e-12)
    assert fastssim.ssim_slices(gt, pred, preset="fastmri").mean() == pytest.approx(ref, abs=1e-12)
    # float32 volumes, as fastMRI reads them: scikit-image then computes in float32, fastssim in float64
    gt32, pred32 = gt.astype(np.float32), pred.astype(np.float32)
    ref32 = np.mean([structural_similarity(gt32[i], pred32[i], data_range=gt32.max()) for i in range(len(gt))])
    assert fastssim.ssim(gt32, pred32, preset="fastmri") == pytest.approx(ref32, abs=1e-6)
    # one slice: its own max (fastMRI passes the volume's: data_range=gt.max() does the same)
    assert fastssim.ssim(gt[3], pred[3], preset="fastmri", data_range=gt.max()) == pytest.approx(
        structural_similarity(gt[3], pred[3], data_range=gt.max()), abs=1e-12)
    with pytest.raises(ValueError, match="slice by slice"):
        fastssim.ssim_batch(gt[None], pred[None], spatial_ndim=3, preset="fastmri")
    with pytest.raises(ValueError, match="not positive"):
        fastssim.ssim(-gt, pred, preset="fastmri")
