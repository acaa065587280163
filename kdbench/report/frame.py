"""Records -> one tidy DataFrame: every record (ok and failed) flattened into a row.

Every column carries its unit in its name where it has one (`params_m`,
`mflops`, `size_kb`, `latency_ms_p50_bs1`); accuracies, ECE and Δ are percent
(points). Records are flattened generically, so fields added to the record
later (another backend, an int8 block, a method's own setting such as `beta`)
become columns without touching this module:

* settings            -> one column each, by short label (`student`, `method`, `T`,
  `epochs`, `train_subset`, ...): `kdbench.records.report_settings` of the record's
  `resolved` config (older records: their `config` block)
* `metrics.*`         -> `top1`, `f1_macro`, `ece`, ...
* `teacher_metrics.*` -> `teacher_top1`, ...
* `training`          -> `val_top1` (what chose the checkpoint), `epochs_run`
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
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kdbench.efficiency.columns import latency_column
from kdbench.efficiency.files import ONNX_FILES
from kdbench.errors import KdbenchError
from kdbench.records import find_records, report_settings, setting_paths
from kdbench.report.vocab import IDENTITY, NOT_GROUPING, OLD_CONTEXT, is_number


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


def record_settings(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """(settings by label, label -> config path) of a record.

    From the record's resolved config through `kdbench.records.report_settings`,
    the same function that wrote its `config` block, so every setting but the
    seed (and measurement-only ones) tells rows apart. Records without a usable
    `resolved` block fall back to their `config` block (paths then unknown).
    """
    resolved = record.get("resolved")
    if isinstance(resolved, dict):
        try:
            return report_settings(resolved), setting_paths(resolved)
        except (TypeError, ValueError, AttributeError):
            pass
    config = record.get("config")
    return (dict(config) if isinstance(config, dict) else {}), {}


def flatten_record(record: dict[str, Any], path: Path | str | None = None) -> dict[str, Any]:
    """One tidy row: settings, status, test metrics, teacher metrics, efficiency with units.

    Settings are never overwritten by a measurement of the same name: such a
    measurement becomes `<name>_measured` (the epochs a run did are `epochs_run`,
    beside the `epochs` setting).
    """
    settings, _ = record_settings(record)
    row: dict[str, Any] = {k: _setting_value(v) for k, v in settings.items()}
    row["status"] = record.get("status")
    row["experiment"] = record.get("experiment")
    row["key"] = record.get("key")
    row["path"] = str(path) if path else None
    if record.get("status") != "ok":
        err = record.get("error") or {}
        row["error"] = f"{err.get('type', '?')}: {err.get('message', '')}"
    out: dict[str, Any] = {}
    out.update({k: v for k, v in (record.get("metrics") or {}).items() if is_number(v)})
    teacher = record.get("teacher_metrics") or {}
    out.update({f"teacher_{k}": v for k, v in teacher.items() if is_number(v)})
    training = record.get("training") or {}
    if is_number(training.get("best_val_top1")):
        out["val_top1"] = training["best_val_top1"]
    if is_number(training.get("epochs")):
        out["epochs_run"] = training["epochs"]
    out.update(_flatten_efficiency(record.get("efficiency") or {}))
    kept = (record.get("artifacts") or {}).get("files") or {}
    if path and ONNX_FILES["onnx_int8"] in kept:
        out["int8_model"] = str(Path(path).parent / ONNX_FILES["onnx_int8"])
    total = (record.get("timing") or {}).get("total_s")
    if is_number(total):
        out["cell_s"] = total
    row.update({(k if k not in row else f"{k}_measured"): v for k, v in out.items()})
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
    settings: dict[str, None] = {}
    paths: dict[str, str] = {}
    for r, _ in chosen.values():
        names, where = record_settings(r)
        settings.update(dict.fromkeys(names))
        paths.update(where)
    for col in ("status", "error", "seed", "method", *settings):
        if col not in df:
            df[col] = np.nan
    df.attrs["settings"] = list(settings)
    df.attrs["paths"] = paths
    return df


def load_records(dirs: Iterable[str | Path]) -> pd.DataFrame:
    """Every record below the given sweep folders (ok and failed) as one DataFrame."""
    dirs = [Path(d) for d in dirs]
    pairs = []
    for d in dirs:
        if not d.is_dir():
            raise KdbenchError(f"no such sweep folder: {d} (run a sweep first, e.g. `make run`)")
        for path in find_records(d):
            record, why = _read(path)
            if record is None:
                warnings.warn(
                    f"skipping record {path}: {why} (delete it and rerun its cell)",
                    RecordWarning,
                    stacklevel=2,
                )
                continue
            pairs.append((record, path))
    if not pairs:
        raise KdbenchError(
            f"no readable record.json found under {', '.join(map(str, dirs))} "
            "(run a sweep into it first)"
        )
    return records_frame(pairs)


class RecordWarning(UserWarning):
    """A record.json that cannot be reported (unreadable, not UTF-8, not a JSON object)."""


def _read(path: Path) -> tuple[dict[str, Any] | None, str]:
    """The record, or None and why not: a report names a bad file and goes on without it."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        return None, f"unreadable ({exc.strerror or exc})"
    except UnicodeDecodeError:
        return None, "not UTF-8 text"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not valid JSON ({exc.msg} at line {exc.lineno})"
    if not isinstance(record, dict):
        return None, f"not a JSON object (a {type(record).__name__})"
    return record, ""


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


def method_settings(df: pd.DataFrame) -> list[str]:
    """Settings of the method (its label, weights and parameters), not of what it is applied to.

    Known from the config path (`distill.*`); for old records without paths,
    everything but data, teacher and student.
    """
    paths = df.attrs.get("paths") or {}
    out = []
    for c in settings_of(df):
        where = paths.get(c)
        if (where is None and c not in OLD_CONTEXT) or (where or "").startswith("distill"):
            out.append(c)
    return out
