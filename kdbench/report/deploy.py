"""What a reader of the report needs to ship a student: where its latency was
measured, and which kept int8 model to deploy per student architecture."""

from __future__ import annotations

import pandas as pd

from kdbench.report.vocab import is_number


def latency_host_lines(df: pd.DataFrame) -> list[str]:
    """`latency measured on <cpu>, <threads> thread(s), <date>`, one line per host.

    Read from the records (`df`, the records frame): after `kdbench-profile DIR`
    on a device, this says the latency columns come from the device.
    """
    if "host_cpu" not in df:
        return []
    ok = df[(df["status"] == "ok") & df["host_cpu"].notna()]
    if ok.empty:
        return []
    threads = ok["host_threads"] if "host_threads" in ok else pd.Series("?", index=ok.index)
    dates = ok["measured_at"] if "measured_at" in ok else pd.Series(None, index=ok.index)
    hosts = pd.DataFrame(
        {
            "cpu": ok["host_cpu"],
            "threads": threads.fillna("?"),
            # older records carry no measured_at (a float NaN column)
            "date": dates.map(lambda v: v[:10] if isinstance(v, str) else None),
        }
    )
    groups = list(hosts.groupby(["cpu", "threads"], sort=True))
    lines = []
    for (cpu, n_threads), g in groups:
        days = sorted(g["date"].dropna().unique())
        when = "" if not days else days[0] if len(days) == 1 else f"{days[0]} to {days[-1]}"
        line = f"latency measured on {cpu}, {n_threads} thread(s)" + (f", {when}" if when else "")
        lines.append(line + (f" ({len(g)} cells)" if len(groups) > 1 else ""))
    return lines


def _setting(row: pd.Series) -> str:
    text = str(row["method"])
    for col in ("T", "alpha"):
        if col in row and is_number(row[col]) and not pd.isna(row[col]):
            text += f" {col}={row[col]:g}"
    return text


def deploy_lines(df: pd.DataFrame) -> list[str]:
    """Per student architecture (and data set), the kept int8 model of the best cell.

    Best by validation top-1, the split that chose checkpoints and settings:
    never by the test numbers printed beside it. Ties go to the first path.
    """
    need = {"int8_model", "val_top1", "student"}
    if not need <= set(df.columns):
        return []
    ok = df[(df["status"] == "ok") & df["int8_model"].notna() & df["val_top1"].notna()]
    several = "data" in ok and ok["data"].nunique() > 1
    lines = []
    for (data, student), g in ok.groupby(["data", "student"], dropna=False, sort=True):
        best = g.sort_values(["val_top1", "int8_model"], ascending=[False, True]).iloc[0]
        facts = [f"val top-1 {best['val_top1']:.2f}%"]
        for col, name in (("top1", "test top-1"), ("int8_top1", "int8 test top-1")):
            if col in best and is_number(best[col]) and not pd.isna(best[col]):
                facts.append(f"{name} {best[col]:.2f}%")
        where = f" on {data}" if several else ""
        lines.append(
            f"deploy {student}{where}: {best['int8_model']} "
            f"({_setting(best)}, seed {best['seed']:g}; {', '.join(facts)})"
        )
    return lines
