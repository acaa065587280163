"""Student top-1 against teacher top-1: the capacity-gap figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from kdbench.report.figures.registry import FIGURES
from kdbench.report.figures.style import (
    STYLE,
    TOP1_CI_LABEL,
    ci_line,
    has,
    legend_below,
    method_label,
    panel_grid,
    series_style,
)
from kdbench.report.stats import chosen_on_validation
from kdbench.report.vocab import BASELINE


@FIGURES.register("student_vs_teacher")
def capacity_gap_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Student top-1 against its teacher's top-1, one line per student, one panel per method.

    The capacity-gap question (Mirzadeh et al., 2020): does a better teacher
    make a better student? Each student alone is a dashed line of its colour.
    Drawn only when some student was distilled from two or more teachers.
    """
    need = ("teacher", "teacher_top1_mean", "top1_mean", "student", "method")
    if not all(has(summary, c) for c in need):
        return None
    sel = chosen_on_validation(summary)
    kd = sel[sel["method"] != BASELINE].dropna(subset=["teacher", "teacher_top1_mean"])
    methods = [
        m
        for m, rows in kd.groupby("method")
        if rows.groupby("student")["teacher"].nunique().max() >= 2
    ]
    if not methods:
        return None
    students = sorted(kd["student"].unique())
    alone = sel[sel["method"] == BASELINE].set_index("student")["top1_mean"]
    with plt.rc_context(STYLE):
        fig, axes = panel_grid(len(methods), 2.6, sharey=True)
        for ax, method in zip(axes, methods):
            rows = kd[kd["method"] == method]
            for i, student in enumerate(students):
                line = rows[rows["student"] == student].sort_values("teacher_top1_mean")
                if line.empty:
                    continue
                st = series_style(i)
                ci_line(ax, line["teacher_top1_mean"], line, st, student)
                for _, r in line.iterrows():
                    ax.annotate(
                        str(r["teacher"]),
                        (r["teacher_top1_mean"], r["top1_mean"]),
                        textcoords="offset points",
                        xytext=(2, 3),
                        fontsize=5,
                        color="0.35",
                    )
                if student in alone.index:
                    ax.axhline(float(alone[student]), color=st["color"], linestyle="--", lw=0.8)
            ax.set_xlabel("teacher top-1 (%)")
            ax.set_title(f"{method_label(method)} (dashed: student alone)")
        axes[0].set_ylabel(TOP1_CI_LABEL)
        legend_below(fig, axes)
        return fig
