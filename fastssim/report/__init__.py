"""What a results directory says: ``summary`` (per method: pairs scored, lost and why, statistics
of each metric on the pairs every method has) and ``paired`` (each method against a baseline,
pair by pair: mean difference, bootstrap confidence interval, Wilcoxon signed-rank test,
wins/ties/losses), overall and per dataset."""

from .summary import METRICS, STATS, Report, check_stats, notes, render, summarise

__all__ = ["summarise", "render", "notes", "check_stats", "Report", "METRICS", "STATS"]
