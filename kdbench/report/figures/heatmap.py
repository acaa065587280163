"""Δ top-1 over the temperature x soft-weight grid."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from kdbench.report.figures.registry import FIGURES
from kdbench.report.figures.style import (
    HEATMAP_CMAP,
    STYLE,
    has,
    panel_grid,
    show_value,
    varying_others,
)
from kdbench.report.vocab import BASELINE


def _heatmap_panels(summary: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(title, rows) per teacher/student/method (and any other varying setting) with a T axis."""
    if not (has(summary, "T") and has(summary, "w2") and has(summary, "delta_top1_mean")):
        return []
    rows = summary[(summary["method"] != BASELINE) & summary["T"].notna()]
    rows = rows.dropna(subset=["delta_top1_mean"])
    first = [c for c in ("teacher", "student", "method") if c in rows]
    other = varying_others(summary, rows)
    panels = []
    for key, part in rows.groupby(first + other, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        if len(part) < 2 or part["T"].nunique() < 2 and part["w2"].nunique() < 2:
            continue
        named = dict(zip(first + other, key))
        title = f"{named.get('teacher')} → {named.get('student')}\n{named.get('method')}"
        title += "".join(f", {c}={show_value(named[c])}" for c in other)
        panels.append((title, part))
    return panels


@FIGURES.register("heatmap_delta_top1")
def heatmap_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Δ top-1 over the temperature × soft-weight grid, one panel per teacher/student pair.

    Values (percentage points against the same student alone) are written in
    the cells; one diverging colour scale, centred on zero, for all panels.
    """
    panels = _heatmap_panels(summary)
    if not panels:
        return None
    vmax = max(float(p["delta_top1_mean"].abs().max()) for _, p in panels) or 1.0
    with plt.rc_context(STYLE):
        n_w = max(p["w2"].nunique() for _, p in panels)
        fig, axes = panel_grid(len(panels), 0.9 + 0.32 * n_w + 0.3)
        image = None
        for ax, (title, part) in zip(axes, panels):
            grid = part.pivot_table(index="w2", columns="T", values="delta_top1_mean")
            image = ax.imshow(
                grid.to_numpy(),
                cmap=HEATMAP_CMAP,
                vmin=-vmax,
                vmax=vmax,
                origin="lower",
                aspect="auto",
            )
            for (i, j), v in np.ndenumerate(grid.to_numpy()):
                if not np.isnan(v):
                    ax.text(
                        j,
                        i,
                        f"{v:+.2f}".replace("-", "\u2212"),
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if abs(v) > 0.6 * vmax else "black",
                    )
            ax.set_xticks(range(grid.shape[1]), [f"{t:g}" for t in grid.columns])
            ax.set_yticks(range(grid.shape[0]), [f"{w:g}" for w in grid.index])
            ax.set_xlabel("temperature T")
            ax.set_ylabel("soft weight w2")
            ax.set_title(title, fontsize=7)
            ax.spines[:].set_visible(False)
            ax.tick_params(length=0)
        fig.colorbar(image, ax=axes, label="Δ top-1 (pp)", shrink=0.9, aspect=15)
        return fig
