"""Learning curves of a sweep: every ok cell's `metrics.csv` as one long frame.

The summary has one row per setting and no epochs, so the curves come in a
frame of their own: one row per (cell, epoch), with the cell's settings and
seed, ready to be grouped like the summary (kdbench.report.stats) and drawn
(kdbench.report.figures.curves, which finds it in `summary.attrs["curves"]`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kdbench.curves import METRICS_CSV, read_metrics_csv
from kdbench.report.frame import group_columns


def curves_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Per-epoch rows of every ok record in `df` (the records frame) that kept its curves."""
    keys = [*group_columns(df), "seed"]
    parts = []
    for _, row in df[df["status"] == "ok"].iterrows():
        if not isinstance(row.get("path"), str):
            continue
        curve = read_metrics_csv(Path(row["path"]).parent / METRICS_CSV)
        if curve is None or curve.empty:
            continue
        parts.append(curve.assign(**{k: row[k] for k in keys}))
    if not parts:
        return pd.DataFrame(columns=[*keys, "epoch"])
    return pd.concat(parts, ignore_index=True)
