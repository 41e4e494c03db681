"""Presets reproduce the libraries they name: run against the library where it installs,
else against a transcription of its documented algorithm, on real images."""

import cv2
import numpy as np
import pytest
from skimage.metrics import structural_similarity as sk

import fastssim
import naive
from fastssim.conventions.presets import PRESETS
from images import DISTORTIONS, camera, colour, fit, heavy_noise, read, need


def rgb_pair():
    return colour(), heavy_noise(colour())


def test_skimage_preset_is_skimage_defaults(backend):
    """uint8 input: computed in float64, as scikit-image computes (1e-5 in float32 before)."""
    x, y = fit(backend, camera(), DISTORTIONS["jpeg"](camera()))
    assert fastssim.ssim(x, y, preset="skimage", backend=backend) == pytest.approx(sk(x, y), abs=1e-12)
    c, d = fit(backend, *rgb_pair())
    assert fastssim.ssim(c, d, preset="skimage", channel_axis=-1, backend=backend) == pytest.approx(
        sk(c, d, channel_axis=-1), abs=1e-12)


def test_wang_and_tensorflow_presets(backend):
    """tf.image.ssim is Wang's algorithm (11-tap Gaussian 1.5, valid region, per-channel mean);
    TensorFlow is not installable here, so both are checked against the naive reference."""
    c, d = fit(backend, *rgb_pair())
    ref = np.mean([naive.ssim(c[..., k], d[..., k], 255) for k in range(3)])
    # wang: in float64 as Wang's MATLAB code; tensorflow: in float32 as TensorFlow (on uint8 input)
    for preset, tol in (("wang", 1e-12), ("tensorflow", 1e-5)):
        assert fastssim.ssim(c, d, channel_axis=-1, preset=preset, backend=backend) == pytest.approx(ref, abs=tol)


def test_matlab_preset_reproduces_ssim_index():
    ref = 0.327314295673357  # ssim_index.m's published output (tests/data/README.md)
    cam = camera()
    np.random.seed(5)
    noisy = np.clip(cam + 20.0 * np.random.randn(*cam.shape), 0, 255).astype(np.uint8)
    assert fastssim.ssim(cam, noisy, preset="matlab") == pytest.approx(ref, abs=1e-13)  # 15 digits published


def _rgb_pair(name):
    """TID2013 calibration pairs (the shared reference set) or scikit-image's photographs
    through a real JPEG encoder."""
    if name.startswith("I"):
        return read("tid2013-calib", "ref", f"{name}.bmp"), read("tid2013-calib", "dist", f"{name}.bmp")
    from skimage import data

    img = getattr(data, name)()
    return img, DISTORTIONS["jpeg"](img)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "chelsea", "I03", "I04", "I06", "I08", "I19"])
def test_matlab_preset_rgb2gray(name):
    ref_img, dist_img = _rgb_pair(name)
    w = np.array([0.298936021293775, 0.587043074451121, 0.114020904255103])
    gx = np.floor(ref_img.astype(np.float64) @ w + 0.5)  # rgb2gray on uint8 rounds to uint8
    gy = np.floor(dist_img.astype(np.float64) @ w + 0.5)
    got = fastssim.ssim(ref_img, dist_img, channel_axis=-1, preset="matlab")
    assert got == pytest.approx(naive.ssim(gx, gy, 255), abs=1e-12)
    # the rounding matters: unrounded grey gives another number
    assert abs(naive.ssim(ref_img @ w, dist_img @ w, 255) - got) > 1e-6


def _ssim_m_2009(x, y):
    """ssim.m (2009): f = max(1, round(min(M, N) / 256)); f x f box with symmetric borders
    (an even kernel anchored at floor((f + 1) / 2)), then every f-th sample."""
    from scipy import ndimage
    f = max(1, int(np.floor(min(x.shape) / 256 + 0.5)))
    if f > 1:
        # ndimage's origin shifts the box so it covers [i - (c - 1), i + f - c] with c = (f + 1) // 2
        c = (f + 1) // 2
        origin = (f // 2) - (c - 1)
        x = ndimage.uniform_filter(x.astype(np.float64), f, mode="reflect", origin=-origin if f % 2 == 0 else 0)[::f, ::f]
        y = ndimage.uniform_filter(y.astype(np.float64), f, mode="reflect", origin=-origin if f % 2 == 0 else 0)[::f, ::f]
    return naive.ssim(x, y, 255), f


@pytest.mark.parametrize("shape", [(512, 512), (700, 760), (900, 1000)])  # f = 2, 3, 4
def test_matlab2009_automatic_downsampling(shape):
    rng = np.random.default_rng(0)
    base = np.tile(camera(), (2, 2))[: shape[0], : shape[1]]
    noisy = np.clip(base + rng.normal(0, 15, base.shape), 0, 255).astype(np.uint8)
    ref, f = _ssim_m_2009(base, noisy)
    assert f == {512: 2, 700: 3, 900: 4}[shape[0]]
    assert fastssim.ssim(base, noisy, preset="matlab2009") == pytest.approx(ref, abs=1e-12)


def _imfilter_box_sampled(a, f, axes):
    """MATLAB's ``imfilter(a, ones(f)/f^2, 'symmetric')(1:f:end, 1:f:end)`` the long way: every
    sample filtered (np.pad 'symmetric', the box anchored at floor((f + 1) / 2)), then subsampled."""
    c = (f + 1) // 2
    out = a.astype(np.float64)
    for ax in axes:
        pad = [(0, 0)] * out.ndim
        pad[ax] = (c - 1, f - c)
        p = np.pad(out, pad, mode="symmetric")
        n = out.shape[ax]
        full = sum(np.take(p, np.arange(n) + t, axis=ax) for t in range(f)) / f
        out = np.take(full, np.arange(0, n, f), axis=ax)
    return out


@pytest.mark.parametrize("shape, axes", [((512, 512), (0, 1)), ((700, 761), (0, 1)), ((2, 901, 1003), (1, 2)),
                                         ((1030, 777, 3), (0, 1)), ((2, 3, 640, 900), (2, 3))])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.float64])
def test_matlab2009_downsampling_computes_only_the_samples_kept(shape, axes, dtype):
    """The one-pass kernel equals filtering every sample and subsampling (to the bit: the sums in
    the same order), for batches, channel axes, odd sizes and every dtype, borders included."""
    from fastssim.conventions.transforms import matlab2009_downsample, matlab2009_factor

    rng = np.random.default_rng(sum(shape))
    a = (rng.random(shape) * (255 if dtype != np.uint16 else 4095)).astype(dtype)
    f = matlab2009_factor([shape[ax] for ax in axes])
    assert f > 1
    np.testing.assert_array_equal(matlab2009_downsample(a, f, axes), _imfilter_box_sampled(a, f, axes))


def test_torchmetrics_preset():
    torch = need("torch")
    tm = pytest.importorskip("torchmetrics.functional.image")
    c, d = rgb_pair()
    c = c[:200, :240].astype(np.float64) / 255
    d = d[:200, :240].astype(np.float64) / 255
    X = torch.from_numpy(np.moveaxis(c, -1, 0)[None])
    Y = torch.from_numpy(np.moveaxis(d, -1, 0)[None])
    # torchmetrics' data range rule (max of the spans) and its reflect-padded full map
    ref = float(tm.structural_similarity_index_measure(X, Y))
    assert fastssim.ssim(c, d, channel_axis=-1, preset="torchmetrics") == pytest.approx(ref, abs=1e-9)
    ref = float(tm.structural_similarity_index_measure(X, Y, data_range=1.0))
    assert fastssim.ssim(c, d, channel_axis=-1, preset="torchmetrics", data_range=1.0) == pytest.approx(ref, abs=1e-9)
    assert abs(fastssim.ssim(c, d, channel_axis=-1, data_range=1.0) - ref) > 1e-5  # not the valid mean
    v = np.random.default_rng(0).random((20, 24, 28))
    w = np.clip(v + 0.1 * np.random.default_rng(1).standard_normal(v.shape), 0, 1)
    ref = float(tm.structural_similarity_index_measure(torch.from_numpy(v[None, None]), torch.from_numpy(w[None, None]),
                                                       data_range=1.0))
    assert fastssim.ssim(v, w, preset="torchmetrics", data_range=1.0) == pytest.approx(ref, abs=1e-9)


def _basicsr_ssim(img, img2, crop_border):
    """BasicSR's calculate_ssim(..., input_order='HWC', test_y_channel=True) on RGB input:
    to_y_channel (BT.601 studio swing, float), crop, then its cv2-based _ssim."""
    def to_y(a):
        a = a.astype(np.float32) / 255.0
        return (np.dot(a, [65.481, 128.553, 24.966]) + 16.0)  # RGB order (BasicSR reads BGR)
    a, b = to_y(img).astype(np.float64), to_y(img2).astype(np.float64)
    if crop_border:
        a, b = a[crop_border:-crop_border, crop_border:-crop_border], b[crop_border:-crop_border, crop_border:-crop_border]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    k = cv2.getGaussianKernel(11, 1.5)
    win = np.outer(k, k.T)
    mu1 = cv2.filter2D(a, -1, win)[5:-5, 5:-5]
    mu2 = cv2.filter2D(b, -1, win)[5:-5, 5:-5]
    s1 = cv2.filter2D(a ** 2, -1, win)[5:-5, 5:-5] - mu1 ** 2
    s2 = cv2.filter2D(b ** 2, -1, win)[5:-5, 5:-5] - mu2 ** 2
    s12 = cv2.filter2D(a * b, -1, win)[5:-5, 5:-5] - mu1 * mu2
    m = ((2 * mu1 * mu2 + c1) * (2 * s12 + c2)) / ((mu1 ** 2 + mu2 ** 2 + c1) * (s1 + s2 + c2))
    return m.mean()


@pytest.mark.parametrize("crop_border", [0, 4])
def test_basicsr_preset(crop_border, backend):
    c, d = fit(backend, *rgb_pair())
    ref = _basicsr_ssim(c, d, crop_border)
    got = fastssim.ssim(c, d, channel_axis=-1, preset="basicsr", crop_border=crop_border, backend=backend)
    # CPU 7e-10 (the transcription's float32 luma sums); the CUDA kernels 6.4e-9 (in Numba's
    # simulator; not traced yet)
    tol = 1e-9 if backend == "cpu" else 1e-8
    assert got == pytest.approx(ref, abs=tol)
    # y_channel and crop_border work with any preset, e.g. the default
    assert fastssim.ssim(c, d, channel_axis=-1, y_channel=True, crop_border=crop_border,
                         backend=backend) == pytest.approx(ref, abs=tol)


def test_preset_errors():
    x = camera()
    with pytest.raises(ValueError, match="unknown preset 'matlab2010'; choose one of wang, matlab"):
        fastssim.ssim(x, x, preset="matlab2010")
    with pytest.raises(ValueError, match="preset 'skimage' fixes win_size, gaussian"):
        fastssim.ssim(x, x, preset="skimage", win_size=9, gaussian=False)
    with pytest.raises(ValueError, match="preset 'skimage' defines no MS-SSIM convention; use one of 'wang'"):
        fastssim.ms_ssim(x, x, preset="skimage")
    with pytest.raises(ValueError, match=r"preset 'kornia' fixes sigma; .* \(it leaves win_size free\)"):
        fastssim.ssim(x, x, preset="kornia", sigma=2.0, win_size=7)
    with pytest.raises(ValueError, match=r"sigma must be one number, got \(1.5, 2.0\): .* only with preset='torch"):
        fastssim.ssim(x, x, sigma=(1.5, 2.0))
    with pytest.raises(ValueError, match="per-axis sigma takes two positive numbers"):
        fastssim.ssim(x, x, preset="torchmetrics", sigma=(1.5, 2.0, 1.0))
    with pytest.raises(ValueError, match="y_channel needs RGB input with channel_axis set"):
        fastssim.ssim(x, x, y_channel=True)
    rgba = np.zeros((32, 32, 4), np.uint8)
    with pytest.raises(ValueError, match="needs 3 colour channels"):
        fastssim.ssim(rgba, rgba, y_channel=True, channel_axis=-1)
    with pytest.raises(ValueError, match="crop_border=16 removes all of axis 0"):
        fastssim.ssim(x[:32, :32], x[:32, :32], crop_border=16)


def test_every_preset_is_described():
    for p in PRESETS.values():
        line = p.describe()
        assert p.reproduces in line and "covariance" in line and "data range" in line


def _matlab_ipt_ssim(a, ref, sigma=1.5, L=None):
    """MATLAB's ssim (Image Processing Toolbox, R2014a+) as its documentation and the
    algorithm it states describe it: a normalised Gaussian of standard deviation 'Radius'
    (default 1.5) over 2 * ceil(3 * Radius) + 1 samples per axis, local statistics filtered
    with 'replicate' padding to a same-size map, C1 = (0.01 L)^2, C2 = (0.03 L)^2, C3 = C2 / 2
    with exponents 1 (the simplified index), the mean of the map; L from the class
    (diff(getrangefromclass)), 1 for floats; 2-D images and 3-D volumes (an M x N x 3 array
    is a volume)."""
    from scipy import ndimage
    if L is None:
        L = float(np.iinfo(a.dtype).max) - float(np.iinfo(a.dtype).min) if a.dtype.kind in "iu" else 1.0
    a, ref = a.astype(np.float64), ref.astype(np.float64)
    r = int(np.ceil(3 * sigma))
    t = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-t ** 2 / (2 * sigma ** 2))
    h = g
    for _ in range(a.ndim - 1):
        h = np.multiply.outer(h, g)
    h[h < np.finfo(float).eps * h.max()] = 0
    h /= h.sum()

    def f(v):
        return ndimage.correlate(v, h, mode="nearest")  # 'nearest' is MATLAB's 'replicate'
    mux, muy = f(a), f(ref)
    sx, sy, sxy = f(a * a) - mux ** 2, f(ref * ref) - muy ** 2, f(a * ref) - mux * muy
    c1, c2 = (0.01 * L) ** 2, (0.03 * L) ** 2
    return float(np.mean((2 * mux * muy + c1) * (2 * sxy + c2) / ((mux ** 2 + muy ** 2 + c1) * (sx + sy + c2))))


def test_matlab_ipt_preset():
    c, d = rgb_pair()
    g, gd = c[:200, :240, 1], d[:200, :240, 1]
    assert fastssim.ssim(g, gd, preset="matlab-ipt") == pytest.approx(_matlab_ipt_ssim(g, gd), abs=1e-6)
    gf, gdf = g / 255.0, gd / 255.0  # double input: L = 1, float64 throughout
    assert fastssim.ssim(gf, gdf, preset="matlab-ipt") == pytest.approx(_matlab_ipt_ssim(gf, gdf), abs=1e-12)
    for sigma in (0.7, 2.2):  # 'Radius': the filter grows with it
        assert fastssim.ssim(gf, gdf, preset="matlab-ipt", sigma=sigma) == pytest.approx(
            _matlab_ipt_ssim(gf, gdf, sigma), abs=1e-12)
    # an RGB array is a volume to MATLAB's ssim: 3-D window across the 3 channels, replicated
    cf, df = c[:120, :150] / 255.0, d[:120, :150] / 255.0
    want = _matlab_ipt_ssim(cf, df)
    assert fastssim.ssim(cf, df, preset="matlab-ipt") == pytest.approx(want, abs=1e-12)
    assert fastssim.ssim(cf, df, channel_axis=-1, preset="matlab-ipt") == pytest.approx(want, abs=1e-12)
    # images smaller than the window: replicate padding still gives a map
    assert fastssim.ssim(gf[:6, :9], gdf[:6, :9], preset="matlab-ipt") == pytest.approx(
        _matlab_ipt_ssim(gf[:6, :9], gdf[:6, :9]), abs=1e-12)
    # not the default convention (valid region, no padding)
    assert abs(fastssim.ssim(gf, gdf, data_range=1.0) - _matlab_ipt_ssim(gf, gdf)) > 1e-4


def _vmaf_float_ssim(ref, dist):
    """libvmaf's float_ssim (iqa's SSIM, default arguments) transcribed from its C sources:
    scale = max(1, round(min(w, h) / 256)); _iqa_decimate keeps n // scale + n % 2 samples per
    axis, each the mean of the scale x scale box at (i scale - scale // 2, ...) read through
    KBND_SYMMETRIC borders; then the separable window of ssim_tools.h (g_gaussian_window_h/_v:
    a Gaussian of sigma 1.5 printed to 6 decimals, summing to 1.000002, used as it is) applied
    where it fits, L = 255, l * c * s with C3 = C2 / 2, variances clamped at 0, the mean."""
    a, b = ref.astype(np.float64), dist.astype(np.float64)
    f = max(1, int(np.floor(min(a.shape) / 256 + 0.5)))
    if f > 1:
        def box(n):  # for each output sample, the f input indices of its box, mirrored at the borders
            k = np.arange(n // f + n % 2)[:, None] * f + np.arange(-(f // 2), f - f // 2)[None, :]
            return np.where(k < 0, -1 - k, np.where(k >= n, 2 * n - 1 - k, k))

        def dec(img):
            rows, cols = box(img.shape[0]), box(img.shape[1])
            return img[rows[:, None, :, None], cols[None, :, None, :]].mean(axis=(2, 3))
        a, b = dec(a), dec(b)
    taps = np.array([0.001028, 0.007599, 0.036001, 0.109361, 0.213006, 0.266012, 0.213006, 0.109361, 0.036001,
                     0.007599, 0.001028], np.float32).astype(np.float64)
    g = np.outer(taps, taps)
    from scipy.signal import correlate

    def F(v):
        return correlate(v, g, mode="valid")
    mx, my = F(a), F(b)
    sx = np.maximum(F(a * a) - mx * mx, 0)
    sy = np.maximum(F(b * b) - my * my, 0)
    sxy = F(a * b) - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    c3 = c2 / 2
    root = np.sqrt(sx * sy)
    lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    con = (2 * root + c2) / (sx + sy + c2)
    st = (sxy + c3) / (root + c3)
    return float(np.mean(lum * con * st))


@pytest.mark.parametrize("shape", [(200, 300), (384, 512), (301, 451), (720, 1280), (1080, 1920)])  # f = 1, 2, 2, 3, 4
def test_vmaf_preset(shape):
    base = np.tile(camera(), (3, 4))[:shape[0], :shape[1]]
    noisy = np.clip(base + np.random.default_rng(1).normal(0, 12, base.shape), 0, 255).astype(np.uint8)
    want = _vmaf_float_ssim(base, noisy)
    assert fastssim.ssim(base.astype(np.float64), noisy.astype(np.float64), preset="vmaf") == pytest.approx(
        want, abs=1e-12)
    # raw moments of the unnormalised window in float64, whatever the input dtype
    assert fastssim.ssim(base, noisy, preset="vmaf") == pytest.approx(want, abs=1e-12)
    # libvmaf itself, where its command-line tool is installed (it is not a Debian package here)
    import shutil
    import subprocess
    import tempfile
    tool = shutil.which("vmaf")
    if tool is None or shape[0] % 2 or shape[1] % 2:
        return
    with tempfile.TemporaryDirectory() as d:
        chroma = np.full(shape[0] * shape[1] // 2, 128, np.uint8)  # 4:2:0: U and V
        for name, img in (("ref", base), ("dist", noisy)):
            with open(f"{d}/{name}.yuv", "wb") as f:
                f.write(img.tobytes() + chroma.tobytes())
        subprocess.run([tool, "--reference", f"{d}/ref.yuv", "--distorted", f"{d}/dist.yuv", "--width", str(shape[1]),
                        "--height", str(shape[0]), "--pixel_format", "420", "--bitdepth", "8", "--feature",
                        "float_ssim", "--no_prediction", "--output", f"{d}/out.json", "--json", "--quiet"], check=True)
        import json
        got = json.load(open(f"{d}/out.json"))["frames"][0]["metrics"]["float_ssim"]
    assert fastssim.ssim(base, noisy, preset="vmaf") == pytest.approx(got, abs=2e-6)  # printed to 6 decimals


@pytest.mark.parametrize("preset", ["piq", "vmaf"])
def test_downsampling_presets_take_the_range_of_integer_input_before_downsampling(preset):
    """piq's and libvmaf's presets downsample (512 px: f = 2) into float images; uint8 input keeps
    its dtype's range, 255, as the same images scaled to [0, 1] with data_range=1.0 (piq's used to
    be refused as float input without a data_range; libvmaf's range is fixed at 255)."""
    from images import jpeg
    x = colour()
    y = jpeg(x, quality=15)
    got = fastssim.ssim(x, y, channel_axis=-1, preset=preset)
    scaled = fastssim.ssim(x / 255.0, y / 255.0, channel_axis=-1, preset=preset, data_range=1.0)
    assert got == pytest.approx(scaled, abs=1e-9) and 0.5 < got < 0.95
    if preset == "piq":  # float input still needs its range said
        with pytest.raises(ValueError, match="data_range is required for floating-point input"):
            fastssim.ssim(x / 255.0, y / 255.0, channel_axis=-1, preset=preset)


def test_the_preset_parameter_of_the_docstrings_names_every_preset():
    """The API reference is generated from the docstrings: their ``preset`` parameter lists every
    preset there is (it named 7 of 17 before the docs site showed it)."""
    import inspect
    taking = [f for f in (getattr(fastssim, n) for n in fastssim.__all__ if n != "__version__")
              if inspect.isfunction(f) and "preset" in inspect.signature(f).parameters
              and "Reproduce another implementation's numbers" in f.__doc__]  # the shared entry
    assert {f.__name__ for f in taking} >= {"ssim", "ms_ssim", "ssim_batch", "ssim_slices", "dssim"}
    for f in taking:
        missing = [name for name in PRESETS if repr(name) not in f.__doc__]
        assert missing == [], (f.__name__, missing)
