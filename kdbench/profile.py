"""`kdbench-profile`: the efficiency of models alone, without training.

One row per registered model (or those named with --models) for one input
shape: parameters, MFLOPs, sizes, ONNX parity and latency per backend and
batch size. Weights are random and the int8 models are calibrated on random
normal inputs, so int8 latency and size are meaningful here but int8 accuracy
is not (it is measured per trained cell by `kdbench`).
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
from kdbench.efficiency import profile_student
from kdbench.efficiency.columns import LATENCY_STATS, latency_column
from kdbench.errors import ConfigError, KdbenchError
from kdbench.models import MODELS, create_model, list_models
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = EfficiencyConfig()
    p = argparse.ArgumentParser(prog="kdbench-profile", description=__doc__.split("\n\n")[0])
    p.add_argument("--models", type=_names, help="comma-separated names (default: every model)")
    p.add_argument("--input-shape", type=_ints, default=[3, 32, 32], help="C,H,W (default 3,32,32)")
    p.add_argument("--num-classes", type=int, default=10, help="classifier outputs (default 10)")
    p.add_argument("--threads", type=int, default=d.threads, help=f"(default {d.threads})")
    p.add_argument("--batch-sizes", type=_ints, default=d.batch_sizes, help="(default 1,32)")
    p.add_argument("--backends", type=_names, default=d.backends, help="(default: all)")
    p.add_argument("--warmup", type=int, default=d.warmup, help=f"(default {d.warmup})")
    p.add_argument(
        "--min-time-s", type=float, default=d.min_time_s, help="timed seconds per figure"
    )
    p.add_argument("--min-runs", type=int, default=d.min_runs, help=f"(default {d.min_runs})")
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"CSV path (default {DEFAULT_OUT})"
    )
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> pd.DataFrame:
    names = args.models or list_models()
    for name in names:
        if name not in MODELS:
            raise ConfigError(f"unknown model {name!r}; known models: {', '.join(list_models())}")
    if len(args.input_shape) != 3:
        raise ConfigError(f"--input-shape needs C,H,W, got {args.input_shape}")
    known = {f.name for f in fields(EfficiencyConfig)}
    cfg = EfficiencyConfig(
        **{k: v for k, v in vars(args).items() if k in known and v is not None}  # type: ignore[arg-type]
    )
    validate(KdbenchConfig(efficiency=cfg))  # the same checks as a sweep's config
    shape = tuple(args.input_shape)
    rows = []
    for name in names:
        print(f"profiling {name} ...", file=sys.stderr, flush=True)
        rows.append(profile_row(name, args.num_classes, shape, cfg))
    return pd.DataFrame(rows)


def format_table(df: pd.DataFrame) -> str:
    """The printed table: the headline columns, p50 latencies only."""
    cols = ["model", "params_m", "mflops", "size_kb", "onnx_int8_size_kb", "onnx_max_abs_diff"]
    p50 = [c for c in df.columns if c.startswith("latency_ms_p50_")]
    shown = df[[c for c in cols if c in df] + p50]
    shown = shown.rename(columns=lambda c: c.removeprefix("latency_ms_p50_") + "_ms")
    return shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
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


if __name__ == "__main__":
    main()
