"""Top-1 against the temperature, one line per soft weight."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from kdbench.report.figures.registry import FIGURES
from kdbench.report.figures.style import (
    BASELINE_COLOR,
    STYLE,
    TOP1_CI_LABEL,
    ci_line,
    has,
    legend_below,
    panel_grid,
    series_style,
    show_value,
    varying_others,
)
from kdbench.report.vocab import BASELINE


@FIGURES.register("top1_vs_temperature")
def temperature_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Student top-1 against temperature, one line per method and soft weight w2 (and any
    other varied setting), one panel per teacher/student pair.

    The same student trained alone is a dashed horizontal line.
    """
    if not (has(summary, "T") and "w2" in summary):
        return None
    rows = summary[(summary["method"] != BASELINE) & summary["T"].notna()]
    rows = rows.dropna(subset=["top1_mean"])
    # only methods whose temperature was varied have a line to draw
    n_t = rows.groupby(["teacher", "student", "method"])["T"].transform("nunique")
    rows = rows[n_t >= 2]
    if rows.empty:
        return None
    line_keys = ["method", "w2", *varying_others(summary, rows)]
    names = sorted(rows.groupby(line_keys, dropna=False).groups)
    several = rows["method"].nunique() > 1
    pairs = sorted(rows.groupby(["teacher", "student"]).groups)
    several_teachers = rows["teacher"].nunique() > 1
    # a line is named by what tells it apart within a panel (the panel's title names the
    # student, so a size key that only differs between panels is not repeated)
    per_pair = rows.groupby(["teacher", "student"], dropna=False)
    shown = [c for c in line_keys[1:] if (per_pair[c].nunique(dropna=False) > 1).any()]
    labels = _line_labels(names, line_keys, shown or ["w2"], several)
    styles = list(dict.fromkeys(labels))  # one style per label: equal lines look alike
    with plt.rc_context(STYLE):
        fig, axes = panel_grid(len(pairs), 2.4, max_cols=3)
        for ax, (teacher, student) in zip(axes, pairs):
            mine = rows[(rows["teacher"] == teacher) & (rows["student"] == student)]
            for key, line in mine.groupby(line_keys, dropna=False, sort=True):
                i = names.index(key)
                st = series_style(styles.index(labels[i]))
                line = line.sort_values("T")
                # dodge the lines a little so their error bars do not sit on each other
                dodge = 2 ** (0.05 * (i - (len(names) - 1) / 2))
                ci_line(ax, line["T"] * dodge, line, st, labels[i])
            alone = summary[(summary["student"] == student) & (summary["method"] == BASELINE)]
            if has(alone, "top1_mean"):
                ax.axhline(
                    alone["top1_mean"].iloc[0],
                    color=BASELINE_COLOR,
                    linestyle="--",
                    linewidth=1,
                    label="student alone",
                )
            ax.set_xscale("log", base=2)
            ts = sorted(mine["T"].unique())
            ax.set_xticks(ts, [f"{t:g}" for t in ts])
            ax.minorticks_off()
            ax.set_title(f"{teacher} → {student}" if several_teachers else student)
            ax.set_xlabel("temperature T")
        axes[0].set_ylabel(TOP1_CI_LABEL)
        legend_below(fig, axes, order=[*styles, "student alone"])
        return fig


def _line_labels(names: list[tuple], keys: list[str], shown: list[str], several: bool) -> list[str]:
    out = []
    for key in names:
        named = dict(zip(keys, key))
        parts = [f"{c}={show_value(named[c])}" for c in shown]
        out.append(", ".join(([named["method"]] if several else []) + parts))
    return out
