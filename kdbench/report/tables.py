"""Display tables: Markdown and LaTeX (booktabs) from a summary, best values in bold."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from kdbench.efficiency.columns import TORCH_BACKEND, latency_column
from kdbench.report.frame import group_columns
from kdbench.report.vocab import (
    DAGGER,
    DATA_READS,
    DATA_SETTINGS,
    IDENTITY,
    LABEL_PARTS,
    PARTS,
    SIGNIFICANCE,
    WEIGHT_FORMS,
    is_number,
)

NO_RESULTS = "(no finished cells: every cell failed or diverged; see the failed cells below)"


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
    ci: str | None = None  # column of a CI half-width shown after ± instead of the std
    p: str | None = None  # column of Holm-adjusted p-values: † where below SIGNIFICANCE
    signed: bool = False  # `+1.20`: a difference


def display_columns(summary: pd.DataFrame) -> list[Column]:
    """The statistics shown, in order, where the summary has them."""
    cols = [
        Column("top1", "top-1 (%)", r"top-1 (\%)", best="max"),
        # test errors, a count (Hinton et al.'s MNIST table reports these), in new records
        Column("errors", "test errors", "test errors", 1, best="min"),
        Column(
            "delta_top1",
            "Δ top-1",
            r"$\Delta$ top-1",
            best="max",
            ci="delta_top1_ci95",
            p="delta_top1_p_holm",
            signed=True,
        ),
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
    ref = summary.attrs.get("reference")
    if ref is not None:
        cols.insert(
            2,
            Column(
                "delta_ref_top1",
                f"Δ vs {ref}",
                rf"$\Delta$ vs {_tex_escape(str(ref))}",
                best="max",
                ci="delta_ref_top1_ci95",
                p="delta_ref_top1_p_holm",
                signed=True,
            ),
        )
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


def _shown_settings(summary: pd.DataFrame, keys: Sequence[str]) -> tuple[list[str], dict]:
    """Settings worth a column, and those every row shares (said once, above the table).

    `student` and `method` always show. Another setting with a single value in
    every row where it applies is said once: in "Same in every row" where every row
    uses it, else in a line for the rows that do (`_scoped_constants`). A setting
    that varies shows. Never shown twice: the parts of a label (`student_name`,
    `teacher_width`, `base_method`: their label says them) and a loss-weight form that
    restates a shown one (`alpha` = `w2`). Any other setting that varies shows, even
    where it happens to follow another column.
    """
    constant = {}
    shown: list[str] = []
    for c in keys:
        values = summary[c].dropna().unique()
        if c in ("student", "method"):
            shown.append(c)
        elif any(c in parts and label in keys for label, parts in LABEL_PARTS.items()):
            continue
        elif len(values) <= 1:
            if len(values) and _applies(summary, c).all():
                constant[c] = values[0]
        elif c not in WEIGHT_FORMS or not any(
            _same_partition(summary, c, s) for s in shown if s in WEIGHT_FORMS
        ):
            shown.append(c)
    return shown, constant


def _applies(summary: pd.DataFrame, c: str) -> pd.Series:
    """The rows that use setting `c`: it has a value there (a method's own setting is empty
    in other methods' rows), and a data setting is one the row's data set reads."""
    rows = summary[c].notna()
    if c in DATA_SETTINGS and "data" in summary:
        rows &= summary["data"].map(lambda d: c in DATA_READS.get(d, (c,)))
    return rows


def _scoped_constants(summary: pd.DataFrame, keys: Sequence[str]) -> dict[str, dict]:
    """Single-valued settings that only some rows use, by the rows that use them.

    The rows are named by their methods (`dkd`, `every method but none`) where the
    setting follows the method, by their data set where it follows that, else "some
    rows". A data setting that no row's data set reads is left out.
    """
    shown, constant = _shown_settings(summary, keys)
    scoped: dict[str, dict] = {}
    for c in keys:
        if c in shown or c in constant or any(c in p and k in keys for k, p in LABEL_PARTS.items()):
            continue
        rows = _applies(summary, c)
        values = summary.loc[rows, c].dropna().unique()
        if len(values) != 1:
            continue
        scoped.setdefault(_scope(summary, rows), {})[c] = values[0]
    return scoped


def _scope(summary: pd.DataFrame, rows: pd.Series) -> str:
    """Words for a set of rows: their methods, or their data set."""
    for col in ("method", "data"):
        if col not in summary:
            continue
        inside = summary.loc[rows, col].dropna().astype(str).unique().tolist()
        if not (summary[col].astype(str).isin(inside) == rows).all():
            continue  # the rows are not all of these methods' (data sets') rows
        if col == "data":
            return "data=" + ", ".join(inside)
        outside = [v for v in summary[col].dropna().astype(str).unique() if v not in inside]
        if outside and len(outside) < len(inside):
            return "every method but " + ", ".join(outside)
        return ", ".join(inside)
    return "some rows"


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
            "" if pd.isna(v) else esc(f"{v:g}" if is_number(v) else str(v)) for v in summary[c]
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
        if col.ci is not None:
            std = summary.get(col.ci)
        sig = summary.get(col.p) if col.p is not None else None
        for i in summary.index:
            m = mean[i]
            if pd.isna(m):
                cells.append("")
                continue
            text = _fmt(m, digits, minus)
            if col.signed and m > 0 and float(text) != 0:
                text = "+" + text
            if std is not None and not pd.isna(std[i]):
                text += sep + f"{std[i] * col.scale:.{digits}f}"
            if sig is not None and not pd.isna(sig[i]) and sig[i] < SIGNIFICANCE:
                text += r"$^\dagger$" if fmt == "tex" else DAGGER
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
    """Every failed or diverged cell: the settings that tell cells apart, seed, status, error.

    Never dropped from a report, and never a result: a diverged cell is here only.
    """
    failed = df[df["status"] != "ok"]
    keys = group_columns(df)
    shown = [
        c
        for c in keys
        if failed[c].notna().any()
        and c not in PARTS
        and (c in IDENTITY or df[c].astype(str).nunique() > 1)
    ]
    cols = shown + ["seed", "status", "error"]
    out = failed[cols].copy()
    out["error"] = out["error"].fillna("status " + failed["status"].astype(str))
    return out.reset_index(drop=True)


def footnote(summary: pd.DataFrame, fmt: str = "md") -> str:
    """What ± and † mean, and n: said under every table that shows a Δ."""
    parts = []
    for prefix, against in (
        ("delta_top1", "the same student trained alone"),
        ("delta_ref_top1", f"{summary.attrs.get('reference')} (same settings)"),
    ):
        if f"{prefix}_mean" not in summary or summary[f"{prefix}_mean"].isna().all():
            continue
        n = summary[f"{prefix}_n"].dropna()
        n = n[n > 0].astype(int)
        if n.empty:
            parts.append(
                f"Δ vs {against}: difference of the means; no seed is shared with it, so "
                "there is no paired CI or test."
            )
            continue
        span = f"{n.min()}" if n.min() == n.max() else f"{n.min()}–{n.max()}"
        text = (
            f"Δ vs {against}: mean ± half-width of the 95 % t-interval over n = {span} "
            f"seed-paired differences; {DAGGER} = p < {SIGNIFICANCE:g} in a two-sided paired "
            f"t-test, Holm–Bonferroni-adjusted over the {int(summary[f'{prefix}_p'].notna().sum())}"
            " tested rows."
        )
        if n.min() < 2:
            text += " Rows with n < 2 pairs have no CI or p: a t-interval needs 2 seeds."
        parts.append(text)
    if any(c.startswith("latency_ms_") and c.endswith("_mean") for c in summary):
        parts.append(
            "Latency (ms): one per architecture, the median over every cell of the same "
            "student, input and host, ± the std over those cells."
        )
    if parts:
        parts.append("Other ± are the std over seeds.")
    text = " ".join(parts)
    if fmt == "tex":
        text = _tex_escape(text).replace("±", r"$\pm$").replace("Δ", r"$\Delta$")
        text = text.replace(DAGGER, r"$^\dagger$").replace("–", "--")
    return text


def finished_rows(summary: pd.DataFrame) -> pd.DataFrame:
    """The rows with a finished cell: a group whose every seed failed is shown only in the
    failed-cells table (summary.csv keeps it, with n = 0)."""
    return summary[summary["n"] > 0]


def _constants_lines(summary: pd.DataFrame) -> list[str]:
    """ "Same in every row: ..." (settings every row uses) and one line per group of rows
    for the settings only they use (a method's own settings, the teacher's)."""
    keys = _keys(summary)
    _, constant = _shown_settings(summary, keys)
    lines = []
    if constant:
        lines.append("Same in every row: " + _settings_text(constant))
    for scope, settings in _scoped_constants(summary, keys).items():
        lines.append(f"Same in the rows of {scope}: " + _settings_text(settings))
    return lines


def _settings_text(settings: dict) -> str:
    return ", ".join(f"{k}={v:g}" if is_number(v) else f"{k}={v}" for k, v in settings.items())


def to_markdown(summary: pd.DataFrame, failures: pd.DataFrame) -> str:
    parts = []
    if summary.empty or summary["n"].sum() == 0:
        parts.append(NO_RESULTS)
    else:
        summary = finished_rows(summary)
        lines = _constants_lines(summary)
        if lines:
            parts.append("  \n".join(line + "." for line in lines))
        table = display_table(summary, "md")
        n_settings = len(_shown_settings(summary, _keys(summary))[0])
        align = ["left"] * n_settings + ["right"] * (table.shape[1] - n_settings)
        parts.append(table.to_markdown(index=False, disable_numparse=True, colalign=align))
        note = footnote(summary, "md")
        if note:
            parts.append(note)
    if not failures.empty:
        parts.append("## Failed cells")
        parts.append(failures.astype(object).fillna("").to_markdown(index=False))
    return "\n\n".join(parts) + "\n"


def to_latex(summary: pd.DataFrame, failures: pd.DataFrame) -> str:
    """booktabs tabulars (needs \\usepackage{booktabs}); cells `70.66 $\\pm$ 0.21`, best bold."""
    parts = ["% kdbench summary: mean $\\pm$ std over seeds (Δ: $\\pm$ 95 % CI); needs booktabs"]
    if summary.empty or summary["n"].sum() == 0:
        parts.append("% " + NO_RESULTS)
    else:
        summary = finished_rows(summary)
        parts.extend("% " + line for line in _constants_lines(summary))
        table = display_table(summary, "tex")
        n_settings = len(_shown_settings(summary, _keys(summary))[0])
        align = "l" * n_settings + "r" * (table.shape[1] - n_settings)
        parts.append(table.to_latex(index=False, escape=False, column_format=align))
        note = footnote(summary, "tex")
        if note:
            parts.append(note)
    if not failures.empty:
        parts.append("% Failed cells")
        esc = failures.astype(object).fillna("").map(lambda v: _tex_escape(f"{v}"))
        esc.columns = [_tex_escape(c) for c in esc.columns]
        align = "l" * (esc.shape[1] - 1) + "p{0.5\\linewidth}"
        parts.append(esc.to_latex(index=False, escape=False, column_format=align))
    return "\n".join(parts)
