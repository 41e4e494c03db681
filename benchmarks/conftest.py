"""Collects each benchmark's median and prints throughput and ratios to the peers; writes, per
benchmark file, the results file the docs' benchmarks page is built from (``benchmarks/results``)."""

import collections
from pathlib import Path

import pytest

RESULTS = collections.defaultdict(dict)  # workload -> {impl: (median seconds, pixels)}
FILES = collections.defaultdict(list)  # benchmark file's stem -> its workloads, in order

#: each benchmark file's section title on the docs' benchmarks page
TITLES = {
    "test_cpu_ssim": "SSIM on the CPU against OpenCV and scikit-image (quiet)",
    "test_cpu_gradient": "SSIM's gradient (forward + backward) against the PyTorch libraries",
    "test_distances": "MSE, PSNR, L2 and cosine against NumPy",
    "test_presets": "Presets against the libraries they reproduce",
}


@pytest.fixture
def record(benchmark, request):
    stem = Path(str(request.node.fspath)).stem

    def _record(workload, impl, pixels):
        RESULTS[workload][impl] = (benchmark.stats.stats.median, pixels)
        if workload not in FILES[stem]:
            FILES[stem].append(workload)
    return _record


def _markdown(workloads):
    lines = ["| workload | implementation | median ms | Mpx/s | fastssim speed-up |", "|---|---|---:|---:|---:|"]
    for workload in workloads:
        impls = RESULTS[workload]
        ours = impls.get("fastssim")
        for impl, (t, px) in sorted(impls.items(), key=lambda kv: kv[1][0]):
            ratio = f"{t / ours[0]:.1f}x" if ours and impl != "fastssim" else ""
            lines.append(f"| {workload} | {impl} | {t * 1e3:.2f} | {px / t / 1e6:.1f} | {ratio} |")
    return "\n".join(lines)


def pytest_sessionfinish(session):
    if not FILES or session.config.getoption("benchmark_disable", False):
        return
    try:
        from benchmarks import results
    except ImportError:
        import results  # type: ignore[no-redef]
    args = " ".join(session.config.invocation_params.args)
    for stem, workloads in FILES.items():
        results.write(stem, TITLES.get(stem, stem), _markdown(workloads), [], peers=("opencv-python-headless",
                      "scikit-image", "torch", "pytorch_msssim", "torchmetrics", "kornia", "sewar"),
                      command=f"python -m pytest {args}",
                      notes="pytest-benchmark, warm rounds; the median of the rounds. Every implementation "
                            "computes the same convention in the same run (see the benchmark file's docstring).")


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    tr = terminalreporter
    tr.section("fastssim throughput (median of warm rounds)")
    tr.write_line(f"{'workload':<34} {'implementation':<16} {'median ms':>10} {'Mpx/s':>9} {'fastssim speed-up':>18}")
    for workload, impls in RESULTS.items():
        ours = impls.get("fastssim")
        for impl, (t, px) in sorted(impls.items(), key=lambda kv: kv[1][0]):
            ratio = f"{t / ours[0]:.1f}x" if ours and impl != "fastssim" else ""
            tr.write_line(f"{workload:<34} {impl:<16} {t * 1e3:>10.2f} {px / t / 1e6:>9.1f} {ratio:>18}")
