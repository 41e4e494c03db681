"""Summaries of a results directory: per method, how many pairs were fully, partly or not
scored, statistics of each metric, and which pairs each method lost and why.

Methods are compared on the same pairs: by default each metric's statistics are taken over
the pairs (keyed by reference) for which every method has that metric; ``all_pairs=True``
takes each method's own pairs instead. Either way the report says how many pairs each method
lost (a metric not computed) and the most common reasons, and how many of its pairs were left
out because another method lost them.
"""

import csv
import dataclasses
import io
import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc



METRICS = ("ssim", "ms_ssim", "dssim", "psnr", "mse", "l2", "cosine", "cw_ssim", "three_ssim", "ssim_masked",
           "psnr_masked", "mse_masked")
STATS = ("n", "mean", "std", "median", "min", "max")
STATUSES = ("ok", "partial", "error")
#: Reasons listed per method and metric.
TOP_REASONS = 3


@dataclasses.dataclass
class Report:
    """What ``summarise`` found; ``render`` turns it into text."""
    metrics: list
    stats: list
    #: One dict per method: ``method``, ``pairs``, ``ok``, ``partial``, ``error``, ``<metric>_<stat>``.
    rows: list
    #: {metric: pairs every method has} when methods are compared on common pairs, else None.
    common: dict | None
    #: {method: {metric: (not computed, [(reason, count), ...], left out for another method)}}
    lost: dict
    warnings: list


def check_stats(stats):
    if isinstance(stats, str):
        stats = stats.split(",")
    stats = [s.strip().lower() for s in stats if s.strip()]
    bad = [s for s in stats if s not in STATS]
    if bad or not stats:
        raise ValueError(f"unknown statistic(s) {', '.join(bad) or '(none given)'}; choose from {', '.join(STATS)}")
    return stats


def _stat(v, s):
    if s == "n":
        return int(v.size)
    if v.size == 0:
        return None
    if s in ("min", "max", "median"):
        return float(getattr(np, s)(v))
    finite = v[np.isfinite(v)]  # PSNR of identical pairs is inf
    if finite.size == 0:
        return float("inf") if s == "mean" else None
    if s == "std":
        return float(np.std(finite, ddof=1)) if finite.size > 1 else None
    return float(np.mean(finite))


def _nonempty(a):
    """``a`` with empty strings as nulls (an empty reason is no reason)."""
    return pc.if_else(pc.greater(pc.utf8_length(a), 0), a, pa.scalar(None, pa.string()))


def summarise(out, *, stats=("n", "mean", "std", "median", "min", "max"), all_pairs=False, mixed=False):
    """The `Report` of the results directory ``out``, or of several joined (a list; see
    `load.load`); methods sorted, '-' for runs without methods.

    Vectorised over rows: the methods and references are hashed once (Arrow dictionary
    codes), the rows sorted by method once (a stable integer sort), and each method's
    statistics taken from its slice; the reasons are read only for the rows that lack a value.
    """
    from ..batch.writer import stored_params
    from .load import as_list, load

    stats = check_stats(stats)
    recorded = set().union(*((stored_params(o) or {}).get("metrics") or METRICS for o in as_list(out)))
    wanted = [m for m in METRICS if m in recorded]  # only the columns the runs filled
    t = load(out, ["method", "ref", *wanted, "status"], mixed=mixed)
    params, warnings, n = t.params, t.warnings, t.num_rows
    found, code = t.text["method"]
    found = found.to_pylist()
    names = sorted(found)
    col = np.searchsorted(np.array(names, dtype=object), np.array(found, dtype=object))[code] \
        if n else np.zeros(0, dtype=np.int64)
    asked = [m for m in METRICS if m in (params.get("metrics") or [])] or \
        [m for m in wanted if t.null_count(m) < n]
    # a pair is its reference, unless a method lists a reference more than once
    key = t.text["ref"][1].astype(np.int64)
    if n and np.bincount(key * len(names) + col).max() > 1:
        both = load(out, ["ref", "dist"], mixed=True).text
        key = np.unique(both["ref"][1].astype(np.int64) * len(both["dist"][0]) + both["dist"][1],
                        return_inverse=True)[1].ravel()
    n_keys = int(key.max()) + 1 if n else 0
    perm = np.argsort(col, kind="stable")  # rows by method; bounds[j]:bounds[j + 1] is method j
    bounds = np.searchsorted(col[perm], np.arange(len(names) + 1))
    status_values, status_code = t.text["status"]
    per_status = np.bincount(col * len(status_values) + status_code,
                             minlength=len(names) * len(status_values)).reshape(len(names), len(status_values))
    status_values = status_values.to_pylist()
    values, present, shared, common = {}, {}, {}, None
    for m in asked:
        v = t.numbers[m]
        has = ~np.isnan(v)
        if len(names) > 1 and not all_pairs:
            everyone = np.bincount(key[has], minlength=n_keys) == len(names)  # every method has it
            common = {**(common or {}), m: int(everyone.sum())}
            shared[m] = (has & everyone[key])[perm]
        values[m], present[m] = v[perm], has[perm]
    t = None
    rows, lost, missing_rows = [], {}, {}
    for j, name in enumerate(names):
        lo, hi = bounds[j], bounds[j + 1]
        row = {"method": name, "pairs": int(hi - lo)}
        for s_ in STATUSES:
            row[s_] = int(per_status[j, status_values.index(s_)]) if s_ in status_values else 0
        lost_here = {}
        for m in asked:
            has = present[m][lo:hi]
            use = shared[m][lo:hi] if m in shared else has
            for s_ in stats:
                row[f"{m}_{s_}"] = _stat(values[m][lo:hi][use], s_)
            missing = int(has.size - has.sum())
            out_for_others = int(has.sum() - use.sum())
            if missing:
                missing_rows[(name, m)] = perm[lo:hi][~has]
            if missing or out_for_others:
                lost_here[m] = (missing, [], out_for_others)
        if lost_here:
            lost[name] = lost_here
        rows.append(row)
    if missing_rows:  # the reasons, read only now and only for the rows that lack a value
        why = load(out, ["error", *(f"{m}_error" for m in asked)], mixed=True).text
        for (name, m), where in missing_rows.items():
            missing, _, out_for_others = lost[name][m]
            lost[name][m] = (missing, _reasons(why, m, where), out_for_others)
    return Report(metrics=asked, stats=stats, rows=rows, common=common, lost=lost, warnings=warnings)


def _reasons(text, metric, rows):
    """The most common reasons why ``metric`` is missing in the given rows, with their counts
    (``text``: the error columns' values and codes)."""
    def taken(column):
        values, codes = text[column]
        return _nonempty(values.take(pa.array(codes[rows])))

    why = pc.coalesce(taken(f"{metric}_error"), taken("error"), "not computed")
    why = pc.replace_substring_regex(why, r"; got \([^)]*\)", "")  # one reason whatever the sizes
    counts = pc.value_counts(why)
    return sorted(((c["values"].as_py(), c["counts"].as_py()) for c in counts), key=lambda rc: -rc[1])[:TOP_REASONS]


def _fmt(v, metric):
    if v is None:
        return ""
    if isinstance(v, int):
        return str(v)
    if metric in ("ssim", "ms_ssim", "dssim", "cosine", "cw_ssim", "three_ssim", "ssim_masked"):
        return f"{v:.4f}"
    if metric in ("psnr", "psnr_masked"):
        return f"{v:.2f}"
    return f"{v:.4g}"


def notes(rep):
    """The lines that say on which pairs the methods were compared, and what was lost: each
    metric's reasons once, with their counts over all methods (and per method)."""
    lines = []
    if rep.common is not None and rep.lost:
        per = ", ".join(f"{m} {n}" for m, n in rep.common.items())
        lines.append(f"methods compared on the pairs every method scored (per metric: {per}); "
                     "--all-pairs reports each method over its own pairs")
    for m in rep.metrics:
        lost = {name: per_metric[m] for name, per_metric in rep.lost.items() if m in per_metric}
        missing = {name: a for name, (a, _, _) in lost.items() if a}
        if missing:
            reasons = {}
            for _, why, _ in lost.values():
                for r, c in why:
                    reasons[r] = reasons.get(r, 0) + c
            who = ", ".join(f"{name} {a}" for name, a in missing.items())
            lines.append(f"{m}: {sum(missing.values())} not computed ({who}): "
                         + "; ".join(f"{r} (x{c})" for r, c in sorted(reasons.items(), key=lambda rc: -rc[1])))
        left = {name: c for name, (_, _, c) in lost.items() if c}
        if left:
            lines.append(f"{m}: left out because another method lacks them: "
                         + ", ".join(f"{name} {c}" for name, c in left.items()))
    lines += [f"warning: {w}" for w in rep.warnings]
    return lines


def render(rep, fmt="table"):
    """The report as a terminal table, Markdown, CSV or JSON (the table for CSV; see `notes`)."""
    header = ["method", "pairs", *STATUSES] + [f"{m}_{s}" for m in rep.metrics for s in rep.stats]
    if fmt == "json":
        return json.dumps({"methods": rep.rows, "compared_on": rep.common,
                           "lost": {k: {m: {"not_computed": a, "reasons": [list(r) for r in b],
                                            "left_out_for_others": c} for m, (a, b, c) in v.items()}
                                    for k, v in rep.lost.items()},
                           "warnings": rep.warnings}, indent=1) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=header, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        w.writerows(rep.rows)
        return buf.getvalue()
    cells = [[str(r[h]) for h in header[:5]] + [_fmt(r[f"{m}_{s}"], m) for m in rep.metrics for s in rep.stats]
             for r in rep.rows]
    if fmt not in ("table", "markdown"):
        raise ValueError(f"format must be table, markdown, csv or json, got {fmt!r}")
    return layout(header, cells, fmt, notes(rep))


def layout(header, cells, fmt, notes_=()):
    """Rows of text cells as an aligned terminal table or a Markdown table (tabulate; first
    column left, the others right), followed by the notes (as a list in Markdown)."""
    import tabulate

    align = ("left",) + ("right",) * (len(header) - 1)
    padding, tabulate.MIN_PADDING = tabulate.MIN_PADDING, 0  # columns as wide as their text: fits 80 columns
    try:
        text = tabulate.tabulate(cells, header, tablefmt="pipe" if fmt == "markdown" else "simple", colalign=align,
                                 disable_numparse=True)
    finally:
        tabulate.MIN_PADDING = padding
    extra = [f"- {line}" for line in notes_] if fmt == "markdown" else list(notes_)
    return "\n".join([text] + ([""] + extra if extra else [])) + "\n"
