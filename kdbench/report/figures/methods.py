"""One bar per method: top-1 (setting chosen on validation; without a validation split,
one bar per setting)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from kdbench.report.figures.registry import FIGURES
from kdbench.report.figures.style import (
    BASELINE_COLOR,
    ONE_COLUMN_IN,
    SETTINGS,
    STYLE,
    TEACHER_STYLE,
    TWO_COLUMN_IN,
    bulk_limits,
    has,
    legend_below,
    mark_outlier,
    method_styles,
    series_style,
    setting_labels,
    std_or_zero,
)
from kdbench.report.stats import chosen_on_validation
from kdbench.report.vocab import BASELINE


@FIGURES.register("methods")
def methods_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Δ top-1 over the student alone per method (bars, 95 % CI of the seed-paired Δ) per pair.

    The student alone is the zero line; the teacher's lead over the student alone
    is a dotted segment over each pair, so a bar reaching it closes the gap. The axis
    spans the bulk of the bars (`style.bulk_limits`): a method far outside it (a failed
    run, -42 pp where the rest are within 2) is cut at the edge and its value written
    there, so it does not flatten every other bar to a line at 0.
    """
    if not has(summary, "delta_top1_mean"):
        return None
    sel = chosen_on_validation(summary)
    rows = sel[(sel["method"] != BASELINE)].dropna(subset=["delta_top1_mean"])
    if rows.empty:
        return None
    rows = rows.assign(series=setting_labels(summary, rows, ["teacher", "student"]))
    by = ["method", *[c for c in SETTINGS if c in rows]]
    methods = list(dict.fromkeys(rows.sort_values(by, kind="stable")["series"]))
    if methods == sorted(rows["method"].unique()):  # one setting per method: its usual style
        styles = method_styles(summary)
    else:
        styles = {m: series_style(i) for i, m in enumerate(methods)}
    pairs = sorted(rows.groupby(["teacher", "student"], dropna=False).groups)
    several_teachers = rows["teacher"].nunique() > 1
    width = 0.8 / len(methods)
    lead = (rows.get("teacher_top1_mean", np.nan) - rows["alone_top1_mean"]).dropna()
    limits, outlier = bulk_limits(
        rows["delta_top1_mean"].to_numpy(),
        std_or_zero(rows, "delta_top1_ci95"),
        keep=(0.0, *lead.tolist()),
    )
    outlier = pd.Series(outlier, index=rows.index)
    with plt.rc_context(STYLE):
        one_col = len(pairs) <= 2
        fig, ax = plt.subplots(
            figsize=(ONE_COLUMN_IN if one_col else TWO_COLUMN_IN, 2.4), layout="constrained"
        )
        ax.axhline(0, color=BASELINE_COLOR, linewidth=1, label="student alone", zorder=1)
        ticks = []
        for i, (teacher, student) in enumerate(pairs):
            part = rows[(rows["teacher"] == teacher) & (rows["student"] == student)]
            for j, method in enumerate(methods):
                r = part[part["series"] == method]
                if r.empty:
                    continue
                x, value = i - 0.4 + width * (j + 0.5), r["delta_top1_mean"].iloc[0]
                far = limits is not None and bool(outlier[r.index[0]])
                ax.bar(
                    x,
                    mark_outlier(ax, x, value, limits, in_bar=True) if far else value,
                    width * 0.9,
                    yerr=None if far else std_or_zero(r, "delta_top1_ci95"),
                    color=styles[method]["color"],
                    hatch=styles[method]["hatch"],
                    edgecolor="white",
                    label=method,
                    zorder=2,
                    error_kw={"elinewidth": 0.8},
                )
            alone = part["alone_top1_mean"].iloc[0]
            teacher_top1 = (
                part["teacher_top1_mean"].iloc[0] if "teacher_top1_mean" in part else np.nan
            )
            if not np.isnan(teacher_top1) and not np.isnan(alone):
                ax.hlines(
                    teacher_top1 - alone,
                    i - 0.45,
                    i + 0.45,
                    label="teacher" if i == 0 else None,
                    zorder=3,
                    **TEACHER_STYLE,
                )
            lines = [student] + ([f"from {teacher}"] if several_teachers else [])
            lines += [] if np.isnan(alone) else [f"alone {alone:.1f}%"]
            ticks.append("\n".join(lines))
        # one line per fact keeps labels narrow; many pairs still need a slant
        many = len(pairs) > 6
        ax.set_xticks(
            range(len(pairs)), ticks, rotation=30 if many else 0, ha="right" if many else "center"
        )
        if limits is not None:
            ax.set_ylim(*limits)
        ax.set_ylabel("Δ top-1 vs student alone (pp)\nmean ± 95 % CI over seeds")
        legend_below(fig, [ax], ["student alone", *methods, "teacher"])
        return fig
