"""Validation top-1 against the epoch: the learning curves, mean and band over seeds."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import MaxNLocator

from kdbench.report.epochs import setting_key
from kdbench.report.figures.registry import FIGURES
from kdbench.report.figures.style import (
    STYLE,
    legend_below,
    method_label,
    method_styles,
    panel_grid,
    series_style,
)
from kdbench.report.stats import chosen_on_validation
from kdbench.report.vocab import BASELINE


@FIGURES.register("curves")
def curves_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """One panel per student, one line per method (its setting chosen on validation; per
    method and teacher where there are several teachers, each in its own colour):
    validation top-1 per epoch, the mean over seeds with a ±1 std band.

    The curves are not in the summary: they come from the cells' metrics.csv,
    in `summary.attrs["curves"]` (kdbench.report.epochs.curves_frame).
    """
    curves = summary.attrs.get("curves")
    if curves is None or curves.empty or "val_top1" not in curves or "n" not in summary:
        return None
    keys = [c for c in summary.columns[: list(summary.columns).index("n")] if c in curves]
    chosen = set(setting_key(chosen_on_validation(summary), keys))
    rows = curves.dropna(subset=["val_top1"])
    rows = rows[setting_key(rows, keys).isin(chosen)] if len(rows) else rows
    if rows.empty:
        return None
    styles = method_styles(summary)
    several_teachers = rows["teacher"].nunique() > 1 if "teacher" in rows else False
    line_keys = ["method", "teacher"] if several_teachers else ["method"]
    students = sorted(rows["student"].unique())
    if several_teachers:  # one colour per (method, teacher): kd from each teacher apart
        pairs = rows.loc[rows["method"] != BASELINE, line_keys].drop_duplicates()
        pairs = sorted(map(tuple, pairs.itertuples(index=False)), key=str)
        styles = {BASELINE: styles[BASELINE]} | {k: series_style(i) for i, k in enumerate(pairs)}
    with plt.rc_context(STYLE):
        fig, axes = panel_grid(len(students), 2.2, max_cols=3)
        labels = []
        for ax, student in zip(axes, students):
            mine = rows[rows["student"] == student]
            for key, line in mine.groupby(line_keys, dropna=False, sort=True):
                method = key[0]
                label = method_label(method)
                if several_teachers and method != BASELINE:
                    label += f" ({key[1]})"
                labels.append(label)
                st = styles.get(tuple(key) if several_teachers else method, styles[BASELINE])
                stats = line.groupby("epoch")["val_top1"].agg(["mean", "std"]).sort_index()
                ax.plot(stats.index, stats["mean"], color=st["color"], linewidth=1, label=label)
                if stats["std"].notna().any():
                    std = stats["std"].fillna(0)
                    ax.fill_between(
                        stats.index,
                        stats["mean"] - std,
                        stats["mean"] + std,
                        color=st["color"],
                        alpha=0.2,
                        linewidth=0,
                    )
            ax.set_title(student)
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes[0].set_ylabel("validation top-1 (%)")
        order = sorted(set(labels), key=lambda lab: (lab != "student alone", lab))
        legend_below(fig, axes, order=order)
        return fig
