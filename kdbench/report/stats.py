"""Statistics over seeds: mean, std and n per row; Δ against the student alone with a 95 %
confidence interval and a paired t-test, Holm-corrected over the table; gap closed.

A row (group) is every setting but the seed (`frame.group_columns`). Failed
and diverged cells stay visible: they count in `n_failed` of their group.

Δ is paired by seed: the cell minus the same student alone (same settings but
the method's own, same seed). Over the n pairs d_1..d_n of a row:
mean, std (n-1 denominator), `ci95` = t_{0.975, n-1} · std / √n (half-width
of the 95 % t-interval) and `p` = the two-sided p-value of t = mean / (std / √n)
with n-1 degrees of freedom (the paired t-test; `scipy.stats.ttest_1samp` on the
differences). `p_holm` adjusts the p-values of all rows of the table together
(Holm–Bonferroni), so a † in a table of many rows is not a multiple-testing artefact.
With fewer than 2 pairs there is no spread: CI and p stay empty.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as sps

from kdbench.errors import KdbenchError
from kdbench.report.frame import group_columns, method_settings, settings_of, value_columns
from kdbench.report.latency import shared_latency
from kdbench.report.vocab import BASELINE, IDENTITY, NOT_BASELINE_IDENTITY

PAIRED_STATS = ("mean", "std", "n", "ci95", "p")


def paired_stats(deltas: Sequence[float]) -> dict[str, float]:
    """mean, std, n, ci95 (t half-width) and p (two-sided one-sample t-test against 0)."""
    d = np.asarray([x for x in deltas if np.isfinite(x)], dtype=float)
    n = len(d)
    out = {"mean": float(d.mean()) if n else np.nan, "std": np.nan, "n": float(n)}
    out["ci95"] = out["p"] = np.nan
    if n >= 2:
        std = float(d.std(ddof=1))
        out["std"] = std
        out["ci95"] = float(sps.t.ppf(0.975, n - 1) * std / np.sqrt(n))
        if std > 0:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out["p"] = float(sps.ttest_1samp(d, 0.0).pvalue)
    return out


def mean_ci95(values: pd.Series) -> float:
    """Half-width of the 95 % t-interval of a mean (NaN below 2 values)."""
    v = values.dropna()
    if len(v) < 2:
        return np.nan
    return float(sps.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (NaN entries are not tests and stay NaN).

    With the m finite p-values sorted, p_(1) <= ... <= p_(m): adjusted p_(i) =
    max over j <= i of min(1, (m - j + 1) · p_(j)). Rejecting where adjusted < α
    controls the family-wise error rate at α.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full_like(p, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = len(idx)
    running = 0.0
    for rank, i in enumerate(idx[np.argsort(p[idx], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def _baseline_keys(ok: pd.DataFrame, keys: Sequence[str]) -> list[str]:
    """Settings a student-alone record has (method-specific ones are empty there).

    Never the teacher's settings: a student alone does not depend on a teacher (a grid
    that also prunes a copy of the teacher, `stages.0.source=teacher`, has teacher
    settings in some of its student-alone rows; those rows' `student` already names the
    teacher's architecture and their `compress` the stage list, which pairs them)."""
    base = ok[ok["method"] == BASELINE]
    return [
        c
        for c in keys
        if c not in NOT_BASELINE_IDENTITY and not c.startswith("teacher_") and base[c].notna().any()
    ]


def _sort(summary: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Data, student, then the student alone before the methods, then the rest."""
    first = [c for c in ("data", "student") if c in keys]
    rank = (summary["method"] != BASELINE).astype(int).rename("_rank")
    order = first + ["_rank"] + [c for c in keys if c not in first]
    out = summary.assign(_rank=rank).sort_values(order, na_position="first", kind="stable")
    return out.drop(columns="_rank").reset_index(drop=True)


def _paired_columns(ok: pd.DataFrame, keys: list[str], delta: str, prefix: str) -> pd.DataFrame:
    """Per group: `<prefix>_mean|std|n|ci95|p` of the paired differences in column `delta`."""
    rows = []
    for key, part in ok.groupby(keys, dropna=False, sort=False):
        st = paired_stats(part[delta].to_numpy(dtype=float))
        rows.append({**dict(zip(keys, key)), **{f"{prefix}_{k}": v for k, v in st.items()}})
    return pd.DataFrame(rows, columns=[*keys, *(f"{prefix}_{k}" for k in PAIRED_STATS)])


def _merge(summary: pd.DataFrame, extra: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Left-merge on settings; NaN settings match NaN (groupby with dropna=False keeps them).

    A setting empty in every group comes back from the groupby as object (None) where the
    summary has float (NaN): both sides are put on the summary's dtype first.
    """
    extra = extra.copy()
    for k in keys:
        if extra[k].dtype != summary[k].dtype:
            try:
                extra[k] = extra[k].astype(summary[k].dtype)
            except (TypeError, ValueError):
                extra[k] = extra[k].astype(object)
                summary = summary.assign(**{k: summary[k].astype(object)})
    return summary.merge(extra, on=keys, how="left")


def _reference_rows(ok: pd.DataFrame, keys: list[str], context: list[str], ref: str):
    """The reference method's records of the setting chosen on validation, per context."""
    mine = ok[ok["method"] == ref].copy()
    if mine.empty:
        return mine
    score = "val_top1" if "val_top1" in mine and mine["val_top1"].notna().any() else "top1"
    mine["_group"] = mine.groupby(keys, dropna=False, sort=False).ngroup()
    mine["_score"] = mine.groupby("_group")[score].transform("mean")
    ranked = mine.sort_values(["_score", "_group"], ascending=[False, True], kind="stable")
    if context:
        best = ranked.groupby(context, dropna=False, sort=False)["_group"].first()
    else:
        best = ranked["_group"].head(1)
    return mine[mine["_group"].isin(set(best))].drop(columns=["_group", "_score"])


def summarize(df: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """Mean, std and n over seeds per group; Δ top-1 against the student alone; gap closed.

    * `n` ok seeds and `n_failed` failed (or diverged) ones; a group whose every
      seed failed is kept, with n = 0 and empty statistics.
    * `<metric>_mean|std` over seeds, and `top1_ci95` (t half-width) for figures.
    * `delta_top1_mean|std|n|ci95|p|p_holm`: Δ paired by seed (see the module
      docstring). A group without any pair falls back to the difference of the
      means (std, CI and p then empty, `delta_top1_n` 0).
    * `reference` (a method label, e.g. `kd`): `delta_ref_top1_*` the same paired
      comparison against that method's row of the same context (every setting
      but the method's own: data, teacher, student, recipe, ...). Where the
      reference has several settings in a context (several T), the one with the
      best validation top-1 is the reference.
    * `latency_ms_*_mean|std`: one latency per architecture (`report.latency`): the
      median over every cell of the same student, input and host, ± the std over those
      cells; `latency_cells` how many.
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

    ok, latency_spread = shared_latency(ok)  # one latency per architecture, not per cell
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
        ok = _merge(ok, paired, base_keys + ["seed"])
    ok["delta_top1"] = (ok.get("top1", np.nan) - ok["_alone"]).where(ok["method"] != BASELINE)

    grouped = ok.groupby(keys, dropna=False)
    stats = grouped[values].agg(["mean", "std"])
    stats.columns = [f"{col}_{stat}" for col, stat in stats.columns]
    extra = {}  # built apart and joined at once: column-by-column inserts fragment the frame
    for col in latency_spread:  # the spread of the architecture's cells, not over seeds
        name = col if col == "latency_cells" else f"{col}_std"
        extra[name] = (
            ok.assign(_spread=latency_spread[col]).groupby(keys, dropna=False)["_spread"].first()
        )
    for metric in ("top1", "int8_top1"):  # the accuracies figures draw with CI bars
        if metric in ok:
            extra[f"{metric}_ci95"] = grouped[metric].agg(mean_ci95)
    if extra:  # replaces the over-seeds std of a latency by its architecture's spread
        stats = stats.drop(columns=[c for c in extra if c in stats])
        stats = pd.concat([stats, pd.DataFrame(extra)], axis=1)
    with warnings.catch_warnings():
        # pandas' hint that a frame of a few hundred columns is fragmented: a speed hint for
        # frames of millions of rows, noise on a summary of a few dozen rows
        warnings.simplefilter("ignore", pd.errors.PerformanceWarning)
        summary = counts.merge(stats.reset_index(), on=keys, how="left")
        summary = _merge(summary, _paired_columns(ok, keys, "delta_top1", "delta_top1"), keys)
        summary = summary.copy()
    summary["delta_n"] = summary["delta_top1_n"]  # the name older readers of summary.csv know

    if baseline.empty:
        summary["alone_top1_mean"] = summary["alone_top1_std"] = np.nan
    elif not base_keys:
        summary["alone_top1_mean"] = baseline["top1"].mean()
        summary["alone_top1_std"] = baseline["top1"].std()
    else:
        alone = baseline.groupby(base_keys, dropna=False)["top1"].agg(["mean", "std"])
        alone.columns = ["alone_top1_mean", "alone_top1_std"]
        summary = _merge(summary, alone.reset_index(), base_keys)
    no_pair = (summary["delta_top1_n"].fillna(0) == 0) & (summary["method"] != BASELINE)
    summary.loc[no_pair, "delta_top1_mean"] = (summary["top1_mean"] - summary["alone_top1_mean"])[
        no_pair
    ]
    summary = summary.copy()  # one block again after the column-by-column merges above
    summary["delta_top1_p_holm"] = holm(summary["delta_top1_p"])
    if reference is not None:
        summary = _with_reference(summary, ok, df, keys, reference)
    if "teacher_top1_mean" in summary:
        gap = summary["teacher_top1_mean"] - summary["alone_top1_mean"]
        meaningful = (gap > 0) & ~(gap <= summary["alone_top1_std"])  # a NaN std (n=1) passes
        closed = (summary["top1_mean"] - summary["alone_top1_mean"]) / gap.where(meaningful)
        summary["gap_closed"] = closed.where(summary["method"] != BASELINE)
    out = _sort(summary, keys)
    out.attrs["reference"] = reference
    return out


def _with_reference(
    summary: pd.DataFrame, ok: pd.DataFrame, df: pd.DataFrame, keys: list[str], ref: str
) -> pd.DataFrame:
    """`delta_ref_top1_*`: each row against `ref`'s row of the same context, paired by seed."""
    if ref not in set(df["method"].dropna()):
        known = ", ".join(sorted(map(str, df["method"].dropna().unique())))
        raise KdbenchError(f"--reference {ref}: no such method in the records (methods: {known})")
    own = set(method_settings(df))
    context = [c for c in keys if c not in own]
    rows = _reference_rows(ok, keys, context, ref)
    paired = rows.groupby(context + ["seed"], dropna=False)["top1"].mean().rename("_ref")
    chosen = set(map(tuple, rows[keys].astype(str).drop_duplicates().to_numpy()))
    mine = _merge(ok, paired.reset_index(), context + ["seed"])
    is_ref = mine[keys].astype(str).apply(tuple, axis=1).isin(chosen)
    mine["delta_ref_top1"] = (mine["top1"] - mine["_ref"]).where(
        ~is_ref & (mine["method"] != BASELINE)
    )
    cols = _paired_columns(mine, keys, "delta_ref_top1", "delta_ref_top1")
    summary = _merge(summary, cols, keys)
    summary["delta_ref_top1_p_holm"] = holm(summary["delta_ref_top1_p"])
    return summary


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
