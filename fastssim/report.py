"""Summaries of a results directory: per method, n, errors and statistics of each metric."""

import csv
import io

import numpy as np

from .batch.writer import committed

METRICS = ("ssim", "ms_ssim", "dssim", "psnr", "mse")
STATS = ("mean", "std", "median", "min", "max")


def summarise(out):
    """One dict per method (sorted; ``None`` for runs without methods)."""
    t = committed(out)
    methods = t.column("method").to_pylist()
    status = np.array(t.column("status").to_pylist(), dtype=object)
    cols = {m: np.array([np.nan if v is None else v for v in t.column(m).to_pylist()], dtype=np.float64)
            for m in METRICS}
    present = [m for m in METRICS if np.isfinite(cols[m]).any() or np.isinf(cols[m]).any()]
    rows = []
    for method in sorted(set(methods), key=lambda m: (m is not None, m or "")):
        sel = np.array([m == method for m in methods], dtype=bool)
        ok = sel & (status == "ok")
        row = {"method": method if method is not None else "-", "n": int(sel.sum()),
               "errors": int(sel.sum() - ok.sum())}
        for m in present:
            v = cols[m][ok]
            finite = v[np.isfinite(v)]  # PSNR of identical pairs is inf
            for s in STATS:
                if v.size == 0:
                    row[f"{m}_{s}"] = None
                elif s in ("min", "max", "median"):
                    row[f"{m}_{s}"] = float(getattr(np, s)(v))
                else:
                    row[f"{m}_{s}"] = float(getattr(np, s)(finite)) if finite.size else float("inf")
        rows.append(row)
    return rows


def _fmt(v, metric):
    if v is None:
        return ""
    if isinstance(v, int):
        return str(v)
    if metric in ("ssim", "ms_ssim", "dssim"):
        return f"{v:.4f}"
    if metric == "psnr":
        return f"{v:.2f}"
    return f"{v:.4g}"


def render(rows, fmt="table"):
    """The summary as a terminal table, Markdown, or CSV (the metrics the rows hold)."""
    metrics = [m for m in METRICS if rows and f"{m}_mean" in rows[0]]
    header = ["method", "n", "errors"] + [f"{m}_{s}" for m in metrics for s in STATS]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()
    cells = [[str(r["method"]), str(r["n"]), str(r["errors"])]
             + [_fmt(r[f"{m}_{s}"], m) for m in metrics for s in STATS] for r in rows]
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        return "\n".join(lines) + "\n"
    if fmt != "table":
        raise ValueError(f"format must be table, markdown or csv, got {fmt!r}")
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
    lines += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
              for row in cells]
    return "\n".join(lines) + "\n"
