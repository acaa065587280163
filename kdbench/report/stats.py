"""Statistics over seeds: mean, std and n per row; Δ against the student alone; gap closed.

A row (group) is every setting but the seed. Failed cells stay visible: they
count in `n_failed` of their group.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from kdbench.errors import KdbenchError
from kdbench.report.frame import group_columns, settings_of, value_columns
from kdbench.report.vocab import BASELINE, IDENTITY, NOT_BASELINE_IDENTITY


def _baseline_keys(ok: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """Settings a student-alone record has (method-specific ones are empty there)."""
    base = ok[ok["method"] == BASELINE]
    return [c for c in keys if c not in NOT_BASELINE_IDENTITY and base[c].notna().any()]


def _sort(summary: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Data, student, then the student alone before the methods, then the rest."""
    first = [c for c in ("data", "student") if c in keys]
    rank = (summary["method"] != BASELINE).astype(int).rename("_rank")
    order = first + ["_rank"] + [c for c in keys if c not in first]
    out = summary.assign(_rank=rank).sort_values(order, na_position="first", kind="stable")
    return out.drop(columns="_rank").reset_index(drop=True)


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and n over seeds per group; Δ top-1 against the student alone; gap closed.

    * `n` ok seeds and `n_failed` failed ones; a group whose every seed failed
      is kept, with n = 0 and empty statistics.
    * `delta_top1_*`: Δ is paired by seed (student with method minus the same
      student alone with the same seed; `delta_n` pairs). A group without any
      pair falls back to the difference of the means (std then empty).
    * `alone_top1_mean`, `teacher_top1_mean` and `gap_closed` =
      (top1 - alone) / (teacher - alone) on the means, a fraction; empty where
      the teacher is not above the student alone by more than the student
      alone's seed-to-seed std (`alone_top1_std`): a share of a gap smaller than
      that noise is noise (a 0.09-point gap turned a 0.5-point drop into -600 %).
    """
    keys = group_columns(df)
    if not keys:
        raise KdbenchError("the records have no settings in `config`; they cannot be grouped")
    ok = df[df["status"] == "ok"].copy()
    counts = (
        df.assign(_ok=df["status"] == "ok", _failed=df["status"] != "ok")
        .groupby(keys, dropna=False)[["_ok", "_failed"]]
        .sum()
        .rename(columns={"_ok": "n", "_failed": "n_failed"})
        .astype(int)
        .reset_index()
    )
    if ok.empty:
        return _sort(counts, keys)

    values = value_columns(ok, settings_of(df))
    base_keys = _baseline_keys(ok, keys)
    baseline = ok[ok["method"] == BASELINE]
    if baseline.empty or "top1" not in ok:
        ok["_alone"] = np.nan
    else:
        paired = (
            baseline.groupby(base_keys + ["seed"], dropna=False)["top1"]
            .mean()
            .rename("_alone")
            .reset_index()
        )
        ok = ok.merge(paired, on=base_keys + ["seed"], how="left")
    ok["delta_top1"] = (ok.get("top1", np.nan) - ok["_alone"]).where(ok["method"] != BASELINE)

    grouped = ok.groupby(keys, dropna=False)
    stats = grouped[values + ["delta_top1"]].agg(["mean", "std"])
    stats.columns = [f"{col}_{stat}" for col, stat in stats.columns]
    stats["delta_n"] = grouped["delta_top1"].count()
    summary = counts.merge(stats.reset_index(), on=keys, how="left")

    if baseline.empty:
        summary["alone_top1_mean"] = summary["alone_top1_std"] = np.nan
    elif not base_keys:
        summary["alone_top1_mean"] = baseline["top1"].mean()
        summary["alone_top1_std"] = baseline["top1"].std()
    else:
        alone = baseline.groupby(base_keys, dropna=False)["top1"].agg(["mean", "std"])
        alone.columns = ["alone_top1_mean", "alone_top1_std"]
        summary = summary.merge(alone.reset_index(), on=base_keys, how="left")
    no_pair = (summary["delta_n"].fillna(0) == 0) & (summary["method"] != BASELINE)
    summary.loc[no_pair, "delta_top1_mean"] = (summary["top1_mean"] - summary["alone_top1_mean"])[
        no_pair
    ]
    if "teacher_top1_mean" in summary:
        gap = summary["teacher_top1_mean"] - summary["alone_top1_mean"]
        meaningful = (gap > 0) & ~(gap <= summary["alone_top1_std"])  # a NaN std (n=1) passes
        closed = (summary["top1_mean"] - summary["alone_top1_mean"]) / gap.where(meaningful)
        summary["gap_closed"] = closed.where(summary["method"] != BASELINE)
    return _sort(summary, keys)


def chosen_on_validation(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (data, teacher, student, method): the setting with the best validation top-1.

    Figures that show one point or bar per method use this, so the setting is
    picked on the validation split, never on the test numbers they display.
    Without validation numbers (older records) every setting is kept.
    """
    done = summary[summary["n"] > 0]
    if "val_top1_mean" not in done or done["val_top1_mean"].isna().all():
        return done.reset_index(drop=True)
    by = [c for c in IDENTITY if c in done]
    best = done.sort_values("val_top1_mean", ascending=False, kind="stable")
    best = best.groupby(by, dropna=False, sort=False).head(1)
    return best.sort_index().reset_index(drop=True)
