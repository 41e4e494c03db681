"""L2 distance and cosine similarity: fastssim (one fused pass for both, float64 accumulation)
beside the NumPy recipe users write (convert to float64, then norm and dot), warm, in one run:

    python -m pytest benchmarks/test_distances.py -q
"""

import numpy as np
import pytest



def _workloads():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (4096, 4096), dtype=np.uint8)
    yield "4096x4096 uint8", a, np.clip(a + rng.normal(0, 9, a.shape), 0, 255).astype(np.uint8)
    f = rng.random((2048, 2048, 3), dtype=np.float32)
    yield "2048x2048 RGB float32", f, (f + np.float32(0.05) * rng.random(f.shape, dtype=np.float32)).astype(np.float32)


WORKLOADS = {name: (x, y) for name, x, y in _workloads()}


def _numpy(x, y):
    a = x.astype(np.float64).ravel()
    b = y.astype(np.float64).ravel()
    return float(np.linalg.norm(a - b)), float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _fastssim(x, y):
    from fastssim.metrics.products import cosine_from_sums, l2_cosine_sums, l2_from_sums

    sums = l2_cosine_sums(x, y, backend="cpu")  # one pass for both, as the batch scorer does
    return l2_from_sums(sums), cosine_from_sums(sums)


@pytest.mark.parametrize("impl", ["fastssim", "numpy"])
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_l2_cosine_throughput(benchmark, record, workload, impl):
    x, y = WORKLOADS[workload]
    run = _fastssim if impl == "fastssim" else _numpy
    benchmark.group = f"l2+cosine {workload}"
    got = run(x, y)  # warm-up (compiles fastssim)
    want = _numpy(x, y)
    assert got == pytest.approx(want, rel=1e-10)
    benchmark.pedantic(run, args=(x, y), rounds=7, iterations=1)
    record(f"l2+cosine {workload}", impl, x.size)
