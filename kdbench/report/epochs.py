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
    for i, path in df.loc[df["status"] == "ok", "path"].items():
        if not isinstance(path, str):
            continue
        curve = read_metrics_csv(Path(path).parent / METRICS_CSV)
        if curve is not None and not curve.empty:
            parts.append(curve.assign(_row=i))
    if not parts:
        return pd.DataFrame(columns=[*keys, "epoch"])
    curves = pd.concat(parts, ignore_index=True)
    # a curve's own columns never shadow a setting: the epoch's learning rate `lr` beside the
    # `lr` setting (train.optim.lr) becomes `lr_measured`, as in the records frame
    curves = curves.rename(columns={c: f"{c}_measured" for c in curves if c in keys})
    settings = df[keys].loc[curves["_row"]].reset_index(drop=True)  # the records' dtypes
    return pd.concat([settings, curves.drop(columns="_row")], axis=1)


def setting_key(frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    """One text per row naming its settings, comparable across frames whatever their dtypes
    (a setting empty for the student alone is NaN in one frame and None in another)."""

    def text(v: object) -> str:
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return ""
        return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)

    return frame[keys].apply(lambda col: col.map(text)).agg("|".join, axis=1)
