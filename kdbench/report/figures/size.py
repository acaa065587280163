"""Top-1 against student size (parameters)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from kdbench.report.figures.registry import FIGURES
from kdbench.report.figures.style import (
    SETTINGS,
    STYLE,
    TEACHER_DASHES,
    TEACHER_STYLE,
    TOP1_CI_LABEL,
    ci_line,
    has,
    legend_below,
    method_label,
    method_styles,
    panel_grid,
    plain_log_ticks,
    series_style,
    setting_labels,
    teachers,
)
from kdbench.report.stats import chosen_on_validation
from kdbench.report.vocab import BASELINE


@FIGURES.register("top1_vs_params")
def size_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Student top-1 against its parameters (log), one line per method, per architecture.

    Only for size ladders: an architecture (`student_name`) trained at two or
    more sizes. Teachers are horizontal reference lines.
    """
    if not (has(summary, "params_m_mean") and "student_name" in summary):
        return None
    sel = chosen_on_validation(summary).dropna(subset=["top1_mean", "params_m_mean"])
    families = [
        (name, rows)
        for name, rows in sel.groupby("student_name")
        # sizes compared to 6 significant figures: a mean of equal counts is not a new size
        if rows["params_m_mean"].map(lambda v: f"{v:.6g}").nunique() >= 2
    ]
    if not families:
        return None
    # one line per method, or per method and setting (and teacher) where several of them
    # share a size: a line joins the same training across sizes, never two different ones
    sel = sel.assign(series=setting_labels(summary, sel, ["teacher", "student"]))
    if sel["teacher"].nunique() > 1:
        with_teacher = sel["series"] + " (" + sel["teacher"].astype(str) + ")"
        sel["series"] = sel["series"].where(sel["method"] == BASELINE, with_teacher)
    sel["series"] = sel["series"].where(sel["method"] != BASELINE, method_label(BASELINE))
    by = ["method", *[c for c in SETTINGS if c in sel]]
    series = list(dict.fromkeys(sel.sort_values(by, kind="stable")["series"]))
    plain = {method_label(m) for m in sel["method"].unique()}
    if set(series) <= plain:  # one setting per method: the methods' usual styles
        styles = {method_label(m): st for m, st in method_styles(summary).items()}
    else:
        styles = {method_label(BASELINE): method_styles(summary)[BASELINE]}
        others = [s for s in series if s != method_label(BASELINE)]
        styles |= {s: series_style(i) for i, s in enumerate(others)}
    families = [(name, sel.loc[rows.index]) for name, rows in families]
    with plt.rc_context(STYLE):
        fig, axes = panel_grid(len(families), 2.4, sharey=True)
        for ax, (name, rows) in zip(axes, families):
            for label in [s for s in styles if s in set(rows["series"])]:
                line = rows[rows["series"] == label].sort_values("params_m_mean")
                ci_line(ax, line["params_m_mean"], line, styles[label], label)
            for k, (teacher, top1) in enumerate(teachers(rows)):
                style = {**TEACHER_STYLE, "linestyle": TEACHER_DASHES[k % len(TEACHER_DASHES)]}
                ax.axhline(top1, label=f"teacher {teacher} ({top1:.2f}%)", **style)
            ax.set_xscale("log")
            plain_log_ticks(ax.xaxis)
            ax.set_xlabel("student parameters (M)")
            ax.set_title(name)
        axes[0].set_ylabel(TOP1_CI_LABEL)
        legend_below(fig, axes, list(styles))
        return fig
