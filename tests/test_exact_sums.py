"""Exact window sums for 8-bit images under a uniform window (`fastssim.kernels.exact`): the same
numbers as a float64 computation on real and binary images, scikit-image's to 1e-12 through its
preset, at the bound of the float32 sums; taken only where they are exact."""

import inspect

import numpy as np
import pytest

import fastssim
import naive
from fastssim.kernels import engine
from fastssim.kernels.cpu import ssim as cpu_ssim
from fastssim.kernels.math import window_weights
from fastssim.compat.skimage import structural_similarity
from images import brighter, camera, colour, grey, heavy_noise, jpeg, noise

UNIFORM = dict(gaussian=False, sample_covariance=True)


def _binary():
    """scikit-image's horse silhouette (0/255) and a near-binary text page: the float32 path's
    worst cases (flat windows far from a task's level)."""
    from skimage import data

    horse = np.where(data.horse(), 0, 255).astype(np.uint8)
    text = data.text()
    return horse, text


@pytest.fixture
def exact_calls(monkeypatch):
    """The ``exact`` argument of every SSIM kernel call (None: the weighted passes)."""
    seen = []
    kernel = cpu_ssim.ssim_sums

    class Recording:
        """The kernel, its calls recorded; its other attributes the dispatcher's (a cold process's
        first call asks whether it has specialisations: `kernels.ahead.cold`)."""

        def __call__(self, *args):
            seen.append(inspect.signature(kernel.py_func).bind(*args).arguments.get("exact"))
            return kernel(*args)

        def __getattr__(self, name):
            return getattr(kernel, name)

    monkeypatch.setattr(cpu_ssim, "ssim_sums", Recording())
    return seen


def _pairs():
    g, cam = grey(), camera()
    horse, text = _binary()
    return [("astronaut/noise", g, noise(g, 12.0)), ("astronaut/jpeg", g, jpeg(g)),
            ("camera/heavy-noise", cam, heavy_noise(cam)), ("camera/brighter", cam, brighter(cam)),
            ("horse/noise", horse, noise(horse, 20.0)), ("horse/flipped", horse, horse[::-1].copy()),
            ("text/blur", text, noise(text, 5.0, seed=3))]


def _with_float64_constants(a, b, win_size, sample_covariance=True, wins=None):
    """The kernels' mean SSIM of two uint8 images with float64 constants (as a float64 preset
    has them), a uniform window of ``win_size`` taps (or the windows ``wins``, one per axis)."""
    n = win_size * win_size
    consts = engine.kernel_constants(255.0, 0.01, 0.03, n / (n - 1) if sample_covariance else 1.0,
                                     np.dtype(np.float64))
    w = wins or window_weights(win_size, 1.5, False)
    return engine.ssim_means(a[None, None, None], b[None, None, None], 2, w, consts, want_cs=False)[0][0, 0, 0]


@pytest.mark.parametrize("win_size", [5, 7, 11])
def test_equal_to_float64_on_real_and_binary_images(win_size, exact_calls):
    """With float64 constants (scikit-image's preset and drop-in have them) each value is the float64
    computation's to 1e-12 (naive SciPy filters, an independent float64 oracle)."""
    for name, a, b in _pairs():
        want = naive.ssim(a, b, 255.0, win_size=win_size, **UNIFORM)
        got = _with_float64_constants(a, b, win_size)
        assert abs(got - want) < 1e-12, (name, got - want)
        if win_size == 7:
            assert abs(fastssim.ssim(a, b, preset="skimage") - want) < 1e-12, name
            assert abs(structural_similarity(a, b) - want) < 1e-12, name
    assert len(exact_calls) == (3 if win_size == 7 else 1) * len(_pairs())
    assert all(e is not None for e in exact_calls)


def test_at_the_bound_of_the_float32_sums():
    """11x11 windows of 0 against 255 and of 255 against 255: sums of up to 121 * 2 * 255^2,
    just under 2^24; the values are the float64 computation's."""
    zeros, full = np.zeros((40, 50), np.uint8), np.full((40, 50), 255, np.uint8)
    checker = (np.indices((40, 50)).sum(0) % 2 * 255).astype(np.uint8)
    for a, b in [(zeros, full), (full, full), (checker, full), (checker, 255 - checker)]:
        want = naive.ssim(a, b, 255.0, win_size=11, **UNIFORM)
        assert abs(_with_float64_constants(a, b, 11) - want) < 1e-12


def test_anisotropic_and_plain_uniform_windows(exact_calls):
    """A 7 x 5 uniform window (the kernel's windows per axis) and the population covariance: the
    float64 computation's values."""
    g = grey()
    wins = [window_weights(7, 1.5, False), window_weights(5, 1.5, False)]
    got = _with_float64_constants(g, jpeg(g), 7, sample_covariance=False, wins=wins)
    a, b = g.astype(np.float64), jpeg(g).astype(np.float64)
    from scipy import ndimage

    def f(t):
        return ndimage.uniform_filter(t, size=(7, 5), mode="reflect")[3:-3, 2:-2]

    ux, uy = f(a), f(b)
    vx, vy, vxy = f(a * a) - ux * ux, f(b * b) - uy * uy, f(a * b) - ux * uy
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    want = (((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))).mean()
    assert abs(got - want) < 1e-12
    assert exact_calls[-1] is not None
    # MS-SSIM's contrast-structure mean too, against the weighted float64 passes (float64 input)
    consts = engine.kernel_constants(255.0, 0.01, 0.03, 1.0, np.dtype(np.float64))
    x5, y5 = g[None, None, None], jpeg(g)[None, None, None]
    exact = engine.ssim_means(x5, y5, 2, wins, consts, want_cs=True)[0]
    weighted = engine.ssim_means(x5.astype(np.float64), y5.astype(np.float64), 2, wins, consts, want_cs=True)[0]
    assert exact_calls[-2] is not None and exact_calls[-1] is None
    np.testing.assert_allclose(exact, weighted, rtol=0, atol=1e-12)
    assert 0.2 < exact[0, 0, 1] < 0.99 and exact[0, 0, 1] != exact[0, 0, 0]


def test_batches_equal_their_pairs_and_colour(exact_calls):
    """A batch's values are each pair's alone, bit for bit; colour, channel first or channel last
    (interleaved), is the float64 computation's per channel."""
    pairs = _pairs()[:4]
    x = np.stack([p[1][:256, :256] for p in pairs])
    y = np.stack([p[2][:256, :256] for p in pairs])
    batch = fastssim.ssim_batch(x, y, preset="skimage")
    np.testing.assert_array_equal(batch, [fastssim.ssim(a, b, preset="skimage") for a, b in zip(x, y)])
    rgb, distorted = colour()[:200, :220], noise(colour()[:200, :220], 10.0)
    want = np.mean([naive.ssim(rgb[..., c], distorted[..., c], 255.0, win_size=7, **UNIFORM) for c in range(3)])
    planar, other = np.moveaxis(rgb, -1, 0).copy(), np.moveaxis(distorted, -1, 0).copy()
    assert abs(fastssim.ssim(planar, other, channel_axis=0, preset="skimage") - want) < 1e-12
    # channel-last pixels, filtered interleaved (each channel's sums kept apart in float64)
    assert abs(fastssim.ssim(rgb, distorted, channel_axis=-1, preset="skimage") - want) < 1e-12
    assert abs(structural_similarity(rgb, distorted, channel_axis=-1) - want) < 1e-12
    per_channel = fastssim.ssim_batch(rgb[None], distorted[None], channel_axis=-1, preset="skimage")
    assert abs(per_channel[0] - want) < 1e-12
    assert len(exact_calls) == 9 and all(e is not None for e in exact_calls)


def test_float32_calls_take_the_exact_sums(exact_calls):
    """A call that computes in float32 (no preset) under a uniform window takes the exact sums too:
    on real and binary images its mean is the float64 computation's but for its float32 constants
    C1 and C2 (a few 1e-9; the weighted float32 passes were 5e-6 away on the horse against its
    mirror image, and 3e-6 on the horse with noise), grey and channel-last colour."""
    for name, a, b in _pairs():
        for win_size in (7, 11):
            want = naive.ssim(a, b, 255.0, win_size=win_size, **UNIFORM)
            got = fastssim.ssim(a, b, win_size=win_size, **UNIFORM)
            assert abs(got - want) < 2e-8, (name, win_size, got - want)
    c, cd = colour(), noise(colour(), 10.0)
    want = np.mean([naive.ssim(c[..., k], cd[..., k], 255.0, win_size=7, **UNIFORM) for k in range(3)])
    assert abs(fastssim.ssim(c, cd, channel_axis=-1, win_size=7, **UNIFORM) - want) < 2e-8
    assert len(exact_calls) == 2 * len(_pairs()) + 1 and all(e is not None for e in exact_calls)


def test_float32_maps_and_masked_means_are_exact_too(exact_calls):
    """A float32 call's maps ('same' and 'valid') and masked means under a uniform window take the
    exact sums as well: each pixel is the float64 map's (naive SciPy filters) rounded to float32,
    2e-7 at most with float32's C1 and C2 (the weighted float32 passes were up to 1.8e-4 away on
    the horse against its mirror image); the masked mean is the float64 computation's."""
    for name, a, b in _pairs():
        for mode in ("same", "valid"):
            got = fastssim.ssim_map(a, b, mode=mode, win_size=7, **UNIFORM)
            want = naive.ssim_map(a, b, 255.0, win_size=7, mode=mode, **UNIFORM)
            assert got.dtype == np.float32 and got.shape == want.shape
            assert np.abs(got - want).max() < 2e-7, (name, mode, np.abs(got - want).max())
        mask = a > 100
        got = fastssim.ssim(a, b, mask=mask, win_size=7, **UNIFORM)
        want = fastssim.ssim(a.astype(np.float64), b.astype(np.float64), data_range=255.0, mask=mask, win_size=7,
                             **UNIFORM)
        assert abs(got - want) < 2e-8, (name, got - want)
    assert len(exact_calls) == 4 * len(_pairs())
    assert [e is None for e in exact_calls] == [False, False, False, True] * len(_pairs())


@pytest.mark.parametrize("case", ["uint16", "gaussian", "3x3", "13x13", "map", "mask", "volume"])
def test_taken_only_where_exact(case, exact_calls):
    """Other dtypes, Gaussian windows, windows under four taps or over 121 samples, maps, masks
    and volumes keep the weighted passes, with the same values."""
    g = grey()[:160, :170]
    h = noise(g, 15.0)
    want = naive.ssim(g, h, 255.0, win_size=7, **UNIFORM)
    if case == "uint16":
        got = _with_float64_constants(g.astype(np.uint16), h.astype(np.uint16), 7)
        assert abs(got - want) < 1e-12
    elif case == "gaussian":
        fastssim.ssim(g, h, preset="wang")
    elif case in ("3x3", "13x13"):
        k = int(case.split("x")[0])
        got = _with_float64_constants(g, h, k)
        assert abs(got - naive.ssim(g, h, 255.0, win_size=k, **UNIFORM)) < 1e-12
    elif case == "map":
        value, smap = structural_similarity(g, h, full=True)
        exact_calls.pop(0)  # the mean is computed alone, exactly; the map by the weighted passes
        assert abs(value - want) < 1e-12 and abs(smap[3:-3, 3:-3].mean() - want) < 1e-12
    elif case == "mask":
        fastssim.ssim(g, h, preset="skimage", mask=np.ones(g.shape, bool))
    else:
        v = np.stack([g[:40, :40]] * 12)
        fastssim.ssim(v, noise(v, 10.0), preset="skimage")
    assert exact_calls and all(e is None for e in exact_calls), case


def test_numbers_do_not_depend_on_where_the_kernels_were_compiled(tmp_path):
    """A process that compiles the kernels (an empty Numba cache; with the helper process that
    compiles the task's last pass, and without it) and a later one that loads them from the cache
    give the same numbers, bit for bit: the exact sums in float64 (scikit-image's preset) and in
    float32 (fast-ssim's window), their maps' sums, and the weighted passes in float32 and float64.
    The exact sums' means differed by up to 13 ulp between the three before their formula was
    compiled without ``reassoc`` (`kernels.cpu.box`): LLVM had computed and summed in an order that
    depended on where the formula was compiled."""
    import os
    import subprocess
    import sys

    code = ("import numpy as np, fastssim; from skimage import data; "
            "g = data.camera(); rng = np.random.default_rng(0); "
            "d = np.clip(g + rng.normal(0, 12, g.shape), 0, 255).astype(np.uint8); "
            "print(repr([fastssim.ssim(g, d, preset='skimage'), fastssim.ssim(g, d, win_size=7, gaussian=False), "
            "float(fastssim.ssim_map(g, d, win_size=7, gaussian=False).astype(np.float64).sum()), "
            "fastssim.ssim(g, d), fastssim.ssim(g / 255.0, d / 255.0, data_range=1.0)]))")
    runs = []
    for cache, ahead in (("a", "1"), ("a", "1"), ("b", "0")):  # cold with the helper, warm, cold without it
        env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / cache), FASTSSIM_COMPILE_AHEAD=ahead)
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
        assert r.returncode == 0 and not r.stderr.strip(), r.stderr[-2000:]
        runs.append(r.stdout.strip())
    assert runs[0] == runs[1] == runs[2], runs
    values = eval(runs[0])  # five floats, printed by repr
    means = values[:2] + values[3:]
    assert 0.5 < min(means) < max(means) < 1
