"""`fastssim report` on big outputs: the summary, the dataset table and the paired comparison of
a generated results directory of ``FASTSSIM_BENCH_REPORT_ROWS`` rows (default 10^7: 4 methods x
2.5 million references in 10 datasets, SSIM and PSNR).

    python -m pytest benchmarks/test_report_scale.py -q -s
"""

import os
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fastssim.batch.writer import SCHEMA

ROWS = int(os.environ.get("FASTSSIM_BENCH_REPORT_ROWS", str(10 ** 7)))


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    out = tmp_path_factory.mktemp("big")
    rng = np.random.default_rng(0)
    per = ROWS // 4
    refs = pa.array([f"DS{i % 10}/{i:08d}.png" for i in range(per)])
    for k, method in enumerate(["bicubic", "edsr", "rcan", "swinir"]):
        cols = {f.name: pa.nulls(per, f.type) for f in SCHEMA}
        cols.update(method=pa.array([method] * per), ref=refs, dist=refs, status=pa.array(["ok"] * per),
                    ssim=pa.array(rng.uniform(0.8, 0.95, per) + 0.01 * k), psnr=pa.array(rng.normal(30 + k, 2, per)))
        table = pa.table(cols, schema=SCHEMA).replace_schema_metadata(
            {b"fastssim.params": b'{"metrics": ["ssim", "psnr"], "schema": 2}'})
        pq.write_table(table, out / f"part-{method}.parquet")
    return str(out)


#: The three reports, as a user runs them (a fresh process each: its time includes start-up).
COMMANDS = {
    "summary (mean, median)": ["--stats", "mean,median"],
    "--by-dataset psnr,ssim": ["--by-dataset", "--metrics", "psnr,ssim"],
    "--baseline bicubic, psnr,ssim, per dataset": ["--baseline", "bicubic", "--metrics", "psnr,ssim"],
}
#: Runs the command in this process and prints its peak resident memory (MB) last.
CHILD = ("import resource, sys; from fastssim.cli import main; sys.stdout = open(__import__('os').devnull, 'w'); "
         "code = main(sys.argv[1:]); sys.stderr.write('\\nRSS %d\\n' % "
         "(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)); sys.exit(code)")


def test_report_scale(big):
    results = {}
    for label, args in COMMANDS.items():
        t = time.perf_counter()
        r = subprocess.run([sys.executable, "-c", CHILD, "report", big, *args], capture_output=True, text=True)
        seconds = time.perf_counter() - t
        assert r.returncode == 0, r.stderr
        results[label] = (seconds, int(r.stderr.rsplit("RSS ", 1)[1]))
    print(f"\n{ROWS} rows:")
    for label, (seconds, rss) in results.items():
        print(f"  fastssim report {label}: {seconds:.1f} s, peak RSS {rss} MB")
