"""Properties of the kernels, checked with hypothesis on generated arrays."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastssim
import naive

SETTINGS = settings(deadline=None, max_examples=25, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def image_pairs(draw, dtype=np.float64, min_side=7, max_side=40, ndim=2):
    shape = tuple(draw(st.integers(min_side, max_side)) for _ in range(ndim))
    elems = st.floats(0, 1, width=64 if dtype == np.float64 else 32)
    x = draw(hnp.arrays(dtype, shape, elements=elems))
    y = draw(hnp.arrays(dtype, shape, elements=elems))
    return x, y


OPTS = dict(data_range=1.0, win_size=7)


@SETTINGS
@given(image_pairs())
def test_symmetric_bounded_and_matches_naive(pair):
    x, y = pair
    s = fastssim.ssim(x, y, **OPTS)
    assert -1.0 <= s <= 1.0
    assert fastssim.ssim(y, x, **OPTS) == pytest.approx(s, abs=1e-12)
    assert s == pytest.approx(naive.ssim(x, y, 1.0, win_size=7), abs=1e-9)


@SETTINGS
@given(image_pairs(dtype=np.float32))
def test_identity_is_exactly_one(pair):
    x, _ = pair
    assert fastssim.ssim(x, x, **OPTS) == 1.0
    assert fastssim.ssim(x, x.copy(), **OPTS) == 1.0
    assert (fastssim.ssim_map(x, x, **OPTS) == 1.0).all()


@SETTINGS
@given(st.integers(0, 255), st.integers(7, 30), st.integers(7, 30))
def test_constant_images_score_one(value, h, w):
    x = np.full((h, w), value, dtype=np.uint8)
    assert fastssim.ssim(x, x, win_size=7) == 1.0


@SETTINGS
@given(st.integers(1, 6), st.integers(7, 24), st.integers(7, 24), st.integers(0, 2**32 - 1))
def test_batch_equals_loop(n, h, w, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (n, h, w), dtype=np.uint8)
    y = rng.integers(0, 256, (n, h, w), dtype=np.uint8)
    got = fastssim.ssim_batch(x, y, win_size=7)
    assert got.shape == (n,)
    np.testing.assert_array_equal(got, [fastssim.ssim(a, b, win_size=7) for a, b in zip(x, y)])


@SETTINGS
@given(image_pairs(ndim=3, min_side=7, max_side=14), st.integers(0, 2))
def test_slices_equal_loop(pair, axis):
    x, y = pair
    got = fastssim.ssim_slices(x, y, axis=axis, **OPTS)
    loop = [fastssim.ssim(np.take(x, i, axis), np.take(y, i, axis), **OPTS) for i in range(x.shape[axis])]
    np.testing.assert_allclose(got, loop, rtol=0, atol=1e-12)


@SETTINGS
@given(image_pairs(min_side=14, max_side=40))
def test_strided_and_fortran_equal_contiguous(pair):
    x, y = pair
    ref = fastssim.ssim(x, y, **OPTS)
    assert fastssim.ssim(np.asfortranarray(x), np.asfortranarray(y), **OPTS) == pytest.approx(ref, abs=1e-12)
    assert fastssim.ssim(x.T, y.T, **OPTS) == pytest.approx(ref, abs=1e-12)
    sub = fastssim.ssim(x[::2, ::2], y[::2, ::2], **OPTS)
    assert sub == pytest.approx(fastssim.ssim(x[::2, ::2].copy(), y[::2, ::2].copy(), **OPTS), abs=1e-12)
    flipped = fastssim.ssim(x[::-1], y[::-1], **OPTS)
    assert flipped == pytest.approx(ref, abs=1e-12)


def test_thread_count_does_not_change_result():
    import numba
    rng = np.random.default_rng(0)
    x = rng.random((300, 700))
    y = x + 0.1 * rng.random((300, 700))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = fastssim.ssim(x, y, data_range=1.0)
    finally:
        numba.set_num_threads(before)
    assert fastssim.ssim(x, y, data_range=1.0) == one


def test_thread_safe_from_python_threads():
    from concurrent.futures import ThreadPoolExecutor
    rng = np.random.default_rng(0)
    pairs = [(rng.random((96, 96)), rng.random((96, 96))) for _ in range(16)]
    serial = [fastssim.ssim(a, b, data_range=1.0) for a, b in pairs]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(lambda p: fastssim.ssim(*p, data_range=1.0), pairs))
    assert threaded == serial


@pytest.mark.parametrize("win", [1, 3, 7, 11])
def test_every_row_group_remainder_matches_naive(win):
    """2-D bands are filtered four output rows per sweep (pairs under four taps) and a band's
    last group may hold one to three rows, filtering stale ring slots into the rows it drops.
    Every remainder, in one band and after a full band of 128 rows, gives the naive map row by
    row, and the masked mean of just the last rows is theirs."""
    rng = np.random.default_rng(win)
    for ho in (1, 2, 3, 4, 5, 6, 7, 129, 130, 131, 133):
        x = rng.random((ho + win - 1, 23))
        y = np.clip(x + 0.3 * rng.random(x.shape) - 0.15, 0, 1)
        got = fastssim.ssim_map(x, y, data_range=1.0, win_size=win, mode="valid")
        ref = naive.ssim_map(x, y, 1.0, win_size=win, mode="valid")
        assert got.shape == ref.shape == (ho, 24 - win)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12, err_msg=f"{ho} output rows")
        mask = np.zeros(x.shape, bool)
        mask[-(win // 2) - min(ho, 3):x.shape[0] - win // 2, :] = True  # the last rows' centres
        s = fastssim.ssim(x, y, data_range=1.0, win_size=win, mask=mask)
        assert s == pytest.approx(ref[-min(ho, 3):].mean(), abs=1e-12)
    if win == 1:  # once failed to compile (the paired filter read a second tap); volumes too
        v = rng.random((6, 7, 8))
        w = np.clip(v + 0.3 * rng.random(v.shape) - 0.15, 0, 1)
        assert fastssim.ssim(v, w, data_range=1.0, win_size=1) == pytest.approx(
            naive.ssim(v, w, 1.0, win_size=1), abs=1e-12)


@pytest.mark.parametrize("win", [3, 7])
def test_every_plane_group_remainder_matches_naive(win):
    """Volumes are filtered along D four output planes per sweep (pairs under four taps), the
    last group holding one to three planes and filtering stale ring planes into the ones it
    drops (never-written ones in a volume of fewer than four output planes); along H into the
    ring of planes two rows per sweep, an odd band ending with one. Every remainder (planes
    1-9, rows 5-7 and 33, past a band of 32) gives the naive map plane by plane, float32 and
    float64, and a mask on the last planes averages just them."""
    rng = np.random.default_rng(win)
    for do in (1, 2, 3, 4, 5, 6, 7, 9):
        ho = (5, 6, 7, 33)[do % 4]
        for dt, tol in ((np.float64, 1e-12), (np.float32, 2e-5)):
            x = rng.random((do + win - 1, ho + win - 1, 19)).astype(dt)
            y = np.clip(x + 0.3 * rng.random(x.shape) - 0.15, 0, 1).astype(dt)
            got = fastssim.ssim_map(x, y, data_range=1.0, win_size=win, mode="valid")
            ref = naive.ssim_map(x.astype(float), y.astype(float), 1.0, win_size=win, mode="valid")
            assert got.shape == ref.shape == (do, ho, 20 - win)
            np.testing.assert_allclose(got, ref, rtol=0, atol=tol, err_msg=f"{do} planes, {dt.__name__}")
            assert fastssim.ssim(x, y, data_range=1.0, win_size=win) == pytest.approx(ref.mean(), abs=tol)
            mask = np.zeros(x.shape, bool)
            mask[-(win // 2) - min(do, 3):x.shape[0] - win // 2] = True  # the last planes' centres
            s = fastssim.ssim(x, y, data_range=1.0, win_size=win, mask=mask)
            assert s == pytest.approx(ref[-min(do, 3):].mean(), abs=tol)
