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

from ..batch.writer import SCHEMA


METRICS = ("ssim", "ms_ssim", "dssim", "psnr", "mse")
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

    Vectorised over rows (Arrow dictionary codes and compute functions, NumPy masks): a
    loop runs over methods and metrics only.
    """
    from .load import load

    stats = check_stats(stats)
    needed = [c for c in SCHEMA.names if c not in ("ssim_slices", "shape", "data_range")]
    t, params, warnings = load(out, needed, mixed=mixed)
    n = t.num_rows
    methods = pc.fill_null(t.column("method"), "-").combine_chunks().dictionary_encode()
    found = methods.dictionary.to_pylist()
    names = sorted(found)
    col = np.searchsorted(np.array(names, dtype=object), np.array(found, dtype=object))[methods.indices.to_numpy()] \
        if n else np.zeros(0, dtype=np.int64)
    asked = [m for m in METRICS if m in (params.get("metrics") or [])] or \
        [m for m in METRICS if t.column(m).null_count < n]
    # a pair is its reference, unless a method lists a reference more than once
    key = t.column("ref").combine_chunks().dictionary_encode().indices.to_numpy().astype(np.int64)
    if n and np.bincount(key * len(names) + col).max() > 1:
        pairs = pc.binary_join_element_wise(t.column("ref"), t.column("dist"), "\x00").combine_chunks()
        key = pairs.dictionary_encode().indices.to_numpy().astype(np.int64)
    n_keys = int(key.max()) + 1 if n else 0
    error = _nonempty(t.column("error").combine_chunks())
    values, present, reasons = {}, {}, {}
    for m in asked:
        values[m] = t.column(m).to_numpy(zero_copy_only=False).astype(np.float64)
        present[m] = ~np.isnan(values[m])
        why = pc.coalesce(_nonempty(t.column(f"{m}_error").combine_chunks()), error, "not computed")
        reasons[m] = why
    common = shared = None
    if len(names) > 1 and not all_pairs:
        common, shared = {}, {}
        for m in asked:
            owners = np.bincount(key[present[m]], minlength=n_keys)  # methods having it, per pair
            everyone = owners == len(names)
            common[m] = int(everyone.sum())
            shared[m] = everyone[key]
    status = {s_: pc.fill_null(pc.equal(t.column("status"), s_), False).to_numpy(zero_copy_only=False)
              for s_ in STATUSES}
    rows, lost = [], {}
    for j, name in enumerate(names):
        sel = col == j
        row = {"method": name, "pairs": int(sel.sum())}
        for s_ in STATUSES:
            row[s_] = int((sel & status[s_]).sum())
        lost_here = {}
        for m in asked:
            use = sel & present[m]
            out_for_others = 0
            if shared is not None:
                in_common = use & shared[m]
                out_for_others = int(use.sum() - in_common.sum())
                use = in_common
            for s_ in stats:
                row[f"{m}_{s_}"] = _stat(values[m][use], s_)
            missing = sel & ~present[m]
            why = []
            if missing.any():
                counts = pc.value_counts(reasons[m].filter(pa.array(missing)))
                why = sorted(((c["values"].as_py(), c["counts"].as_py()) for c in counts), key=lambda rc: -rc[1])
                why = why[:TOP_REASONS]
            if missing.any() or out_for_others:
                lost_here[m] = (int(missing.sum()), why, out_for_others)
        if lost_here:
            lost[name] = lost_here
        rows.append(row)
    return Report(metrics=asked, stats=stats, rows=rows, common=common, lost=lost, warnings=warnings)


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


def notes(rep):
    """The lines that say on which pairs the methods were compared, and what each lost."""
    lines = []
    if rep.common is not None and rep.lost:
        per = ", ".join(f"{m} {n}" for m, n in rep.common.items())
        lines.append(f"methods compared on the pairs every method scored (per metric: {per}); "
                     "--all-pairs reports each method over its own pairs")
    for name, per_metric in rep.lost.items():
        for m, (missing, why, out_for_others) in per_metric.items():
            parts = []
            if missing:
                parts.append(f"{missing} not computed: " + "; ".join(f"{r} (x{c})" for r, c in why))
            if out_for_others:
                parts.append(f"{out_for_others} left out because another method lacks them")
            lines.append(f"{name} {m}: " + "; ".join(parts))
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
    """Rows of text cells as an aligned terminal table or a Markdown table (first column left,
    the others right), followed by the notes (as a list in Markdown)."""
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
        lines += ["| " + " | ".join(c) + " |" for c in cells]
        extra = [f"- {line}" for line in notes_]
        return "\n".join(lines + ([""] + extra if extra else [])) + "\n"
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
    lines += ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
              for row in cells]
    extra = list(notes_)
    return "\n".join(lines + ([""] + extra if extra else [])) + "\n"
