"""Each method against a baseline, pair by pair.

For every method other than the baseline and every metric, on the references both scored
(a finite value on both sides): the mean of the paired differences (method - baseline), its
bootstrap confidence interval (percentile method: the pairs are resampled with replacement,
``resamples`` times, seedable; above ``BOOTSTRAP_MAX_PAIRS`` pairs, where the bootstrap
would cost resamples x pairs draws, the normal interval, which it then matches), the two-sided Wilcoxon
signed-rank p-value (SciPy), and how
many pairs the method wins, ties and loses (higher is better for SSIM, MS-SSIM and PSNR, lower
for MSE and DSSIM). Overall, and per dataset (see `load.encode`).
Everything is vectorised over pairs (Arrow dictionary codes, NumPy), and the bootstrap draws
its resamples in blocks of bounded size. The pairs enter the bootstrap in the order of their
reference paths, so a seed gives the same interval whatever order the rows were committed in.
"""

import csv
import io
import json
import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import config as cfg
from .load import group_columns, as_list, encode, load, matrix, natural
from .summary import layout

#: Metrics for which a larger value is better (the others: smaller).
HIGHER_IS_BETTER = {"ssim": True, "ms_ssim": True, "psnr": True, "mse": False, "dssim": False, "l2": False,
                    "cosine": True, "cw_ssim": True, "three_ssim": True, "ssim_masked": True,
                    "psnr_masked": True, "mse_masked": False}
FIELDS = ["dataset", "method", "metric", "n", "ci_method", "baseline_mean", "method_mean", "mean_diff", "ci_low",
          "ci_high", "p_wilcoxon", "wins", "ties", "losses"]
#: Bootstrap means drawn per block: bounds the index matrix at this many entries.
BLOCK_ENTRIES = 4_000_000


def bootstrap_ci(d, resamples=10_000, seed=0, level=0.95):
    """Percentile bootstrap interval of the mean of ``d`` (pairs resampled with replacement).

    Resample ``r`` is ``d[rng.integers(0, n, n)]`` drawn in order from
    ``numpy.random.default_rng(seed)``, so a plain loop with the same generator gives the
    same means.
    """
    d = np.asarray(d, dtype=np.float64)
    n = d.size
    if n == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    step = max(1, BLOCK_ENTRIES // n)
    for s in range(0, resamples, step):
        k = min(step, resamples - s)
        means[s:s + k] = d[rng.integers(0, n, size=(k, n))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def normal_ci(d, level=0.95):
    """The normal (CLT) interval of the mean of ``d``: mean +- z s / sqrt(n)."""
    from statistics import NormalDist

    d = np.asarray(d, dtype=np.float64)
    z = NormalDist().inv_cdf(0.5 + level / 2)
    half = z * d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else float("nan")
    return float(d.mean() - half), float(d.mean() + half)


def wilcoxon_p(d):
    """Two-sided Wilcoxon signed-rank p-value of the differences ``d`` (1.0 when all are 0).

    SciPy's ``wilcoxon`` with its defaults (zeros dropped, no continuity correction): its exact
    or permutation test up to ``EXACT_MAX`` differences, and above that its normal
    approximation, computed here from one plain sort instead of SciPy's stable argsort
    (4x faster on millions of pairs; equal to SciPy's to 1e-12, tested).
    """
    d = np.asarray(d, dtype=np.float64)
    if d.size > EXACT_MAX:
        return _normal_p(d)
    try:
        from scipy.stats import wilcoxon
    except ImportError:
        raise ImportError("paired statistics need SciPy for the Wilcoxon test: pip install 'fastssim[stats]'") from None
    if d.size == 0 or not np.any(d != 0):
        return 1.0
    return float(wilcoxon(d).pvalue)


#: Up to this many differences SciPy chooses an exact or permutation test; above it SciPy and
#: `_normal_p` both use the normal approximation.
EXACT_MAX = 50


def _normal_p(d):
    """The normal approximation of the signed-rank test: average ranks for ties, the variance's
    tie correction, zeros dropped, no continuity correction (SciPy's defaults)."""
    d = d[d != 0]
    n = d.size
    if n == 0:
        return 1.0
    # one sort of the magnitudes' bits with the sign as the lowest bit: equal magnitudes are
    # adjacent (a tie group), and each group's positives are counted without a second sort
    key = np.sort((np.abs(d).view(np.uint64) << np.uint64(1)) | (d > 0).astype(np.uint64))
    magnitude = key >> np.uint64(1)
    starts = np.flatnonzero(np.r_[True, magnitude[1:] != magnitude[:-1]])
    ties = np.diff(np.r_[starts, n]).astype(np.float64)
    positive = np.add.reduceat((key & np.uint64(1)).astype(np.float64), starts)
    r_plus = float(np.dot(starts + (ties + 1) / 2, positive))  # average ranks, from 1
    mean = n * (n + 1) / 4
    var = (n * (n + 1) * (2 * n + 1) - float(np.sum(ties ** 3 - ties)) / 2) / 24
    if var <= 0:
        return 1.0
    return math.erfc(abs(r_plus - mean) / math.sqrt(var) / math.sqrt(2))


def compare(outs, baseline, *, metrics=None, resamples=10_000, seed=0, level=0.95, by_dataset=True,
            mixed=False, group_by="auto"):
    """Rows of paired statistics of every method against ``baseline`` in the results directory
    ``outs`` (or several, joined: see `load.load`).

    Returns
    -------
    list of dict
        ``dataset`` ('all', or a dataset's name), ``method``, ``metric``, ``n`` (pairs both
        scored), ``ci_method``, ``baseline_mean``, ``method_mean``, ``mean_diff``, ``ci_low``,
        ``ci_high``, ``p_wilcoxon``, ``wins``, ``ties``, ``losses``.

    Raises
    ------
    ValueError
        The baseline is not a method, a method scores a reference twice, or directories differ.
    """
    t = load(outs, ["method", "ref", *HIGHER_IS_BETTER], mixed=mixed, as_text=group_columns(group_by))
    enc = encode(t, group_by)
    names, col = enc["names"], enc["col"]
    if baseline not in names:
        raise ValueError(f"baseline {baseline!r} is not a method of {', '.join(map(str, as_list(outs)))}; "
                         f"its methods are {', '.join(sorted(names))}")
    key = enc["ref_code"].astype(np.int64) * len(names) + col
    counts = np.bincount(key, minlength=len(enc["refs"]) * len(names))
    if counts.max(initial=0) > 1:
        dup = np.flatnonzero(counts[key] > 1)[:3]
        twice = sorted({(names[col[i]], enc["refs"][enc["ref_code"][i]].as_py()) for i in dup})
        raise ValueError("paired statistics need one pair per reference and method; "
                         + "; ".join(f"{m} scores {r} more than once" for m, r in twice))
    ds_names, ds_code = enc["datasets"], enc["ds_of_ref"]
    metrics = [m for m in (metrics or HIGHER_IS_BETTER) if t.null_count(m) < t.num_rows]
    tables = {m: matrix(t, m, enc) for m in metrics}
    del t
    groups = [("all", None)]
    if by_dataset and len(ds_names) > 1:
        groups += [(ds, ds_code == ds_names.index(ds)) for ds in sorted(ds_names, key=natural)]

    def one(m, j):  # a method against the baseline on one metric: its rows, overall and per dataset
        table = tables[m]
        b = table[:, names.index(baseline)]
        both = np.isfinite(b) & np.isfinite(table[:, j])
        sels = [(ds, both if g is None else both & g) for ds, g in groups]
        return [_row(ds, names[j], m, b[sel], table[sel, j], resamples, seed, level) for ds, sel in sels]

    tasks = [(m, j) for m in metrics for j, name in sorted(enumerate(names), key=lambda jn: jn[1]) if name != baseline]
    with ThreadPoolExecutor(max_workers=min(len(tasks), os.cpu_count() or 1) or 1) as pool:  # NumPy sorts in parallel
        return [row for rows in pool.map(lambda task: one(*task), tasks) for row in rows]


def _row(dataset, method, metric, base, other, resamples, seed, level):
    d = other - base
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    method_ci = "bootstrap" if d.size <= cfg.BOOTSTRAP_MAX_PAIRS else "normal"
    lo, hi = bootstrap_ci(d, resamples, seed, level) if method_ci == "bootstrap" else normal_ci(d, level)
    return {"dataset": dataset, "method": method, "metric": metric, "n": int(d.size), "ci_method": method_ci,
            "baseline_mean": float(base.mean()) if d.size else None,
            "method_mean": float(other.mean()) if d.size else None,
            "mean_diff": float(d.mean()) if d.size else None, "ci_low": lo if d.size else None,
            "ci_high": hi if d.size else None, "p_wilcoxon": wilcoxon_p(d) if d.size else None,
            "wins": int((sign * d > 0).sum()), "ties": int((d == 0).sum()), "losses": int((sign * d < 0).sum())}


def heading(baseline, rows, resamples, seed, level):
    """The sentence that says what the comparison is."""
    n = max((r["n"] for r in rows if r["dataset"] == "all"), default=0)
    return (f"paired comparison against {baseline}: per metric, on the pairs both methods scored (n, up to {n}); "
            f"diff = method - baseline; {level:.0%} CI: bootstrap percentile, {resamples} resamples of the pairs, "
            f"seed {seed} (the normal interval above {cfg.BOOTSTRAP_MAX_PAIRS} pairs); p: two-sided Wilcoxon "
            "signed-rank; win/tie/loss counts pairs (higher is better for "
            "ssim, ms_ssim, psnr, cosine, cw_ssim, three_ssim; lower for mse, dssim, l2)")


def _num(v, metric, signed=False):
    if v is None:
        return ""
    digits = {"ssim": 4, "ms_ssim": 4, "dssim": 4, "psnr": 2, "cosine": 4, "cw_ssim": 4, "three_ssim": 4,
              "ssim_masked": 4, "psnr_masked": 2}.get(metric)
    if digits is None:
        return f"{v:+.4g}" if signed else f"{v:.4g}"
    return f"{v:+.{digits + 1}f}" if signed else f"{v:.{digits}f}"


def render(rows, fmt="table", heading_line=""):
    """The comparison as a terminal table, Markdown, CSV or JSON."""
    if fmt == "json":
        return json.dumps({"comparison": heading_line, "rows": rows}, indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return buf.getvalue()
    header = ["dataset", "method", "metric", "n", "baseline", "method mean", "diff", "95% CI", "p (Wilcoxon)",
              "win/tie/loss"]
    cells = [[r["dataset"], r["method"], r["metric"], str(r["n"]), _num(r["baseline_mean"], r["metric"]),
              _num(r["method_mean"], r["metric"]), _num(r["mean_diff"], r["metric"], True),
              f"[{_num(r['ci_low'], r['metric'], True)}, {_num(r['ci_high'], r['metric'], True)}]" if r["n"] else "",
              "" if r["p_wilcoxon"] is None else f"{r['p_wilcoxon']:.3g}", f"{r['wins']}/{r['ties']}/{r['losses']}"]
             for r in rows]
    return layout(header, cells, fmt, [heading_line] if heading_line else [])
