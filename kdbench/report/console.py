"""The table `kdbench-report` prints: the headline columns in 100 terminal columns.

The files (summary.md|tex|csv) keep every column; the terminal gets student (and
the teacher where it varies), method, T, α, n, top-1, Δ (± 95 % CI, † where the
Holm-adjusted p < 0.05), params, MFLOPs and latency (torch eager, batch 1).
"""

from __future__ import annotations

import pandas as pd

from kdbench.efficiency.columns import TORCH_BACKEND, latency_column
from kdbench.report.vocab import DAGGER, SIGNIFICANCE, is_number

WIDTH = 100
_LATENCY = latency_column("latency_ms_p50", "bs1", TORCH_BACKEND) + "_mean"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _num(value: object, fmt: str) -> str:
    return "" if not is_number(value) or pd.isna(value) else format(value, fmt)


def _spread(mean: object, std: object, signed: bool = False) -> str:
    if not is_number(mean) or pd.isna(mean):
        return ""
    text = f"{mean:+.2f}" if signed else f"{mean:.2f}"
    return text + ("" if not is_number(std) or pd.isna(std) else f"±{std:.2f}")


def console_table(summary: pd.DataFrame) -> str:
    """Plain-text table, at most WIDTH characters a line; Δ shows ± its 95 % CI half-width
    where the summary has it, else ± std."""
    summary = summary[summary["n"] > 0]  # every-seed-failed groups: the failed-cells table
    if summary.empty:
        return "(no finished cells)"

    def col(name: str) -> pd.Series:
        return summary[name] if name in summary else pd.Series(float("nan"), index=summary.index)

    weight = "alpha" if col("alpha").notna().any() else "w2"
    spread = "delta_top1_ci95" if "delta_top1_ci95" in summary else "delta_top1_std"
    varying_teacher = col("teacher").dropna().nunique() > 1
    marks = [
        DAGGER if is_number(p) and not pd.isna(p) and p < SIGNIFICANCE else ""
        for p in col("delta_top1_p_holm")
    ]
    table = pd.DataFrame(
        {
            **(
                {"teacher": ["" if pd.isna(v) else _cut(str(v), 10) for v in col("teacher")]}
                if varying_teacher
                else {}
            ),
            "student": [_cut(str(v), 14) for v in summary["student"]],
            "method": [_cut(str(v), 8) for v in summary["method"]],
            "T": [_num(v, "g") for v in col("T")],
            "α" if weight == "alpha" else "w2": [_num(v, "g") for v in col(weight)],
            "n": [str(int(v)) for v in summary["n"]],
            "top-1 (%)": [_spread(m, s) for m, s in zip(col("top1_mean"), col("top1_std"))],
            "Δ top-1" + (" (CI)" if spread.endswith("ci95") else ""): [
                _spread(m, s, signed=True) + mark
                for m, s, mark in zip(col("delta_top1_mean"), col(spread), marks)
            ],
            "params M": [_num(v, ".3g") for v in col("params_m_mean")],
            "MFLOPs": [_num(v, ".3g") for v in col("mflops_mean")],
            "torch ms": [_num(v, ".3g") for v in col(_LATENCY)],
        }
    )
    left = {"teacher", "student", "method"}
    widths = {c: max(len(c), *(len(x) for x in table[c])) for c in table}

    def line(values: dict[str, str]) -> str:
        cells = [
            values[c].ljust(widths[c]) if c in left else values[c].rjust(widths[c]) for c in table
        ]
        return "  ".join(cells).rstrip()[:WIDTH]

    out = [line({c: c for c in table}), line({c: "-" * widths[c] for c in table})]
    out += [line(dict(row)) for _, row in table.iterrows()]
    return "\n".join(out)
