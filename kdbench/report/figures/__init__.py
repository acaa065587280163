"""Paper-ready figures from a sweep summary (PDF + PNG, byte-identical reruns).

Each figure is a function in the `FIGURES` registry (its name is the file
stem), one module each, that takes the summary of one data set
(`kdbench.report.stats.summarize`) and returns a matplotlib Figure, or None when
the sweep has no data for it. Figures that show one point or bar per method
pick that method's setting on the validation split
(`kdbench.report.stats.chosen_on_validation`). Adding a figure = one module
here, imported below.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kdbench.report.figures import (  # noqa: F401  (registration side effects)
    capacity_gap,
    compression,
    curves,
    heatmap,
    methods,
    pareto,
    size,
    temperature,
)
from kdbench.report.figures.registry import FIGURES
from kdbench.report.figures.style import save


def write_figures(
    summary: pd.DataFrame, folder: Path, learning_curves: pd.DataFrame | None = None
) -> dict[str, Path]:
    """Every registered figure, per data set (`<name>_<data>` when there are several).

    `learning_curves` (kdbench.report.epochs.curves_frame) reaches the figures that draw
    epochs as `attrs["curves"]` of each data set's summary.
    """
    paths: dict[str, Path] = {}
    if summary.empty or summary["n"].sum() == 0:
        return paths  # every cell failed: nothing to draw (the tables list the failures)
    datasets = sorted(summary["data"].dropna().unique()) if "data" in summary else []
    parts = [(d, summary[summary["data"] == d]) for d in datasets] or [(None, summary)]
    for data, part in parts:
        suffix = f"_{data}" if len(parts) > 1 else ""
        part = part.reset_index(drop=True)
        if learning_curves is not None:
            lc = learning_curves
            mine = lc if data is None or "data" not in lc else lc[lc["data"] == data]
            part.attrs["curves"] = mine.reset_index(drop=True)
        for name in FIGURES:
            fig = FIGURES.get(name)(part)
            if fig is not None:
                paths.update(save(fig, folder / f"{name}{suffix}"))
    return paths
