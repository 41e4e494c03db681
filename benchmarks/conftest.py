"""Collects each benchmark's median and prints throughput and ratios to the peers."""

import collections

import pytest

RESULTS = collections.defaultdict(dict)  # workload -> {impl: (median seconds, pixels)}


@pytest.fixture
def record(benchmark):
    def _record(workload, impl, pixels):
        RESULTS[workload][impl] = (benchmark.stats.stats.median, pixels)
    return _record


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
