"""`kdbench-profile`: the efficiency of models alone, without training.

Two uses. `kdbench-profile [--models ...]`: one row per registered model (or
those named with --models) for one input shape: parameters, MFLOPs, sizes,
ONNX parity and latency per backend and batch size. Weights are random and the
int8 models are calibrated on random normal inputs, so int8 latency and size
are meaningful here but int8 accuracy is not (it is measured per trained cell
by `kdbench`).

`kdbench-profile results/<name>`: re-measure every kept student of that sweep
on this machine (copy the folder to the device first): latency of the kept
`student.pt`, `student.onnx` and `student.int8.onnx` with the settings each
record was measured with (options given here override them). No training and
no data set; accuracies and training time stay as recorded. Each record is
rewritten atomically with the new latency, host and `measured_at`.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from kdbench.config import EfficiencyConfig, KdbenchConfig
from kdbench.efficiency import cpu_model, profile_student
from kdbench.efficiency.columns import LATENCY_STATS, TORCH_BACKEND, latency_column
from kdbench.efficiency.files import STUDENT_PT
from kdbench.errors import ConfigError, KdbenchError
from kdbench.fileio import write_json_atomic
from kdbench.models import MODELS, create_model, list_models
from kdbench.records import find_records, read_record
from kdbench.remeasure import has_student, recorded_settings, remeasure_architectures
from kdbench.validate import validate

DEFAULT_OUT = Path("results/profile/profile.csv")


def _ints(text: str) -> list[int]:
    try:
        return [int(v) for v in text.replace("x", ",").split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers like 3,32,32, got {text!r}") from None


def _names(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def profile_row(
    name: str, num_classes: int, input_shape: tuple[int, ...], cfg: EfficiencyConfig
) -> dict[str, Any]:
    """One table row: a model at its default size, profiled with random weights."""
    torch.manual_seed(0)
    model = create_model(name, num_classes, in_channels=input_shape[0])
    start = time.perf_counter()
    eff = profile_student(model, input_shape, cfg)
    row: dict[str, Any] = {"model": name}
    for key in ("params_m", "mflops", "size_kb", "onnx_fp32_size_kb", "onnx_int8_size_kb"):
        row[key] = eff[key]
    row["onnx_max_abs_diff"] = eff["onnx_max_abs_diff"]
    for backend, by_batch in eff["latency"].items():
        for batch, stats in by_batch.items():
            for stat in LATENCY_STATS:
                row[latency_column(stat, batch, backend)] = stats[stat]
    row["profile_s"] = time.perf_counter() - start
    row.update({f"host_{k}": v for k, v in eff["host"].items()})
    return row


# Measurement options: None = the record's setting (a sweep folder) or the default (models).
MEASUREMENT_OPTIONS = ("threads", "batch_sizes", "backends", "warmup", "min_time_s", "min_runs")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = EfficiencyConfig()
    p = argparse.ArgumentParser(
        prog="kdbench-profile",
        description=__doc__.split("\n\n")[0] + " Or re-measure the kept students of a sweep.",
    )
    p.add_argument(
        "dirs", nargs="*", type=Path, help="sweep folder(s) to re-measure, e.g. results/quick"
    )
    p.add_argument("--models", type=_names, help="comma-separated names (default: every model)")
    p.add_argument("--input-shape", type=_ints, default=[3, 32, 32], help="C,H,W (default 3,32,32)")
    p.add_argument("--num-classes", type=int, default=10, help="classifier outputs (default 10)")
    p.add_argument("--threads", type=int, help=f"(default {d.threads})")
    p.add_argument("--batch-sizes", type=_ints, help="(default 1,32)")
    p.add_argument("--backends", type=_names, help="(default: all)")
    p.add_argument("--warmup", type=int, help=f"(default {d.warmup})")
    p.add_argument(
        "--min-time-s", type=float, help=f"timed seconds per figure (default {d.min_time_s})"
    )
    p.add_argument("--min-runs", type=int, help=f"(default {d.min_runs})")
    p.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="sweep folders: interleaved timing rounds per architecture, median kept (default 3)",
    )
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"CSV path (default {DEFAULT_OUT})"
    )
    return p.parse_args(argv)


def _efficiency(base: dict[str, Any], args: argparse.Namespace) -> EfficiencyConfig:
    """`base` settings with the options given on the command line, validated like a sweep's."""
    known = {f.name for f in fields(EfficiencyConfig)}
    given = {k: getattr(args, k) for k in MEASUREMENT_OPTIONS if getattr(args, k) is not None}
    cfg = EfficiencyConfig(**{**{k: v for k, v in base.items() if k in known}, **given})
    validate(KdbenchConfig(efficiency=cfg))  # the same checks as a sweep's config
    return cfg


def run(args: argparse.Namespace) -> pd.DataFrame:
    names = args.models or list_models()
    for name in names:
        if name not in MODELS:
            raise ConfigError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    if len(args.input_shape) != 3:
        raise ConfigError(f"--input-shape needs C,H,W, got {args.input_shape}")
    cfg = _efficiency({}, args)
    shape = tuple(args.input_shape)
    rows = []
    for name in names:
        print(f"profiling {name} ...", file=sys.stderr, flush=True)
        rows.append(profile_row(name, args.num_classes, shape, cfg))
    return pd.DataFrame(rows)


def remeasure_sweep(dirs: list[Path], args: argparse.Namespace) -> tuple[int, int]:
    """Re-measure every ok cell with a kept student under `dirs`; (re-measured, without one)."""
    if args.models:
        raise ConfigError("--models profiles registry models; leave it out with a sweep folder")
    paths = []
    for d in dirs:
        if not d.is_dir():
            raise ConfigError(f"no such sweep folder: {d} (copy results/<name> here first)")
        paths += find_records(d)
    cells, missing = [], 0
    for path in paths:
        record = read_record(path.parent)
        if record is None or record.get("status") != "ok":
            continue
        if not has_student(path.parent):
            missing += 1
            continue
        cells.append((record, path.parent))
    start = time.perf_counter()
    updated = remeasure_architectures(
        cells, lambda r: _efficiency(recorded_settings(r) or {}, args), args.rounds
    )
    per_cell = (time.perf_counter() - start) / max(1, len(cells))
    for directory, record in updated.items():
        record["efficiency"]["measure_s"] = per_cell
        write_json_atomic(directory / "record.json", record)
        bs1 = record["efficiency"]["latency"].get(TORCH_BACKEND, {}).get("bs1", {})
        ms = f"  torch bs1 {bs1['latency_ms_p50']:.3g} ms" if bs1 else ""
        print(f"re-measured {directory.name}{ms}", flush=True)
    return len(updated), missing


def format_table(df: pd.DataFrame) -> str:
    """The printed table: the headline columns, p50 latencies only."""
    cols = ["model", "params_m", "mflops", "size_kb", "onnx_int8_size_kb", "onnx_max_abs_diff"]
    p50 = [c for c in df.columns if c.startswith("latency_ms_p50_")]
    shown = df[[c for c in cols if c in df] + p50]
    shown = shown.rename(columns={c: c.removeprefix("latency_ms_p50_") + "_ms" for c in p50})
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.dirs:
        _main_sweep(args)
        return
    try:
        df = run(args)
    except KdbenchError as exc:
        print(f"kdbench-profile: error: {exc}", file=sys.stderr)
        sys.exit(2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    host = df.iloc[0]
    print(
        f"input {'x'.join(map(str, args.input_shape))}, {args.num_classes} classes, "
        f"{host['host_threads']} thread(s) on {host['host_cpu']}; torch {host['host_torch']}, "
        f"onnxruntime {host['host_onnxruntime']}; int8 calibrated on random inputs; latency p50"
    )
    print(format_table(df))
    print(f"wrote {args.out}")


def _main_sweep(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    try:
        done, missing = remeasure_sweep(args.dirs, args)
    except KdbenchError as exc:
        print(f"kdbench-profile: error: {exc}", file=sys.stderr)
        sys.exit(2)
    where = ", ".join(map(str, args.dirs))
    print(f"re-measured {done} student(s) in {time.perf_counter() - start:.1f} s on {cpu_model()}")
    if missing:
        print(
            f"{missing} ok cell(s) have no {STUDENT_PT} (efficiency.keep_models=false): not measured"
        )
    if not done and not missing:
        print(f"kdbench-profile: error: no finished cell under {where}", file=sys.stderr)
        sys.exit(2)
    print(f"records updated; `kdbench-report {where}` shows where the latency was measured")


if __name__ == "__main__":
    main()
