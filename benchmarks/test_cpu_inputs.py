"""Inputs the CPU kernel reads in place: float16 images and the 'same' map (reflected borders),
fastssim side by side with scikit-image and with fastssim given converted/padded copies (what it
did before it read them in place).

    python -m pytest benchmarks/test_cpu_inputs.py -q

Run on request (not part of the test suite); every implementation runs warm.
"""

import numpy as np
import pytest
from skimage.metrics import structural_similarity

import fastssim

_RNG = np.random.default_rng(0)
_X = _RNG.random((2048, 2048), dtype=np.float32)
_Y = np.clip(_X + 0.1 * _RNG.standard_normal(_X.shape, dtype=np.float32), 0, 1)
HALF = (_X.astype(np.float16), _Y.astype(np.float16))
BYTES = ((_X * 255).astype(np.uint8), (_Y * 255).astype(np.uint8))
_SK = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)


def _half(impl):
    x, y = HALF
    if impl == "fastssim":
        return fastssim.ssim(x, y, data_range=1.0)
    if impl == "fastssim, converted first":
        return fastssim.ssim(x.astype(np.float32), y.astype(np.float32), data_range=1.0)
    return structural_similarity(x, y, data_range=1.0, **_SK)


def _same_map(impl):
    x, y = BYTES
    if impl == "fastssim":
        return fastssim.ssim_map(x, y)
    if impl == "fastssim, padded first":
        pad = lambda a: np.pad(a, 5, mode="symmetric")  # noqa: E731
        return fastssim.ssim_map(pad(x), pad(y), mode="valid")
    return structural_similarity(x, y, data_range=255, full=True, **_SK)[1]


CASES = [("2048x2048 float16", _half, HALF[0].size, "fastssim, converted first"),
         ("2048x2048 uint8 'same' map", _same_map, BYTES[0].size, "fastssim, padded first")]


@pytest.mark.parametrize("impl", ["fastssim", "before", "skimage"])
@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
def test_read_in_place(benchmark, record, case, impl):
    workload, run, pixels, before = CASES[case]
    impl = before if impl == "before" else impl
    benchmark.group = workload
    want = run(before)
    run(impl)  # warm-up
    got = benchmark.pedantic(run, args=(impl,), rounds=3 if impl == "skimage" else 10, iterations=1)
    np.testing.assert_allclose(got, want, atol=3e-4)
    record(workload, impl, pixels)
