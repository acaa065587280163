"""Top-1 against MACs for pruned students, fine-tuned alone vs distilled, with references.

The question of a compression sweep (kdbench/stages/prune.py): does "prune, then
distil" beat "train the small network (alone or distilled)"? Pruned rows
(`compress` starting with `prune`) are lines per method over their MAC budgets;
students trained from scratch without a stage (`compress` none) are markers at
their own MACs; the teachers are horizontal reference lines.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from kdbench.report.figures.registry import FIGURES
from kdbench.report.figures.style import (
    STYLE,
    TEACHER_STYLE,
    TOP1_CI_LABEL,
    has,
    legend_below,
    teachers,
)


@FIGURES.register("compression")
def compression_figure(summary: pd.DataFrame) -> plt.Figure | None:
    if not (has(summary, "macs_mean") and "compress" in summary):
        return None
    pruned = summary[summary["compress"].astype(str).str.startswith("prune")]
    if pruned.empty:
        return None
    scratch = summary[summary["compress"].astype(str) == "none"]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(4.8, 4.2), layout="constrained")
        for method, rows in pruned.groupby("method"):
            rows = rows.sort_values("macs_mean")
            ax.errorbar(
                rows["macs_mean"] / 1e6,
                rows["top1_mean"],
                yerr=rows.get("top1_ci95"),  # the 95 % CI the axis label names
                marker="o",
                capsize=2,
                label=f"pruned + fine-tuned ({method})",
            )
        for (method, student), rows in scratch.groupby(["method", "student"]):
            ax.errorbar(
                rows["macs_mean"] / 1e6,
                rows["top1_mean"],
                yerr=rows.get("top1_ci95"),  # the 95 % CI the axis label names
                marker="s" if method == "none" else "^",
                linestyle="none",
                capsize=2,
                label=f"from scratch {student} ({method})",
            )
        for teacher, top1 in teachers(summary):
            ax.axhline(top1, label=f"teacher {teacher} ({top1:.2f}%)", **TEACHER_STYLE)
        ax.set_xscale("log")
        ax.set_xlabel("student MACs (M)")
        ax.set_ylabel(TOP1_CI_LABEL)
        legend_below(fig, [ax])
        return fig
