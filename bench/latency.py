"""Latency ratios between inference backends, measured in one run on this machine.

For each model (random weights, 3x32x32 input, 10 classes) and batch size
(a registered model at its defaults, or a conf/student/<name>.yaml, e.g. the
vision transformers vit_tiny and cct_2_3x2):
ORT fp32 / torch eager and ORT int8 / ORT fp32 latency ratios (p50; below 1 the
first is faster), with the spread p90/p50 of every figure so the stability of
the measurement shows beside it. The int8 models are calibrated on random
inputs (speed does not depend on calibration quality). Absolute times depend
on the host; ratios measured in the same run are what carries over.

    python bench/latency.py [--models resnet8,resnet20] [--min-time-s 1] [--threads 1]

Writes results/bench/latency.md and prints it.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from omegaconf import OmegaConf

from kdbench.config import CONF_DIR, EfficiencyConfig, ModelConfig
from kdbench.efficiency import profile_student
from kdbench.inputs import image_spec
from kdbench.models import MODELS, FeatureModel, build_model

MODELS_WANTED = ["resnet8", "resnet20", "resnet56", "mobilenetv2", "vit_tiny", "cct_2_3x2"]
OUT = Path("results/bench/latency.md")


def model_config(name: str) -> ModelConfig | None:
    """conf/student/<name>.yaml when there is one (sized transformers), else the registered
    model at its defaults; None when neither exists."""
    path = Path(CONF_DIR) / "student" / f"{name}.yaml"
    if path.is_file():
        return ModelConfig(**OmegaConf.to_container(OmegaConf.load(path)))  # type: ignore[arg-type]
    return ModelConfig(name=name) if name in MODELS else None


def build(m: ModelConfig) -> FeatureModel:
    return build_model(m, image_spec(3, 32), 10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS_WANTED))
    p.add_argument("--batch-sizes", default="1,32")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-time-s", type=float, default=1.0)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args()

    import torch

    batches = [int(b) for b in args.batch_sizes.split(",")]
    cfg = EfficiencyConfig(
        threads=args.threads, warmup=args.warmup, min_time_s=args.min_time_s, batch_sizes=batches
    )
    notes, rows = [], []
    start = time.perf_counter()
    for name in args.models.split(","):
        m = model_config(name)
        if m is None or m.name not in MODELS:
            notes.append(f"{name}: not registered in this checkout, skipped")
            print(f"note: {notes[-1]}", flush=True)
            continue
        torch.manual_seed(0)
        eff = profile_student(build(m), (3, 32, 32), cfg)
        lat = eff["latency"]
        for b in batches:
            t, o, q = (lat[k][f"bs{b}"] for k in ("torch_fp32", "ort_fp32", "ort_int8"))

            def spread(s: dict) -> str:
                return f"{s['latency_ms_p90'] / s['latency_ms_p50']:.2f}"

            rows.append(
                f"| {name} | {b} | {t['latency_ms_p50']:.3f} | {o['latency_ms_p50']:.3f} "
                f"| {q['latency_ms_p50']:.3f} "
                f"| **{o['latency_ms_p50'] / t['latency_ms_p50']:.2f}** "
                f"| **{q['latency_ms_p50'] / o['latency_ms_p50']:.2f}** "
                f"| {spread(t)} / {spread(o)} / {spread(q)} "
                f"| {t['runs']} / {o['runs']} / {q['runs']} |"
            )
        print(f"{name}: done (max |ORT - torch| logit diff {eff['onnx_max_abs_diff']:.1e})")
    host = eff["host"] if rows else {}
    lines = [
        "# Latency ratios between backends",
        "",
        f"Host: {host.get('cpu')} ({platform.machine()}), {args.threads} thread(s); "
        f"torch {host.get('torch')}, onnxruntime {host.get('onnxruntime')}. "
        f"Input 3x32x32, 10 classes, random weights; int8 = static QDQ (U8S8) calibrated "
        f"on random inputs. Each figure: {args.warmup} warm-up runs, then timed runs "
        f"covering >= {args.min_time_s:g} s. Latency ratios are p50 / p50 "
        f"(below 1: the numerator backend is faster); spread = p90 / p50.",
        "",
        "| model | batch | eager ms | ORT fp32 ms | ORT int8 ms | ORT fp32 / eager "
        "| int8 / fp32 | spread eager / fp32 / int8 | runs |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
        *rows,
        "",
        *(f"- {n}" for n in notes),
        f"\nMeasured in {time.perf_counter() - start:.0f} s.",
    ]
    text = "\n".join(lines).strip() + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
