"""`fastssim report` on big outputs: the summary, the dataset table and the paired comparison of
a generated results directory of ``FASTSSIM_BENCH_REPORT_ROWS`` rows (default 10^7: 4 methods x
2.5 million references in 10 datasets, SSIM and PSNR).

    python -m pytest benchmarks/test_report_scale.py -q -s
"""

import os
import resource
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fastssim.batch.writer import SCHEMA
from fastssim.report import paired, summarise, tables

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


def test_report_scale(big):
    timings = {}
    for label, run in (("summary (mean, median)", lambda: summarise(big, stats=["mean", "median"])),
                       ("--by-dataset psnr,ssim", lambda: tables.dataset_table(big, ["psnr", "ssim"])),
                       ("--baseline bicubic, psnr,ssim, per dataset", lambda: paired.compare(big, "bicubic",
                                                                                              metrics=["psnr", "ssim"]))):
        t = time.perf_counter()
        run()
        timings[label] = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n{ROWS} rows: " + "; ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + f"; peak RSS {peak:.0f} MB")
