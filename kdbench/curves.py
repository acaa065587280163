"""Per-epoch learning curves: Lightning's CSVLogger rows -> one tidy `metrics.csv`.

Lightning writes one row per logging call (train epoch end, validation end,
test) and a new `version_N/` folder when a killed run resumes. A reader wants
one row per epoch, so the raw files are merged here: per epoch, the last value
logged for each column wins (a resumed run re-logs the epoch it restarted).
Epochs are counted from 1, as the progress lines print them; accuracies are
percent, as in the records.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from kdbench.fileio import write_text_atomic

METRICS_CSV = "metrics.csv"
# What the module and the callbacks log (kdbench.module, kdbench.progress) -> the file's columns:
# `train/loss` (the weighted sum) and one `train/<term>` per loss term of the method (`ce`,
# `kd`, ...; unweighted) become `train_loss`, `train_<term>`.
LOGGED = {"lr": "lr", "train/loss": "train_loss", "val/top1": "val_top1"}
COLUMNS = ("epoch", *LOGGED.values())  # always present; term columns follow train_loss
PERCENT = ("val_top1",)


def _column(logged: str) -> str:
    return LOGGED.get(logged) or logged.replace("/", "_")


def tidy_metrics(raw_files: Iterable[Path]) -> pd.DataFrame:
    """One row per epoch (1-based): COLUMNS and a `train_<term>` column per loss term;
    missing parts stay empty."""
    frames = []
    for path in raw_files:
        try:
            frames.append(pd.read_csv(path))
        except (OSError, pd.errors.EmptyDataError):
            continue
    raw = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    if raw.empty or "epoch" not in raw:
        return pd.DataFrame(columns=list(COLUMNS))
    raw = raw.rename(columns=_column).dropna(subset=["epoch"])
    for col in COLUMNS:
        if col not in raw:
            raw[col] = float("nan")
    terms = sorted(c for c in raw if c.startswith("train_") and c not in COLUMNS)
    columns = ["epoch", "lr", "train_loss", *terms, "val_top1"]
    per_epoch = raw[columns].groupby("epoch", sort=True).last().reset_index()
    per_epoch = per_epoch.dropna(how="all", subset=columns[1:])
    per_epoch["epoch"] = per_epoch["epoch"].astype(int) + 1
    for col in PERCENT:
        per_epoch[col] = 100.0 * per_epoch[col]
    return per_epoch.reset_index(drop=True)


def write_metrics_csv(log_dir: Path, out: Path) -> pd.DataFrame:
    """Merge every `version_*/metrics.csv` under `log_dir` into `out` (written atomically)."""
    tidy = tidy_metrics(sorted(Path(log_dir).glob("*/metrics.csv")))
    write_text_atomic(out, tidy.to_csv(index=False, float_format="%.6g"))
    return tidy


def read_metrics_csv(path: Path) -> pd.DataFrame | None:
    """A cell's or teacher's curves, or None when the file is missing or unreadable."""
    try:
        return pd.read_csv(path)
    except (OSError, pd.errors.EmptyDataError, pd.errors.ParserError):
        return None
