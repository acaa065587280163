"""Records -> one tidy DataFrame: every record (ok and failed) flattened into a row.

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
* `efficiency.host`, `efficiency.measured_at` -> `host_cpu`, `host_threads`, `measured_at`
  (text: where and when the latency was measured)
* `artifacts` -> `int8_model`, the path of the kept `student.int8.onnx`
* `efficiency.latency[backend][bsN]` -> `latency_ms_p50_bsN` for torch eager
  (`torch_fp32`, the reference every record has), `latency_ms_p50_bsN_<backend>`
  for the others (`..._ort_fp32`, `..._ort_int8`).

"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kdbench.efficiency.columns import latency_column
from kdbench.efficiency.files import ONNX_FILES
from kdbench.errors import KdbenchError
from kdbench.records import find_records
from kdbench.report.vocab import IDENTITY, NOT_GROUPING, is_number


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _setting_value(value: Any) -> Any:
    """Settings must be hashable to group by; lists and dicts become their JSON text."""
    return value if _scalar(value) else json.dumps(value, sort_keys=True)


def _flatten_efficiency(eff: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in eff.items():
        if key == "latency":
            for backend, by_batch in (value or {}).items():
                for batch, stats in (by_batch or {}).items():
                    for stat, v in (stats or {}).items():
                        if stat.startswith("latency_ms_") and is_number(v):
                            row[latency_column(stat, batch, backend)] = v
        elif key == "host":
            host = value or {}
            row["host_cpu"] = host.get("cpu")
            # text, not a number: where the latency was measured is not averaged over seeds
            row["host_threads"] = None if host.get("threads") is None else str(host["threads"])
        elif key == "measured_at":
            row["measured_at"] = value
        elif key == "settings":
            continue  # how it was measured (kdbench.remeasure compares them), not a result
        elif isinstance(value, dict):
            row.update({f"{key}_{k}": v for k, v in value.items() if is_number(v)})
        elif is_number(value):
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
    row.update({k: v for k, v in (record.get("metrics") or {}).items() if is_number(v)})
    teacher = record.get("teacher_metrics") or {}
    row.update({f"teacher_{k}": v for k, v in teacher.items() if is_number(v)})
    training = record.get("training") or {}
    if is_number(training.get("best_val_top1")):
        row["val_top1"] = training["best_val_top1"]
    if is_number(training.get("epochs")):
        row["epochs"] = training["epochs"]
    row.update(_flatten_efficiency(record.get("efficiency") or {}))
    kept = (record.get("artifacts") or {}).get("files") or {}
    if path and ONNX_FILES["onnx_int8"] in kept:
        row["int8_model"] = str(Path(path).parent / ONNX_FILES["onnx_int8"])
    total = (record.get("timing") or {}).get("total_s")
    if is_number(total):
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
