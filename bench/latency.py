"""Latency ratios between inference backends, measured in one run on this machine.

For each model (random weights; image models: 3x32x32 input, 10 classes; text
models: `--max-length` token ids of a `--vocab`-word table, 2 classes, a quarter
of each row padding) and batch size:
ORT fp32 / torch eager and ORT int8 / ORT fp32 latency ratios (p50; below 1 the
first is faster), with the spread p90/p50 of every figure so the stability of
the measurement shows beside it. The int8 models are calibrated on random
inputs (speed does not depend on calibration quality); a model's int8 mode
(static QDQ or dynamic, its `int8_mode`) is in the table. Absolute times depend
on the host; ratios measured in the same run are what carries over.

    python bench/latency.py [--models resnet8,textcnn] [--max-length 64] [--min-time-s 1]

Writes results/bench/latency.md and prints it.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from kdbench.config import EfficiencyConfig
from kdbench.efficiency import profile_student
from kdbench.efficiency.int8 import int8_mode
from kdbench.inputs import InputSpec, image_spec
from kdbench.models import MODELS, create_model

MODELS_WANTED = [
    "resnet8",
    "resnet20",
    "resnet56",
    "mobilenetv2",
    "textcnn",
    "bilstm",
    "text_transformer",
]


def spec_for(name: str, max_length: int, vocab: int) -> tuple[InputSpec, int]:
    """The input spec and class count a model is timed at: tokens if it takes tokens."""
    if "tokens" in MODELS.get(name).kinds:  # type: ignore[attr-defined]
        return InputSpec("tokens", (max_length,), vocab_size=vocab), 2
    return image_spec(3, 32), 10


def token_examples(spec: InputSpec):
    """Real-looking token rows: ids, with the last quarter of each row padding."""
    x = spec.random(8)
    x[:, spec.shape[0] - spec.shape[0] // 4 :] = spec.pad_index
    return x


OUT = Path("results/bench/latency.md")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS_WANTED))
    p.add_argument("--batch-sizes", default="1,32")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--min-time-s", type=float, default=1.0)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--max-length", type=int, default=64, help="tokens per text input")
    p.add_argument("--vocab", type=int, default=8000, help="text models' vocabulary")
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
        if name not in MODELS:
            notes.append(f"{name}: not registered in this checkout, skipped")
            print(f"note: {notes[-1]}", flush=True)
            continue
        torch.manual_seed(0)
        spec, classes = spec_for(name, args.max_length, args.vocab)
        model = create_model(name, classes, spec=spec)
        examples = token_examples(spec) if spec.kind == "tokens" else None
        eff = profile_student(model, spec, cfg, examples=examples)
        shape = "x".join(map(str, spec.shape)) + (" tokens" if spec.kind == "tokens" else "")
        lat = eff["latency"]
        for b in batches:
            t, o, q = (lat[k][f"bs{b}"] for k in ("torch_fp32", "ort_fp32", "ort_int8"))

            def spread(s: dict) -> str:
                return f"{s['latency_ms_p90'] / s['latency_ms_p50']:.2f}"

            rows.append(
                f"| {name} | {shape} | {int8_mode(model)} | {b} | {t['latency_ms_p50']:.3f} | {o['latency_ms_p50']:.3f} "
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
        f"Images 3x32x32, 10 classes; text {args.max_length} tokens (vocabulary "
        f"{args.vocab}, last quarter padding), 2 classes; random weights. int8: static QDQ "
        f"(U8S8) calibrated on random inputs, or dynamic (int8 weights) where the model says "
        f"so. Each figure: {args.warmup} warm-up runs, then timed runs "
        f"covering >= {args.min_time_s:g} s. Latency ratios are p50 / p50 "
        f"(below 1: the numerator backend is faster); spread = p90 / p50.",
        "",
        "| model | input | int8 | batch | eager ms | ORT fp32 ms | ORT int8 ms | ORT fp32 / eager "
        "| int8 / fp32 | spread eager / fp32 / int8 | runs |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
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
