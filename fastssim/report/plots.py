"""Figures of a report (``fastssim[plot]``, matplotlib): per-method distributions of each metric
per dataset, and against a baseline the paired differences with their confidence intervals and
a per-image scatter of each method against the baseline. PNG and SVG, drawn off-screen.

The values are those of the tables: each metric over the references every method has it for.
"""

import os

import numpy as np

from .load import encode, error_columns, group_columns, load, matrix, missing_reason, natural
from .tables import LABELS


def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("plots need matplotlib: pip install 'fastssim[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, directory, name):
    paths = []
    for ext in ("png", "svg"):
        path = os.path.join(directory, f"{name}.{ext}")
        fig.savefig(path, dpi=150, bbox_inches="tight")
        paths.append(path)
    return paths


def plot(outs, directory, metrics=("psnr", "ssim"), baseline=None, paired_rows=None, mixed=False, level=0.95,
         group_by="auto"):
    """Write the report's figures into ``directory`` (created); returns the paths written.

    ``paired_rows`` (from `paired.compare`) draws the differences against ``baseline``.
    """
    plt = _pyplot()
    os.makedirs(directory, exist_ok=True)
    t = load(outs, ["method", "ref", *metrics, *error_columns(metrics)], mixed=mixed, as_text=group_columns(group_by))
    enc = encode(t, group_by)
    names = sorted(enc["names"])
    columns = [enc["names"].index(n) for n in names]
    groups = [(ds, enc["ds_of_ref"] == i) for i, ds in sorted(enumerate(enc["datasets"]), key=lambda x: natural(x[1]))]
    if len(groups) > 1:
        groups.append(("all", np.ones(len(enc["refs"]), bool)))
    written = []
    for m in metrics:
        table = matrix(t, m, enc)[:, columns]
        common = ~np.isnan(table).any(axis=1)
        fig, axes = plt.subplots(1, len(groups), figsize=(1.2 + 1.1 * len(names) * len(groups), 3.6), squeeze=False,
                                 sharey=True, layout="constrained")
        for ax, (ds, sel) in zip(axes[0], groups):
            data = [v[np.isfinite(v)] for v in table[sel & common].T]
            if not any(len(d) for d in data):  # an empty panel says why, rather than a blank axis
                why = missing_reason(t, m, enc, sel) or "no pairs"
                ax.text(0.5, 0.5, f"no pair of {ds or 'this dataset'}\nhas {LABELS[m]}:\n{why}", ha="center",
                        va="center", fontsize=9, transform=ax.transAxes, wrap=True)
                data = [[] for _ in data]
            ax.boxplot(data, showmeans=True, meanprops={"marker": "D", "markersize": 4})
            ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right")
            ax.set_title(f"{ds or 'all'} (n={int((sel & common).sum())})", fontsize=10)
            ax.grid(axis="y", alpha=0.3)
        axes[0][0].set_ylabel(LABELS[m])
        fig.suptitle(f"{LABELS[m]} per method (box: quartiles, line: median, diamond: mean)", fontsize=11)
        written += _save(fig, directory, f"{m}_distribution")
        plt.close(fig)
        if baseline is None:
            continue
        b = table[:, names.index(baseline)]
        others = [n for n in names if n != baseline]
        fig, axes = plt.subplots(1, len(others), figsize=(3.8 * len(others), 3.8), squeeze=False,
                                 layout="constrained")
        for ax, name in zip(axes[0], others):
            v = table[:, names.index(name)]
            both = np.isfinite(b) & np.isfinite(v)
            ax.scatter(b[both], v[both], s=9, alpha=0.6)
            lo, hi = min(b[both].min(), v[both].min()), max(b[both].max(), v[both].max())
            pad = 0.05 * (hi - lo or 1.0)
            lo, hi = lo - pad, hi + pad
            ax.plot([lo, hi], [lo, hi], color="grey", lw=1, ls="--")
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_aspect("equal")
            ax.set_xlabel(f"{baseline} {LABELS[m]}")
            ax.set_ylabel(f"{name} {LABELS[m]}")
            ax.set_title(f"{name} vs {baseline}: above the line = better" if m in ("psnr", "ssim", "ms_ssim")
                         else f"{name} vs {baseline}: below the line = better", fontsize=9)
        written += _save(fig, directory, f"{m}_scatter_vs_{baseline}")
        plt.close(fig)
    if baseline is not None and paired_rows:
        written += _differences(plt, directory, baseline, [r for r in paired_rows if r["dataset"] == "all"], metrics,
                                level)
    return written


def _differences(plt, directory, baseline, rows, metrics, level):
    shown = [m for m in metrics if any(r["metric"] == m for r in rows)]
    n_methods = max(len({r["method"] for r in rows}), 1)
    fig, axes = plt.subplots(1, len(shown), figsize=(4.6 * len(shown), 1.4 + 0.55 * n_methods), squeeze=False,
                             sharey=True, layout="constrained")
    for ax, m in zip(axes[0], shown):
        rs = [r for r in rows if r["metric"] == m and r["n"]]
        y = np.arange(len(rs))
        diff = np.array([r["mean_diff"] for r in rs])
        err = np.array([[r["mean_diff"] - r["ci_low"] for r in rs], [r["ci_high"] - r["mean_diff"] for r in rs]])
        ax.errorbar(diff, y, xerr=err, fmt="o", capsize=4)
        for yi, r in zip(y, rs):
            ax.annotate(f"n={r['n']}, p={r['p_wilcoxon']:.2g}", (r["mean_diff"], yi), textcoords="offset points",
                        xytext=(0, 7), ha="center", fontsize=8)
        ax.axvline(0, color="grey", lw=1, ls="--")
        ax.xaxis.set_major_locator(plt.MaxNLocator(5))
        ax.set_yticks(y, [r["method"] for r in rs])
        ax.set_ylim(-0.6, len(rs) - 0.4)
        ax.set_xlabel(f"{LABELS[m]} difference (method - {baseline})")
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(f"paired differences against {baseline}, {level:.0%} CI", fontsize=11)
    paths = _save(fig, directory, f"paired_differences_vs_{baseline}")
    plt.close(fig)
    return paths
