"""The Hinton, Vinyals & Dean (2015) sec. 3 MNIST table, ours beside the paper's.

    python bench/hinton_table.py results/hinton_mnist > table.md

Reads the records of `experiment=hinton_mnist` and prints a Markdown table of
test errors (a count of the 10,000 test images): mean and 95 % t-interval over
seeds; for each distilled 2 x 800 row, the paired (by seed) difference against
the 2 x 800 student alone, its 95 % CI and the Holm-adjusted p-value over those
rows (kdbench.report.stats, the report's own statistics). Δ errors is exactly
-Δ top-1 x 100, so these p-values are the report's Δ top-1 ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kdbench.records import find_records
from kdbench.report.stats import holm, paired_stats

# (row label, paper's test errors, predicate on a record's config)
PAPER = {
    ("alone", 800, None): "146",
    ("kd", 800, 20.0): "74",
    ("kd", 800, 8.0): "(T ≥ 8 similar)",
    ("kd", 800, 4.0): "–",
    ("kd", 800, 2.0): "–",
    ("kd", 30, 1.0): "–",
    ("kd", 30, 2.5): "(best: T 2.5–4)",
    ("kd", 30, 4.0): "(best: T 2.5–4)",
    ("kd", 30, 8.0): "–",
    ("kd", 30, 20.0): "–",
}


def _row(config: dict) -> tuple:
    method = "alone" if config["method"] == "none" else config["method"]
    return method, config["student_hidden"], config.get("T") if method != "alone" else None


def _fmt(values: list[float]) -> str:
    s = paired_stats(values)  # against 0: mean and its 95 % t half-width
    if s["n"] < 2:
        return f"{s['mean']:.0f} (n={int(s['n'])})"
    return f"{s['mean']:.1f} ± {s['ci95']:.1f} (n={int(s['n'])})"


def table(root: Path) -> str:
    records = [json.loads(p.read_text()) for p in find_records(root)]
    ok = [r for r in records if r.get("status") == "ok"]
    rows: dict[tuple, dict[int, dict]] = {}
    transfer: dict[int, dict] = {}
    teacher = None
    for r in ok:
        c = r["config"]
        if r.get("teacher_metrics"):
            teacher = r["teacher_metrics"]
        if c.get("drop_classes"):
            transfer[c["seed"]] = r["metrics"]
        else:
            rows.setdefault(_row(c), {})[c["seed"]] = r["metrics"]
    alone = rows.get(("alone", 800, None), {})
    kd800 = sorted((k for k in rows if k[0] == "kd" and k[1] == 800), key=lambda k: -k[2])
    deltas = {}
    for k in kd800:
        seeds = sorted(set(rows[k]) & set(alone))
        deltas[k] = paired_stats([rows[k][s]["errors"] - alone[s]["errors"] for s in seeds])
    p_holm = dict(zip(deltas, holm([d["p"] for d in deltas.values()])))

    lines = [
        "| model | paper: test errors | ours: test errors, mean ± 95 % CI | "
        "Δ vs 2×800 alone (95 % CI), Holm p |",
        "|---|---|---|---|",
    ]
    if teacher is not None:
        lines.append(
            f"| teacher 2×1200, dropout, max-norm, jitter ±2 px | 67 | "
            f"{teacher['errors']} (one teacher) | |"
        )
    order = [("alone", 800, None), *kd800]
    order += sorted((k for k in rows if k[1] == 30), key=lambda k: k[2])
    for k in order:
        name = f"2×{k[1]} " + ("alone" if k[0] == "alone" else f"KD T={k[2]:g}")
        errors = [m["errors"] for m in rows[k].values()]
        d = deltas.get(k)
        delta = (
            f"{d['mean']:+.1f} (± {d['ci95']:.1f}), p = {p_holm[k]:.3g}"
            if d is not None and d["n"] >= 2
            else ""
        )
        lines.append(f"| {name} | {PAPER.get(k, '–')} | {_fmt(errors)} | {delta} |")
    if transfer:
        t = list(transfer.values())
        lines.append(
            "| 2×800 KD T=20, transfer set without 3s | 206 (133 on 3s) | "
            f"{_fmt([m['errors'] for m in t])}; on 3s: {_fmt([m['errors_class3'] for m in t])} | |"
        )
        lines.append(
            "| same, bias of the 3 raised by 3.5 | 109 (14 on 3s) | "
            f"{_fmt([m['biased_errors'] for m in t])}; on 3s: "
            f"{_fmt([m['biased_errors_class3'] for m in t])} | |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(table(Path(sys.argv[1] if len(sys.argv) > 1 else "results/hinton_mnist")))
