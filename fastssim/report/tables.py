"""The table papers print: methods as rows, datasets as columns, each cell the chosen metrics
of a method on a dataset (``PSNR / SSIM``), the best value of each metric per dataset marked.

Each metric of a dataset is taken over the references every method has it for (as the
summary does), so the methods of a column are compared on the same images; the notes say
how many. What a dataset is: see `load.encode` (a manifest's column, or the first directory).
"""

import json

import numpy as np

from .. import config as cfg
from .load import encode, error_columns, group_columns, load, matrix, missing_reason, natural
from .paired import HIGHER_IS_BETTER, bootstrap_ci, normal_ci
from .summary import _stat, layout

#: Decimals per metric, as papers print them.
PRECISION = {"psnr": 2, "ssim": 4, "ms_ssim": 4, "dssim": 4, "mse": 2, "l2": 1, "cosine": 4, "cw_ssim": 4,
             "three_ssim": 4, "ssim_masked": 4, "psnr_masked": 2, "mse_masked": 2}
LABELS = {"psnr": "PSNR", "ssim": "SSIM", "ms_ssim": "MS-SSIM", "dssim": "DSSIM", "mse": "MSE", "l2": "L2",
          "cosine": "cosine", "cw_ssim": "CW-SSIM", "three_ssim": "3-SSIM",
          "ssim_masked": "SSIM (region)", "psnr_masked": "PSNR (region)", "mse_masked": "MSE (region)"}


def check_table_stats(stats):
    """``[central, *extras]`` from a list or 'mean,std,ci': mean or median first, then std and/or
    ci (the 95% interval of the mean: bootstrap, or normal above ``BOOTSTRAP_MAX_PAIRS`` pairs)."""
    if isinstance(stats, str):
        stats = [x.strip().lower() for x in stats.split(",") if x.strip()]
    stats = list(stats) or ["mean"]
    if stats[0] not in ("mean", "median"):
        stats = ["mean", *stats]
    bad = [x for x in stats[1:] if x not in ("std", "ci")]
    if bad:
        raise ValueError(f"with --by-dataset, --stats is mean or median, then std and/or ci; got {', '.join(bad)}")
    return stats


def _extras(v, extras, seed):
    out = {}
    finite = v[np.isfinite(v)]
    if "std" in extras:
        out["std"] = _stat(v, "std")
    if "ci" in extras:
        if finite.size < 2:
            out["ci"] = None
        elif finite.size <= cfg.BOOTSTRAP_MAX_PAIRS:
            out["ci"] = bootstrap_ci(finite, 10_000, seed)
        else:
            out["ci"] = normal_ci(finite)
    return out


def dataset_table(outs, metrics=("psnr", "ssim"), stat="mean", mixed=False, group_by="auto"):
    """Cells of the method x dataset table.

    ``stat``: 'mean' or 'median', or a list from `check_table_stats` (with 'std', 'ci').

    Returns
    -------
    dict
        ``methods``, ``datasets`` (with 'all' last when there are several), ``metrics``,
        ``cells`` {(method, dataset, metric): value}, ``n`` {(dataset, metric): pairs compared},
        ``best`` {(dataset, metric): method}.
    """
    stats = check_table_stats([stat] if isinstance(stat, str) and "," not in stat else stat)
    stat, extras = stats[0], stats[1:]
    auto_ms = "ms_ssim" in metrics
    t = load(outs, ["method", "ref", *metrics, *error_columns(metrics), *(["ms_ssim_scales"] if auto_ms else [])],
             mixed=mixed, as_text=group_columns(group_by))
    enc = encode(t, group_by)
    names, ds_names = sorted(enc["names"]), enc["datasets"]
    groups = [(ds, enc["ds_of_ref"] == i) for i, ds in sorted(enumerate(ds_names), key=lambda x: natural(x[1]))]
    if len(groups) > 1:
        groups.append(("all", np.ones(len(enc["refs"]), bool)))
    cells, n, best, spread, why = {}, {}, {}, {}, {}
    for m in metrics:
        table = matrix(t, m, enc)
        common = ~np.isnan(table).any(axis=1)
        for ds, sel in groups:
            use = sel & common
            n[(ds, m)] = int(use.sum())
            if not n[(ds, m)] and sel.any():
                why[(ds, m)] = missing_reason(t, m, enc, sel)
            for name in names:
                v = table[use, enc["names"].index(name)]
                cells[(name, ds, m)] = _stat(v, stat)
                if extras:
                    spread[(name, ds, m)] = _extras(v, extras, seed=0)
            scored = [(v, name) for name in names if (v := cells[(name, ds, m)]) is not None]
            if len(scored) > 1:
                pick = max if HIGHER_IS_BETTER[m] else min
                best[(ds, m)] = pick(scored)[1]
    return {"methods": names, "datasets": [g[0] for g in groups], "metrics": list(metrics), "cells": cells,
            "n": n, "best": best, "stat": stat, "extras": extras, "spread": spread, "why": why,
            "conventions": ms_convention(t) if auto_ms else []}


def ms_convention(res):
    """The note naming MS-SSIM's convention when its rows did not all use Wang's five scales."""
    values = [int(v) for v in res.text["ms_ssim_scales"][0].to_pylist() if v not in (None, "")]
    if not values or set(values) == {5}:
        return []
    lo, hi = min(values), max(values)
    return [f"MS-SSIM with as many scales as each image allows ({lo}-{hi}; --ms-scales auto: the first of Wang's "
            "five weights renormalised to sum to 1), so its values are not those of 5-scale MS-SSIM"]


def counts_note(tab, ds, shown):
    """``Set5 n=5``, or where the metrics were compared on different pairs, each metric's n
    (``Small PSNR n=8, SSIM n=8, MS-SSIM n=0: images under 161 px``)."""
    ns = {m: tab["n"][(ds, m)] for m in tab["metrics"]}
    if len(set(ns.values())) == 1:
        text = f"{shown} n={next(iter(ns.values()))}"
    else:
        text = f"{shown} " + ", ".join(f"{LABELS[m]} n={k}" for m, k in ns.items())
    reasons = [f"{LABELS[m]}: {tab['why'][(ds, m)]}" for m in tab["metrics"] if tab["why"].get((ds, m))]
    return text + (f" ({'; '.join(reasons)})" if reasons else "")


def _spread_fields(tab, key):
    extra = tab["spread"].get(key, {})
    out = {}
    if "std" in tab["extras"]:
        out["std"] = extra.get("std")
    if "ci" in tab["extras"]:
        ci = extra.get("ci")
        out["ci_low"], out["ci_high"] = (ci if ci is not None else (None, None))
    return out


def _value(v, metric, precision):
    if v is None:
        return "-"
    return f"{v:.{precision.get(metric, 4)}f}"


def _latex_escape(s):
    for a, b in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"), ("#", r"\#"),
                 ("_", r"\_"), ("{", r"\{"), ("}", r"\}"), ("~", r"\textasciitilde{}"), ("^", r"\^{}")):
        s = s.replace(a, b)
    return s


def render(tab, fmt="table", precision=None):
    """The table as a terminal table (best marked *), Markdown (bold), LaTeX (booktabs, bold),
    CSV or JSON (one record per method, dataset and metric)."""
    precision = {**PRECISION, **(precision or {})}
    metrics, datasets = tab["metrics"], tab["datasets"]
    if fmt in ("csv", "json"):
        recs = [{"method": name, "dataset": ds, "metric": m, "n": tab["n"][(ds, m)],
                 tab["stat"]: tab["cells"][(name, ds, m)], **_spread_fields(tab, (name, ds, m)),
                 "best": tab["best"].get((ds, m)) == name}
                for name in tab["methods"] for ds in datasets for m in metrics]
        if fmt == "json":
            return json.dumps({"stat": tab["stat"], "rows": recs}, indent=1) + "\n"
        import csv
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(recs[0]) if recs else ["method"], lineterminator="\n")
        w.writeheader()
        w.writerows(recs)
        return buf.getvalue()
    mark = {"table": "{}*", "markdown": "**{}**", "latex": r"\textbf{{{}}}"}.get(fmt)
    if mark is None:
        raise ValueError(f"format must be table, markdown, latex, csv or json, got {fmt!r}")
    label = " / ".join(LABELS[m] for m in metrics)

    pm = {"latex": r" $\pm$ ", "markdown": " ± ", "table": " ± "}[fmt]

    def cell(name, ds):
        parts = []
        for m in metrics:
            text = _value(tab["cells"][(name, ds, m)], m, precision)
            text = mark.format(text) if tab["best"].get((ds, m)) == name else text
            extra = tab["spread"].get((name, ds, m), {})
            if extra.get("std") is not None:
                text += pm + _value(extra["std"], m, precision)
            if extra.get("ci") is not None:
                text += f" [{_value(extra['ci'][0], m, precision)}, {_value(extra['ci'][1], m, precision)}]"
            parts.append(text)
        return " / ".join(parts)

    shown = [ds or "(top)" for ds in datasets]
    what = tab["stat"] + "".join({"std": " ± std", "ci": " [95% CI of the mean]"}[x] for x in tab["extras"])
    notes = [f"{what} {label} per dataset, on the pairs every method scored: "
             + ", ".join(counts_note(tab, ds, s) for s, ds in zip(shown, datasets))]
    notes += tab.get("conventions", [])
    if fmt == "latex":
        esc = [_latex_escape(s) for s in shown]
        lines = [r"\begin{tabular}{l" + "c" * len(datasets) + "}", r"\toprule",
                 "Method & " + " & ".join(esc) + r" \\", " & " + " & ".join([label] * len(datasets)) + r" \\",
                 r"\midrule"]
        lines += [_latex_escape(name) + " & " + " & ".join(cell(name, ds) for ds in datasets) + r" \\"
                  for name in tab["methods"]]
        lines += [r"\bottomrule", r"\end{tabular}"]
        return "\n".join(lines) + "\n" + "\n".join(f"% {line}" for line in notes) + "\n"
    header = ["method"] + [f"{s} ({label})" for s in shown]
    cells = [[name] + [cell(name, ds) for ds in datasets] for name in tab["methods"]]
    if fmt == "table":
        notes.append("* best per column")
    return layout(header, cells, fmt, notes)
