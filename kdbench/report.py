"""Records -> one tidy DataFrame -> mean ± std over seeds -> CSV / Markdown (+ figures).

Every metric column carries its unit in its name where it has one
(`params_m`, `mflops`, `size_kb`, `latency_ms_p50_bs1`); accuracies are percent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kdbench.errors import KdbenchError
from kdbench.records import find_records

METRICS = ["top1", "top5", "precision_macro", "recall_macro", "f1_macro", "ece", "agreement"]
EFFICIENCY = ["params_m", "mflops", "size_kb"]
# Columns that describe a cell; a group is every one of them but the seed.
SETTINGS = ["data", "teacher", "student", "method", "T", "alpha", "w1", "w2"]
STUDENT_KEY = ["data", "student"]  # what identifies "the same student trained alone"


def flatten_record(record: dict[str, Any], path: Path | None = None) -> dict[str, Any]:
    """One row: settings, status, test metrics, teacher top-1, efficiency with units."""
    row: dict[str, Any] = dict(record.get("config", {}))
    row["status"] = record.get("status")
    row["experiment"] = record.get("experiment")
    row["key"] = record.get("key")
    row["path"] = str(path) if path else None
    if record.get("status") != "ok":
        err = record.get("error") or {}
        row["error"] = f"{err.get('type', '?')}: {err.get('message', '')}"
        return row
    row.update({m: record["metrics"].get(m) for m in METRICS})
    teacher = record.get("teacher_metrics") or {}
    row["teacher_top1"] = teacher.get("top1")
    eff = record.get("efficiency") or {}
    row.update({k: eff.get(k) for k in EFFICIENCY})
    for backend, by_batch in (eff.get("latency") or {}).items():
        for batch, stats in by_batch.items():
            suffix = "" if backend == "torch_fp32" else f"_{backend}"
            for stat in ("latency_ms_p50", "latency_ms_p90"):
                row[f"{stat}_{batch}{suffix}"] = stats.get(stat)
    row["train_s"] = (record.get("timing") or {}).get("total_s")
    return row


def load_records(dirs: Iterable[str | Path]) -> pd.DataFrame:
    """Every record below the given sweep folders (ok and failed) as one DataFrame."""
    rows = []
    for d in dirs:
        d = Path(d)
        if not d.is_dir():
            raise KdbenchError(f"no such sweep folder: {d} (run a sweep first, e.g. `make run`)")
        for path in find_records(d):
            rows.append(flatten_record(json.loads(path.read_text()), path))
    if not rows:
        raise KdbenchError(f"no record.json found under {', '.join(map(str, dirs))}")
    df = pd.DataFrame(rows)
    for col in SETTINGS + ["seed"]:
        if col not in df:
            df[col] = np.nan
    return df


def _group_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in SETTINGS if c in df and df[c].notna().any()]


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and n over seeds per group; Δ top-1 against the student alone; gap closed.

    Δ is paired by seed where the same student alone has a record with that seed,
    and falls back to the difference of means otherwise. Gap closed is
    (student - alone) / (teacher - alone) on the means, NaN where the teacher is
    not above the student alone.
    """
    ok = df[df["status"] == "ok"].copy()
    if ok.empty:
        return pd.DataFrame()
    keys = _group_columns(ok)
    value_cols = [c for c in METRICS + ["teacher_top1"] + EFFICIENCY if c in ok]
    value_cols += sorted(c for c in ok if c.startswith("latency_ms_"))
    alone = ok[ok["method"] == "none"].groupby(STUDENT_KEY + ["seed"])["top1"].mean()
    ok["delta_top1"] = [
        row.top1 - alone.get((row.data, row.student, row.seed), np.nan)
        for row in ok[STUDENT_KEY + ["seed", "top1"]].itertuples()
    ]
    grouped = ok.groupby(keys, dropna=False)
    summary = grouped[value_cols + ["delta_top1"]].agg(["mean", "std"])
    summary.columns = [f"{col}_{stat}" for col, stat in summary.columns]
    summary["n"] = grouped.size()
    summary = summary.reset_index()

    alone_mean = ok[ok["method"] == "none"].groupby(STUDENT_KEY)["top1"].mean()
    base = [alone_mean.get((r.data, r.student), np.nan) for r in summary.itertuples()]
    summary["alone_top1_mean"] = base
    gap = summary["teacher_top1_mean"] - summary["alone_top1_mean"]
    # Undefined where the teacher is not better than the student alone.
    summary["gap_closed"] = (summary["top1_mean"] - summary["alone_top1_mean"]) / gap.where(gap > 0)
    return summary.sort_values(keys, na_position="first").reset_index(drop=True)


def pm(mean: float, std: float, digits: int = 2) -> str:
    """'70.66 ± 0.21'; a single seed has no std and shows the mean alone."""
    if mean is None or pd.isna(mean):
        return "–"
    if std is None or pd.isna(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def display_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The human table: settings, then `mean ± std` cells, Δ, gap closed, cost."""
    keys = [c for c in SETTINGS if c in summary and summary[c].notna().any()]
    out = summary[keys].copy()
    out = out.astype(object).where(out.notna(), "")
    out["n"] = summary["n"]
    for col, label in (("top1", "top1 %"), ("f1_macro", "F1 macro %"), ("delta_top1", "Δ top1")):
        if f"{col}_mean" in summary:
            out[label] = [pm(m, s) for m, s in zip(summary[f"{col}_mean"], summary[f"{col}_std"])]
    if "gap_closed" in summary:
        out["gap closed %"] = [
            "" if pd.isna(g) else f"{100 * g:.0f}" for g in summary["gap_closed"]
        ]
    if "teacher_top1_mean" in summary:
        out["teacher top1 %"] = [
            "" if pd.isna(v) else f"{v:.2f}" for v in summary["teacher_top1_mean"]
        ]
    for col, label, digits in (
        ("params_m_mean", "params (M)", 4),
        ("mflops_mean", "MFLOPs", 3),
        ("latency_ms_p50_bs1_mean", "latency bs1 (ms)", 3),
    ):
        if col in summary:
            out[label] = [f"{v:.{digits}f}" for v in summary[col]]
    return out


def write_report(dirs: list[Path], out: Path) -> dict[str, Path]:
    """Write summary.csv and summary.md (+ figures) into `out`; print the table and paths."""
    from kdbench.plots import temperature_figure

    df = load_records(dirs)
    summary = summarize(df)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "summary.csv", "md": out / "summary.md"}
    summary.to_csv(paths["csv"], index=False)
    table = display_table(summary) if not summary.empty else pd.DataFrame()
    failed = df[df["status"] != "ok"]
    md = table.to_markdown(index=False) if not table.empty else "(no finished cells)"
    if not failed.empty:
        cols = [c for c in ("student", "method", "T", "alpha", "seed", "error") if c in failed]
        md += "\n\n## Failed cells\n\n" + failed[cols].to_markdown(index=False)
    paths["md"].write_text(md + "\n")
    if not summary.empty:
        paths.update(temperature_figure(summary, out / "figures"))
    print(md)
    print()
    for kind, path in paths.items():
        print(f"{kind:>4}: {path}")
    return paths
