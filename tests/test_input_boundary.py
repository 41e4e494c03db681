"""What the API accepts at its boundary: exact values or a clear error, never a silent wrong
number (ndarray subclasses, byte order, Python lists, 64-bit integers, huge data ranges)."""

import numpy as np
import pyarrow as pa
import pytest

import fastssim
from fastssim.integrations.skimage import structural_similarity


@pytest.fixture(scope="module")
def pair(cam):
    rng = np.random.default_rng(0)
    a = cam[:96, :96].astype(np.int64) * 4  # 10-bit values from a real image
    b = np.clip(a + rng.integers(-40, 40, a.shape), 0, 1023)
    return a, b


def test_masked_arrays_refused(pair):
    a, b = pair
    m = np.ma.masked_array(a.astype(np.uint16), mask=a > 500)
    for f in (fastssim.ssim, fastssim.psnr, fastssim.mse, fastssim.ssim_map):
        with pytest.raises(TypeError, match=r"x is a masked array; fastssim has no masked SSIM and would ignore "
                                            r"the mask: pass x.filled\(value\)"):
            f(m, b.astype(np.uint16))


def test_matrix_and_memmap_are_plain_arrays(pair, tmp_path):
    a, b = (v.astype(np.uint8) // 4 for v in pair)
    with pytest.warns(PendingDeprecationWarning):  # NumPy's, for making a matrix
        ma, mb = np.matrix(a), np.matrix(b)
    assert fastssim.ssim(ma, mb) == fastssim.ssim(a, b)
    assert fastssim.mse(ma, mb) == fastssim.mse(a, b)
    mm = np.memmap(tmp_path / "a.raw", dtype=np.uint8, mode="w+", shape=a.shape)
    mm[:] = a
    assert fastssim.ssim(mm, b) == fastssim.ssim(a, b)


def test_byte_order_is_not_a_dtype_difference(pair):
    a, b = (v.astype(np.uint16) for v in pair)
    expected = fastssim.ssim(a, b)
    assert fastssim.ssim(a.astype(">u2"), b) == expected
    assert fastssim.ssim(a.astype(">u2"), b.astype(">u2")) == expected
    assert fastssim.psnr(a.astype(">u2"), b) == fastssim.psnr(a, b)
    with pytest.warns(UserWarning, match="Setting data_range based on im1.dtype"):  # as scikit-image warns
        assert structural_similarity(a.astype(">u2"), b) == structural_similarity(a, b)


def test_python_lists_of_ints_need_a_range(pair):
    a, b = (v.astype(np.uint8) // 4 for v in pair)
    msg = r"x is a Python sequence of integers, which NumPy makes int64: its range \(2\^64\) is not your data's"
    for f in (fastssim.ssim, fastssim.psnr, fastssim.dssim, structural_similarity):
        with pytest.raises(ValueError, match=msg):
            f(a.tolist(), b)
    with pytest.raises(ValueError, match=msg.replace("x is", "y is").replace("(x", "(y")):
        fastssim.ssim(a, b.tolist())
    wide = a.astype(np.int64), b.astype(np.int64)
    assert fastssim.ssim(a.tolist(), b.tolist(), data_range=255) == fastssim.ssim(*wide, data_range=255)
    assert fastssim.mse(a.tolist(), b.tolist()) == fastssim.mse(a, b)  # no range needed


def test_64bit_integers_exact_or_refused(pair):
    a, b = pair
    for offset, dt in ((2 ** 60, np.int64), (2 ** 64 - 2000, np.uint64), (-(2 ** 62), np.int64)):
        x = (a.astype(object) + offset).astype(dt)
        y = (b.astype(object) + offset).astype(dt)
        assert fastssim.mse(x, y) == fastssim.mse(a, b)  # differences only: exact
        with pytest.raises(ValueError, match=r"integer values up to \d+ \(beyond 2\^53\) cannot be computed exactly "
                                            r"in float64, and SSIM depends on absolute values"):
            fastssim.ssim(x, y, data_range=1023)
    # within 2^53, int64 is exact and equals the float64 computation
    x, y = a + 2 ** 40, b + 2 ** 40
    assert fastssim.ssim(x, y, data_range=1023) == fastssim.ssim(x.astype(float), y.astype(float), data_range=1023)


def test_32bit_integers_beyond_float32_use_float64(pair):
    a, b = pair
    x, y = (v.astype(np.int32) + 2 ** 30 for v in (a, b))
    exact = fastssim.ssim(x.astype(np.float64), y.astype(np.float64), data_range=1023)
    assert fastssim.ssim(x, y, data_range=1023) == exact
    lossy = fastssim.ssim(x.astype(np.float32), y.astype(np.float32), data_range=1023)
    assert lossy != exact  # what the old float32 conversion gave


@pytest.mark.parametrize("bad", [1e300, float("inf"), float("nan"), 0, -1])
def test_data_range_out_of_bounds(pair, bad):
    a, b = (v.astype(np.float64) for v in pair)
    for f in (fastssim.ssim, fastssim.psnr, structural_similarity):
        with pytest.raises(ValueError, match="data_range"):
            f(a, b, data_range=bad)


def test_float32_constants_overflow_named(pair):
    a, b = (v.astype(np.float32) for v in pair)
    with pytest.raises(ValueError, match=r"data_range=1e\+30 makes C2 = \(K2 L\)\^2 overflow float32"):
        fastssim.ssim(a, b, data_range=1e30)


def test_score_pairs_every_problem_is_a_row(pair, tmp_path):
    a, b = (v.astype(np.uint8) // 4 for v in pair)
    items = [(a, b), (str(tmp_path / "x.png"), b), 42, (a, a, a, a), (a, b[:50]), ("m", a, a)]
    table = pa.Table.from_batches(list(fastssim.score_pairs(items, metrics="ssim,psnr"))).to_pandas()
    table = table.set_index("ref").sort_index()
    assert len(table) == 6
    assert table.loc["0", "ssim"] == fastssim.ssim(a, b) and table.loc["0", "psnr"] == fastssim.psnr(a, b)
    assert table.loc["0", "mse"] is None or np.isnan(table.loc["0", "mse"])  # not asked for
    assert "item 1 mixes a path and an array" in table.loc["1", "error"]
    assert "item 2 is not a (ref, dist) or (method, ref, dist) tuple" in table.loc["2", "error"]
    assert "item 3 is not a" in table.loc["3", "error"]
    assert "shape mismatch" in table.loc["4", "error"]
    assert table.loc["5", "status"] == "ok" and table.loc["5", "method"] == "m"


@pytest.mark.parametrize("kwargs, msg", [
    (dict(data_range=1e300), "data range must be a positive finite number"),
    (dict(data_range=float("inf")), "data range must be a positive finite number"),
    (dict(data_range="max"), "data range must be one of dtype, ref, pair or a positive number"),
    (dict(max_pixels=-5), "max_pixels must be a positive integer"),
    (dict(workers=0), "workers must be a positive integer"),
    (dict(metrics="ssim,foo"), r"unknown metric\(s\) foo; choose from"),
    (dict(slices=3), r"slices must be an axis of a volume"),
    (dict(crop_border=-1), "crop_border must be a non-negative integer"),
    (dict(preset="nope"), "unknown preset 'nope'"),
    (dict(timeout=0), "the pair timeout must be a positive number"),
    (dict(channel_axis="last"), "channel_axis must be an axis number"),
])
def test_score_pairs_options_checked_when_called(kwargs, msg):
    with pytest.raises(fastssim.ConfigError, match=msg):
        fastssim.score_pairs([], **kwargs)


def test_score_pairs_channel_axis(cam):
    chw = np.stack([cam[:64, :64]] * 3)
    dist = np.clip(chw.astype(int) + 9, 0, 255).astype(np.uint8)
    t = pa.Table.from_batches(list(fastssim.score_pairs([(chw, dist)], channel_axis=0))).to_pylist()[0]
    assert t["status"] == "ok" and t["ssim"] == fastssim.ssim(chw, dist, channel_axis=0)


def _traced_peak(f, *args, **kwargs):
    """The peak of Python-traced memory (NumPy's and the kernels' buffers) during ``f(*args)``,
    after a first call that compiles what it needs (compiling allocates too)."""
    import tracemalloc

    f(*args, **kwargs)
    tracemalloc.start()
    try:
        f(*args, **kwargs)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dtype", ["int16", "int32"])
def test_signed_integers_read_in_place(dtype):
    """int16 (CT in Hounsfield units) and int32 are read by the CPU kernel row by row: the same
    numbers as converting the whole image first, with no whole-image copy made."""
    from images import camera

    cam = camera().astype(np.int32) * 16 - 1024  # a real image as CT-like values, negative included
    x = cam.astype(dtype)
    y = np.clip(cam + np.random.default_rng(0).normal(0, 60, cam.shape), -1024, 3071).astype(dtype)
    got = fastssim.ssim(x, y, data_range=4095)
    assert got == fastssim.ssim(x.astype(np.float32), y.astype(np.float32), data_range=4095)  # bit for bit
    vol_x, vol_y = np.stack([x[:60, :70]] * 12), np.stack([y[:60, :70]] * 12)
    assert fastssim.ssim(vol_x, vol_y, data_range=4095) == fastssim.ssim(
        vol_x.astype(np.float32), vol_y.astype(np.float32), data_range=4095)
    assert fastssim.mse(x, y) == fastssim.mse(x.astype(np.float64), y.astype(np.float64))
    peak = _traced_peak(fastssim.ssim, x, y, data_range=4095)
    assert peak < 4 * x.size  # converting first made two float32 copies: 8 * x.size bytes


def test_same_map_reads_the_reflection_in_place():
    """The 'same' map is the 'valid' map of the images extended by symmetric reflection, bit for
    bit, in 2-D, with channels and for a volume, and scikit-image's full map; it is made without
    padded copies of the images: the map is the only large allocation."""
    from skimage.metrics import structural_similarity

    from images import colour

    ref = colour()[:96, :130]
    dist = np.clip(ref.astype(np.int16) + np.random.default_rng(1).integers(-30, 31, ref.shape), 0, 255).astype(
        np.uint8)
    opts = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, full=True, data_range=255)
    cases = ((ref[..., 0], dist[..., 0], None), (ref, dist, -1), (ref[:20, :24], dist[:20, :24], -1),
             (np.stack([ref[:40, :50, 0]] * 14), np.stack([dist[:40, :50, 0]] * 14), None))
    for x, y, ca in cases:
        got = fastssim.ssim_map(x, y, channel_axis=ca)
        assert got.shape == x.shape
        pads = [(5, 5)] * (x.ndim - (ca is not None)) + [(0, 0)] * (ca is not None)
        padded = fastssim.ssim_map(np.pad(x, pads, mode="symmetric"), np.pad(y, pads, mode="symmetric"),
                                   channel_axis=ca, mode="valid")
        assert np.array_equal(got, padded)
        want = structural_similarity(x.astype(np.float64), y.astype(np.float64), channel_axis=ca, **opts)[1]
        np.testing.assert_allclose(got, want, atol=3e-4)
    # besides the map, only the kernel's per-task buffers (~160 kB per running thread): padding
    # the two images first cost twice the input again
    big_x, big_y = np.tile(ref[..., 1], (12, 12)), np.tile(dist[..., 1], (12, 12))
    peak = _traced_peak(fastssim.ssim_map, big_x, big_y)
    assert peak < 4 * big_x.size + big_x.nbytes  # the float32 map, and less than the input again


def test_float16_read_in_place():
    """float16 (half-precision model outputs) is decoded by the CPU kernel row by row from its bit
    patterns: every one of the 65536 patterns decodes as NumPy converts it, the scores equal those
    of float32 copies bit for bit (2-D, colour, a volume, a batch, a mask, the 'same' map), a
    non-finite sample is reported as for float32, and no converted copy is made."""
    from fastssim.kernels.cpu import load as _cpu_load
    from images import colour

    patterns = np.arange(2 ** 16, dtype=np.uint16)
    want = patterns.view(np.float16).astype(np.float32)
    finite = ~np.isnan(want)
    image = _cpu_load.descriptions(1)[0]
    five = _cpu_load.describe(patterns.view(np.float16).reshape(1, 1, 1, 1, -1), np.dtype(np.float32), image)
    for step in (1, 2):  # contiguous, and every other sample
        got = np.full(patterns.size // step, -7, np.float32)
        image[5] = step
        _cpu_load.read_row(image, 0, 0, 0, 0, 0, got.size, got, 0)
        assert np.array_equal(got.view(np.uint32)[finite[::step]], want[::step].view(np.uint32)[finite[::step]])  # signed zeros, subnormals, inf
        assert np.isnan(got[~finite[::step]]).all()
    del five

    img = colour()[:120, :150].astype(np.float16) / np.float16(255)
    noisy = np.clip(img + np.random.default_rng(2).normal(0, 0.05, img.shape), 0, 1).astype(np.float16)
    f32 = dict(x=img.astype(np.float32), y=noisy.astype(np.float32))
    assert fastssim.ssim(img, noisy, data_range=1, channel_axis=-1) == fastssim.ssim(
        f32["x"], f32["y"], data_range=1, channel_axis=-1)
    assert fastssim.ssim(img[..., 0], noisy[..., 0], data_range=1) == fastssim.ssim(
        f32["x"][..., 0], f32["y"][..., 0], data_range=1)
    assert np.array_equal(fastssim.ssim_map(img, noisy, data_range=1, channel_axis=-1),
                          fastssim.ssim_map(f32["x"], f32["y"], data_range=1, channel_axis=-1))
    vol, vol_n = np.stack([img[:40, :50, 0]] * 13), np.stack([noisy[:40, :50, 0]] * 13)
    assert fastssim.ssim(vol, vol_n, data_range=1) == fastssim.ssim(
        vol.astype(np.float32), vol_n.astype(np.float32), data_range=1)
    batch, batch_n = np.moveaxis(img, -1, 0), np.moveaxis(noisy, -1, 0)
    np.testing.assert_array_equal(fastssim.ssim_batch(batch, batch_n, data_range=1),
                                  fastssim.ssim_batch(batch.astype(np.float32), batch_n.astype(np.float32),
                                                      data_range=1))
    mask = np.zeros(img.shape[:2], bool)
    mask[30:90, 40:120] = True
    assert fastssim.ssim(img[..., 1], noisy[..., 1], data_range=1, mask=mask) == fastssim.ssim(
        f32["x"][..., 1], f32["y"][..., 1], data_range=1, mask=mask)

    bad = noisy[..., 0].copy()
    bad[7, 9] = np.inf
    with pytest.raises(ValueError) as half_err:
        fastssim.ssim(img[..., 0], bad, data_range=1)
    with pytest.raises(ValueError) as single_err:
        fastssim.ssim(f32["x"][..., 0], bad.astype(np.float32), data_range=1)
    assert str(half_err.value) == str(single_err.value)

    big, big_n = np.tile(img[..., 2], (6, 6)), np.tile(noisy[..., 2], (6, 6))
    peak = _traced_peak(fastssim.ssim, big, big_n, data_range=1)
    assert peak < 2 * big.nbytes  # converting first made two float32 copies: 4x the input


def test_float16_ms_ssim_read_in_place():
    """MS-SSIM of float16 input makes no converted copy either: its first scale is read by the
    SSIM kernel and its halving decodes the bit patterns row by row (every one of the 65536
    exactly: NaN stays NaN, inf inf), so the scores equal those of float32 copies bit for bit
    (grey, a channel-last colour batch, a volume, an odd size), and the traced peak is the
    half-size copies' (a float32 copy of the pair would be four times the input)."""
    from fastssim.kernels.engine_ms import halve
    from images import colour

    patterns = np.arange(2 ** 16, dtype=np.uint16).view(np.float16).reshape(256, 256)
    blocks = np.repeat(np.repeat(patterns, 2, axis=0), 2, axis=1)  # each pattern a 2x2 block
    got = halve(blocks[None, None, None], 2, np.dtype(np.float32))[0, 0, 0]
    want = patterns.astype(np.float32)
    assert np.array_equal(got, want, equal_nan=True)
    got3 = halve(np.stack([blocks[:, :64]] * 2)[None, None], 3, np.dtype(np.float32))[0, 0, 0]
    assert np.array_equal(got3, want[:, :32], equal_nan=True)

    img = colour()[:203, :245].astype(np.float16) / np.float16(255)
    noisy = np.clip(img + np.random.default_rng(4).normal(0, 0.05, img.shape), 0, 1).astype(np.float16)
    w3 = dict(weights=(0.3, 0.3, 0.4), data_range=1)
    for a, b, kw, f in [(img[..., 0], noisy[..., 0], dict(data_range=1), fastssim.ms_ssim),
                        (img[:201, :243, 1], noisy[:201, :243, 1], dict(data_range=1), fastssim.ms_ssim),
                        (np.stack([img] * 3)[:, ::-1], np.stack([noisy] * 3)[:, ::-1], dict(channel_axis=-1, **w3),
                         fastssim.ms_ssim_batch),
                        (np.stack([img[:60, :70, 0]] * 41), np.stack([noisy[:60, :70, 0]] * 41),
                         dict(win_size=7, **w3), fastssim.ms_ssim)]:
        got = f(a, b, **kw)
        assert np.array_equal(got, f(a.astype(np.float32), b.astype(np.float32), **kw))
        assert np.all((0.5 < np.asarray(got)) & (np.asarray(got) < 0.999))
    big, big_n = np.tile(img[..., 2], (6, 6)), np.tile(noisy[..., 2], (6, 6))
    peak = _traced_peak(fastssim.ms_ssim, big, big_n, data_range=1)
    assert peak < 2 * big.nbytes  # the half-size float32 copies: big.nbytes; converting first: 4x


@pytest.mark.parametrize("dtype", ["uint8", "float32", "float64"])
def test_channel_last_pixels_filtered_together(dtype):
    """Channel-last colour (each pixel's channels side by side) is read as rows of W * C samples
    and its channels filtered together: every channel scores as it does alone, for 2 to 4
    channels with levels far apart (each channel its own shift), widths across several column
    bands, odd sizes, views that are not contiguous, and a NaN in one channel is reported as it
    is for that channel alone."""
    from fastssim.kernels.ssim_plan import interleaved_lanes
    from images import colour, noise

    ref = np.tile(colour(), (1, 3, 1))[:141, :1283]  # 1283 columns: three bands and a remainder
    dist = noise(ref, 12.0, seed=3)
    scale = 1.0 if dtype == "uint8" else 1.0 / 255
    kw = {} if dtype == "uint8" else dict(data_range=1.0)

    def cast(a):
        return a if dtype == "uint8" else (a * scale).astype(dtype)

    four_x = np.concatenate([ref, 255 - ref[..., :1]], axis=-1)
    four_y = np.concatenate([dist, 255 - dist[..., :1]], axis=-1)
    if dtype != "uint8":  # a fourth channel far from the others' level, as in alpha or depth
        four_x, four_y = cast(four_x) + 40, cast(four_y) + 40
        kw4 = dict(data_range=1.0)
    else:
        four_x, four_y, kw4 = four_x, four_y, kw
    cases = [(cast(ref), cast(dist), kw), (cast(ref[:, :, :2].copy()), cast(dist[:, :, :2].copy()), kw),
             (four_x, four_y, kw4), (cast(ref[:37, :29]), cast(dist[:37, :29]), kw),
             (cast(ref)[:, ::-1, ::-1], cast(dist)[:, ::-1, ::-1], kw),  # mirrored: negative strides
             (cast(ref)[5:120, 7:900], cast(dist)[5:120, 7:900], kw),  # a crop: rows further apart
             (cast(ref)[..., 1:], cast(dist)[..., 1:], kw)]  # two channels of three: pixels 3 apart
    five = [np.moveaxis(x, -1, 0)[None, :, None] for x, _, _ in cases]  # (N, C, D, H, W) views
    assert [interleaved_lanes(v, v, 2, plain=True) for v in five] == [3, 2, 4, 3, None, 3, None]  # the others: planar
    for x, y, opts in cases:
        got = fastssim.ssim_batch(x[None], y[None], channel_axis=-1, **opts)[0]
        alone = [fastssim.ssim(np.ascontiguousarray(x[..., c]), np.ascontiguousarray(y[..., c]), **opts)
                 for c in range(x.shape[-1])]
        planar = fastssim.ssim(np.ascontiguousarray(np.moveaxis(x, -1, 0)),
                               np.ascontiguousarray(np.moveaxis(y, -1, 0)), channel_axis=0, **opts)
        assert got == pytest.approx(np.mean(alone), rel=0, abs=1e-9)
        assert fastssim.ssim(x, y, channel_axis=-1, **opts) == pytest.approx(planar, rel=0, abs=1e-9)
        assert 0.2 < got < 0.99  # a real comparison, not two equal images

    if dtype != "uint8":
        bad = cast(dist).copy()
        bad[40, 50, 1] = np.nan
        with pytest.raises(ValueError) as interleaved:
            fastssim.ssim(cast(ref), bad, channel_axis=-1, data_range=1.0)
        with pytest.raises(ValueError) as alone:
            fastssim.ssim(cast(ref)[..., 1].copy(), bad[..., 1].copy(), data_range=1.0)
        assert "(40, 50, 1)" in str(interleaved.value)  # the sample named, channel included
        assert str(interleaved.value) == str(alone.value).replace("(40, 50)", "(40, 50, 1)")


def test_row_readers_take_any_layout_as_its_contiguous_copy():
    """The SSIM kernel reads its images by address through row readers: strided, broadcast
    (zero-stride rows and columns), unaligned, byte-swapped and negative-stride views, in every
    input dtype, score bitwise as their C-contiguous copies (the map too), so no layout is read
    wrongly or compiles a kernel of its own."""
    from images import colour

    ref = colour()[:60, :70, 1]
    rng = np.random.default_rng(11)
    noisy = np.clip(ref + rng.normal(0, 12, ref.shape), 0, 255)

    def unaligned(a):
        u = np.ndarray(a.shape, a.dtype, buffer=bytearray(a.nbytes + 1), offset=1)
        u[...] = a
        assert not u.flags.aligned or a.itemsize == 1
        return u

    for dtype in ("uint8", "uint16", "int16", "int32", "float16", "float32", "float64"):
        x, y = ref.astype(dtype), noisy.astype(dtype)
        spaced = np.zeros((120, 140), dtype)
        spaced[::2, ::2] = y
        views = {"strided": spaced[::2, ::2], "flipped": y[::-1, ::-1], "zero-stride rows": np.broadcast_to(y[:1], y.shape),
                 "zero-stride columns": np.broadcast_to(y[:, :1], y.shape), "unaligned": unaligned(y),
                 "byte-swapped": y.astype(y.dtype.newbyteorder())}
        for name, view in views.items():
            copy = np.ascontiguousarray(view, dtype=dtype)
            got, want = fastssim.ssim(x, view, data_range=255), fastssim.ssim(x, copy, data_range=255)
            assert got == want, (dtype, name)
            assert np.array_equal(fastssim.ssim_map(x, view, data_range=255), fastssim.ssim_map(x, copy, data_range=255))
            assert -1 <= got < 1
