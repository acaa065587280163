"""Records -> one tidy DataFrame -> mean ± std over seeds -> CSV / Markdown / LaTeX (+ figures).

Every column carries its unit in its name where it has one (`params_m`,
`mflops`, `size_kb`, `latency_ms_p50_bs1`); accuracies, ECE and Δ are percent
(points). Records are flattened generically, so fields added to the record
later (another backend, an int8 block, a method's own setting such as `beta`)
become columns without touching this module:

* `config.*`          -> settings, as they are (`student`, `method`, `T`, `beta`, ...)
* `metrics.*`         -> `top1`, `f1_macro`, `ece`, ...
* `teacher_metrics.*` -> `teacher_top1`, ...
* `training`          -> `val_top1` (what chose the checkpoint), `epochs`
* `efficiency.<k>`    -> `params_m`, `mflops`, `size_kb`, `onnx_int8_size_kb`, ...
* `efficiency.<block>.<k>` -> `int8_top1`, `int8_top1_delta`, ...
* `efficiency.latency[backend][bsN]` -> `latency_ms_p50_bsN` for torch eager
  (`torch_fp32`, the reference every record has), `latency_ms_p50_bsN_<backend>`
  for the others (`..._ort_fp32`, `..._ort_int8`).

A group is every setting but the seed. Failed cells stay visible: they count in
`n_failed` of their group and are listed with their error in their own table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kdbench.errors import KdbenchError
from kdbench.records import find_records

BASELINE = "none"  # the method that is "the same student trained alone"
# Settings that never split a group: the seed is what we average over.
NOT_GROUPING = ("seed",)
# Settings a baseline record is not matched on when pairing a method with its
# student alone (the baseline has no teacher and its own loss weights).
NOT_BASELINE_IDENTITY = ("method", "teacher", "w1", "w2", "seed")
IDENTITY = ("data", "teacher", "student", "method")
# Parts of the student's label (`cnn-d2-w0.5`): never a column of their own in the tables.
STUDENT_PARTS = ("student_name", "student_depth", "student_width")
PRIMARY_LATENCY_BACKENDS = ("ort_fp32", "torch_fp32")  # the first present is the headline
TORCH_BACKEND = "torch_fp32"  # unsuffixed in column names


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _setting_value(value: Any) -> Any:
    """Settings must be hashable to group by; lists and dicts become their JSON text."""
    return value if _scalar(value) else json.dumps(value, sort_keys=True)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def latency_column(stat: str, batch: str, backend: str) -> str:
    """`latency_ms_p50_bs1` for torch eager, `latency_ms_p50_bs1_ort_fp32` for another backend."""
    return f"{stat}_{batch}" + ("" if backend == TORCH_BACKEND else f"_{backend}")


def _flatten_efficiency(eff: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in eff.items():
        if key == "latency":
            for backend, by_batch in (value or {}).items():
                for batch, stats in (by_batch or {}).items():
                    for stat, v in (stats or {}).items():
                        if stat.startswith("latency_ms_") and _number(v):
                            row[latency_column(stat, batch, backend)] = v
        elif key == "host":
            row["host_cpu"] = (value or {}).get("cpu")
        elif isinstance(value, dict):
            row.update({f"{key}_{k}": v for k, v in value.items() if _number(v)})
        elif _number(value):
            row[key] = value
    return row


def flatten_record(record: dict[str, Any], path: Path | str | None = None) -> dict[str, Any]:
    """One tidy row: settings, status, test metrics, teacher metrics, efficiency with units."""
    row: dict[str, Any] = {k: _setting_value(v) for k, v in (record.get("config") or {}).items()}
    row["status"] = record.get("status")
    row["experiment"] = record.get("experiment")
    row["key"] = record.get("key")
    row["path"] = str(path) if path else None
    if record.get("status") != "ok":
        err = record.get("error") or {}
        row["error"] = f"{err.get('type', '?')}: {err.get('message', '')}"
    row.update({k: v for k, v in (record.get("metrics") or {}).items() if _number(v)})
    teacher = record.get("teacher_metrics") or {}
    row.update({f"teacher_{k}": v for k, v in teacher.items() if _number(v)})
    training = record.get("training") or {}
    if _number(training.get("best_val_top1")):
        row["val_top1"] = training["best_val_top1"]
    if _number(training.get("epochs")):
        row["epochs"] = training["epochs"]
    row.update(_flatten_efficiency(record.get("efficiency") or {}))
    total = (record.get("timing") or {}).get("total_s")
    if _number(total):
        row["cell_s"] = total
    return row


def records_frame(records: Sequence[tuple[dict[str, Any], Path | str | None]]) -> pd.DataFrame:
    """(record, path) pairs -> the tidy DataFrame; `attrs["settings"]` names the setting columns.

    The same cell (same key) found twice, e.g. in two sweep folders reported
    together, is one cell: an ok record wins over a failed one, else the first.
    """
    chosen: dict[Any, tuple[dict[str, Any], Any]] = {}
    for i, (record, path) in enumerate(records):
        key = record.get("key") or f"#{i}"
        if key not in chosen or (
            chosen[key][0].get("status") != "ok" and record.get("status") == "ok"
        ):
            chosen[key] = (record, path)
    rows = [flatten_record(r, p) for r, p in chosen.values()]
    df = pd.DataFrame(rows)
    settings = list(dict.fromkeys(k for r, _ in chosen.values() for k in r.get("config") or {}))
    for col in ("status", "error", "seed", "method", *settings):
        if col not in df:
            df[col] = np.nan
    df.attrs["settings"] = settings
    return df


def load_records(dirs: Iterable[str | Path]) -> pd.DataFrame:
    """Every record below the given sweep folders (ok and failed) as one DataFrame."""
    dirs = [Path(d) for d in dirs]
    pairs = []
    for d in dirs:
        if not d.is_dir():
            raise KdbenchError(f"no such sweep folder: {d} (run a sweep first, e.g. `make run`)")
        for path in find_records(d):
            try:
                pairs.append((json.loads(path.read_text()), path))
            except (OSError, json.JSONDecodeError) as exc:
                raise KdbenchError(
                    f"unreadable record {path}: {exc} (delete it and rerun)"
                ) from exc
    if not pairs:
        raise KdbenchError(
            f"no record.json found under {', '.join(map(str, dirs))} (run a sweep into it first)"
        )
    return records_frame(pairs)


def settings_of(df: pd.DataFrame) -> list[str]:
    settings = df.attrs.get("settings")
    if settings is None:
        raise KdbenchError("this DataFrame has no attrs['settings']; build it with load_records")
    return [c for c in settings if c in df]


def group_columns(df: pd.DataFrame) -> list[str]:
    """Every setting but the seed: what makes two records the same cell of the grid.

    Identity first (data, teacher, student, method), then the rest in record order.
    """
    settings = [c for c in settings_of(df) if c not in NOT_GROUPING]
    first = [c for c in IDENTITY if c in settings]
    return first + [c for c in settings if c not in first]


def value_columns(ok: pd.DataFrame, settings: Sequence[str]) -> list[str]:
    """The numeric outcome columns of ok records (metrics, teacher, efficiency, timing)."""
    skip = set(settings) | {"seed"}
    return [
        c
        for c in ok.columns
        if c not in skip and pd.api.types.is_numeric_dtype(ok[c]) and ok[c].notna().any()
    ]


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


# ---------------------------------------------------------------- display tables


@dataclass(frozen=True)
class Column:
    """One displayed statistic: where it comes from, how it reads, which end is best."""

    source: str  # summary column stem: `<source>_mean` / `<source>_std`
    md: str
    tex: str
    digits: int | None = 2  # None: enough for three significant figures
    spread: bool = True  # show `mean ± std`
    best: str | None = None  # "max" | "min" | None
    scale: float = 1.0


def display_columns(summary: pd.DataFrame) -> list[Column]:
    """The statistics shown, in order, where the summary has them."""
    cols = [
        Column("top1", "top-1 (%)", r"top-1 (\%)", best="max"),
        Column("delta_top1", "Δ top-1", r"$\Delta$ top-1", best="max"),
        Column("gap_closed", "gap closed (%)", r"gap closed (\%)", 0, False, "max", 100.0),
        Column("teacher_top1", "teacher top-1 (%)", r"teacher top-1 (\%)", spread=False),
        Column("f1_macro", "F1 macro (%)", r"F1 macro (\%)", best="max"),
        Column("ece", "ECE (%)", r"ECE (\%)", best="min"),
        Column("int8_top1", "int8 top-1 (%)", r"int8 top-1 (\%)", best="max"),
        Column("params_m", "params (M)", "params (M)", None, False),
        Column("mflops", "MFLOPs", "MFLOPs", None, False),
        Column("size_kb", "size (KB)", "size (KB)", None, False, "min"),
        Column("onnx_int8_size_kb", "int8 size (KB)", "int8 size (KB)", None, False, "min"),
    ]
    for backend, label in (
        (TORCH_BACKEND, "torch"),
        ("ort_fp32", "ORT fp32"),
        ("ort_int8", "ORT int8"),
    ):
        source = latency_column("latency_ms_p50", "bs1", backend)
        cols.append(Column(source, f"{label} bs1 (ms)", f"{label} bs1 (ms)", None, True, "min"))
    have = [c for c in cols if _mean_col(c) in summary and summary[_mean_col(c)].notna().any()]
    return have


def _mean_col(c: Column) -> str:
    return c.source if c.source == "gap_closed" else f"{c.source}_mean"


def _digits(values: pd.Series) -> int:
    """Decimals that show the smallest non-zero magnitude with three significant figures."""
    nonzero = values.abs()[values.abs() > 0].dropna()
    if nonzero.empty:
        return 2
    return int(min(4, max(0, 2 - math.floor(math.log10(nonzero.min())))))


def _fmt(value: float, digits: int, minus: str) -> str:
    text = f"{value:.{digits}f}"
    if text.startswith("-"):
        text = minus + text[1:]
        if float(text[len(minus) :]) == 0:  # "-0.00" reads as 0.00
            text = text[len(minus) :]
    return text


def pm(mean: float | None, std: float | None, digits: int = 2, sep: str = " ± ") -> str:
    """'70.66 ± 0.21'; a single seed has no std and shows the mean alone; no value is ''."""
    if mean is None or pd.isna(mean):
        return ""
    if std is None or pd.isna(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f}{sep}{std:.{digits}f}"


def _shown_settings(summary: pd.DataFrame, keys: Sequence[str]) -> tuple[list[str], dict]:
    """Settings worth a column, and the constant ones (said once, above the table).

    `student` and `method` always show. Another setting with a single value
    (empty cells aside: the student alone has no teacher or temperature) is
    said once; one that varies shows unless it relabels a shown one (`w2`
    repeats `alpha`). The student's name/depth/width are in its label.
    """
    constant = {}
    shown: list[str] = []
    for c in keys:
        values = summary[c].dropna().unique()
        if c in ("student", "method"):
            shown.append(c)
        elif c in STUDENT_PARTS and "student" in keys:
            continue
        elif len(values) <= 1:
            if len(values):
                constant[c] = values[0]
        elif c == "teacher" or not any(_same_partition(summary, c, s) for s in shown):
            shown.append(c)
    return shown, constant


def _same_partition(df: pd.DataFrame, a: str, b: str) -> bool:
    """True when columns a and b split the rows the same way (one relabels the other)."""
    pairs = df[[a, b]].astype(str).drop_duplicates()
    return pairs[a].is_unique and pairs[b].is_unique


def _best_mask(summary: pd.DataFrame, col: Column, digits: int) -> pd.Series:
    values = summary[_mean_col(col)] * col.scale
    if col.best is None or values.notna().sum() < 2:
        return pd.Series(False, index=summary.index)
    rounded = values.round(digits)
    target = rounded.max() if col.best == "max" else rounded.min()
    return rounded == target


def display_table(summary: pd.DataFrame, fmt: str = "md") -> pd.DataFrame:
    """The human table as strings: shown settings, n, then `mean ± std` cells; best in bold.

    `fmt` is "md" (Markdown: `**best**`, `±`) or "tex" (LaTeX: `\\textbf{}`, `$\\pm$`,
    escaped setting values).
    """
    shown, _ = _shown_settings(summary, _keys(summary))
    esc = _tex_escape if fmt == "tex" else str
    out = pd.DataFrame(index=summary.index)
    for c in shown:
        out[esc(c)] = [
            "" if pd.isna(v) else esc(f"{v:g}" if _number(v) else str(v)) for v in summary[c]
        ]
    out["n"] = summary["n"].astype(int).astype(str)
    if summary.get("n_failed", pd.Series(0)).sum() > 0:
        out["failed"] = summary["n_failed"].astype(int).astype(str)
    sep, minus = (r" $\pm$ ", "$-$") if fmt == "tex" else (" ± ", "-")
    for col in display_columns(summary):
        mean = summary[_mean_col(col)] * col.scale
        std = summary.get(f"{col.source}_std") if col.spread else None
        digits = col.digits if col.digits is not None else _digits(mean)
        best = _best_mask(summary, col, digits)
        cells = []
        for i in summary.index:
            m = mean[i]
            if pd.isna(m):
                cells.append("")
                continue
            text = _fmt(m, digits, minus)
            if std is not None and not pd.isna(std[i]):
                text += sep + f"{std[i] * col.scale:.{digits}f}"
            if best[i]:
                text = rf"\textbf{{{text}}}" if fmt == "tex" else f"**{text}**"
            cells.append(text)
        out[col.tex if fmt == "tex" else col.md] = cells
    return out.reset_index(drop=True)


def _keys(summary: pd.DataFrame) -> list[str]:
    """Setting columns of a summary: those before `n` (summarize puts them first)."""
    cols = list(summary.columns)
    return cols[: cols.index("n")] if "n" in cols else []


def _tex_escape(text: str) -> str:
    for a, b in (
        ("\\", r"\textbackslash{}"),
        ("&", r"\&"),
        ("%", r"\%"),
        ("$", r"\$"),
        ("#", r"\#"),
        ("_", r"\_"),
        ("{", r"\{"),
        ("}", r"\}"),
        ("~", r"\textasciitilde{}"),
        ("^", r"\textasciicircum{}"),
    ):
        text = text.replace(a, b)
    return text


def failure_table(df: pd.DataFrame) -> pd.DataFrame:
    """Every failed cell with its settings, seed and error (never dropped from a report)."""
    failed = df[df["status"] != "ok"]
    keys = group_columns(df)
    shown = [c for c in keys if failed[c].notna().any() and c not in STUDENT_PARTS]
    cols = shown + ["seed", "error"]
    out = failed[cols].copy()
    out["error"] = out["error"].fillna("status " + failed["status"].astype(str))
    return out.reset_index(drop=True)


def _constants_line(summary: pd.DataFrame) -> str:
    _, constant = _shown_settings(summary, _keys(summary))
    if not constant:
        return ""
    parts = [f"{k}={v:g}" if _number(v) else f"{k}={v}" for k, v in constant.items()]
    return "Same in every row: " + ", ".join(parts)


def to_markdown(summary: pd.DataFrame, failures: pd.DataFrame) -> str:
    parts = []
    if summary.empty:
        parts.append("(no finished cells)")
    else:
        const = _constants_line(summary)
        if const:
            parts.append(const + ".")
        table = display_table(summary, "md")
        n_settings = len(_shown_settings(summary, _keys(summary))[0])
        align = ["left"] * n_settings + ["right"] * (table.shape[1] - n_settings)
        parts.append(table.to_markdown(index=False, disable_numparse=True, colalign=align))
    if not failures.empty:
        parts.append("## Failed cells")
        parts.append(failures.astype(object).fillna("").to_markdown(index=False))
    return "\n\n".join(parts) + "\n"


def to_latex(summary: pd.DataFrame, failures: pd.DataFrame) -> str:
    """booktabs tabulars (needs \\usepackage{booktabs}); cells `70.66 $\\pm$ 0.21`, best bold."""
    parts = ["% kdbench summary: mean $\\pm$ std over seeds; needs \\usepackage{booktabs}"]
    if not summary.empty:
        const = _constants_line(summary)
        if const:
            parts.append("% " + const)
        table = display_table(summary, "tex")
        n_settings = len(_shown_settings(summary, _keys(summary))[0])
        align = "l" * n_settings + "r" * (table.shape[1] - n_settings)
        parts.append(table.to_latex(index=False, escape=False, column_format=align))
    if not failures.empty:
        parts.append("% Failed cells")
        esc = failures.astype(object).fillna("").map(lambda v: _tex_escape(f"{v}"))
        esc.columns = [_tex_escape(c) for c in esc.columns]
        align = "l" * (esc.shape[1] - 1) + "p{0.5\\linewidth}"
        parts.append(esc.to_latex(index=False, escape=False, column_format=align))
    return "\n".join(parts)


def write_report(
    dirs: Sequence[Path], out: Path, figures: bool = True, quiet: bool = False
) -> dict[str, Path]:
    """Write summary.csv|md|tex, records.csv (and figures/) into `out`; print the table."""
    df = load_records(dirs)
    summary = summarize(df)
    failures = failure_table(df)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "records": out / "records.csv",
        "csv": out / "summary.csv",
        "md": out / "summary.md",
        "tex": out / "summary.tex",
    }
    df.to_csv(paths["records"], index=False)
    summary.to_csv(paths["csv"], index=False)
    md = to_markdown(summary, failures)
    paths["md"].write_text(md)
    paths["tex"].write_text(to_latex(summary, failures))
    if figures and not summary.empty:
        from kdbench.plots import write_figures

        paths.update(write_figures(summary, out / "figures"))
    if not quiet:
        print(md)
        for kind, path in paths.items():
            print(f"{kind:>8}: {path}")
    return paths
