"""Latency ratios between inference backends, measured in one run on this machine.

For each model (random weights, 10 classes; image models at 3x32x32, sequence models
at FSDD's 49x10 MFCC frames; a registered model at its defaults or a
conf/student/<name>.yaml, e.g. the vision transformers vit_tiny and cct_2_3x2) and
batch size (text models: `--max-length` token ids of a `--vocab`-word table,
2 classes, the last quarter of each row padding):
ORT fp32 / torch eager and ORT int8 / ORT fp32 latency ratios (p50; below 1 the
first is faster), with the spread p90/p50 of every figure so the stability of
the measurement shows beside it. The int8 models are calibrated on random
inputs (speed does not depend on calibration quality); recurrent models are
quantized dynamically (the int8 quantizer column). The audio front-end's cost per
1 s clip (8 kHz, MFCC, batch 1 and 32) is measured too: it runs once at load
time in training, but on a device it runs per clip. Absolute times depend on the
host; ratios measured in the same run are what carries over.

    python bench/latency.py [--models resnet8,resnet20] [--sequence-models gru,transformer]
                            [--text-models textcnn,bilstm] [--max-length 64]
                            [--min-time-s 1] [--threads 1]

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
from kdbench.inputs import InputSpec, image_spec
from kdbench.models import MODELS, build_model

MODELS_WANTED = ["resnet8", "resnet20", "resnet56", "mobilenetv2", "vit_tiny", "cct_2_3x2"]
SEQUENCE_WANTED = ["gru", "transformer"]  # at FSDD's input: 49 frames x 10 MFCCs
FSDD_SPEC = InputSpec("sequence", (49, 10))
TEXT_WANTED = ["textcnn", "bilstm", "text_transformer"]  # at --max-length tokens


def token_examples(spec: InputSpec):
    """Real-looking token rows: ids, with the last quarter of each row padding."""
    x = spec.random(8)
    x[:, spec.shape[0] - spec.shape[0] // 4 :] = spec.pad_index
    return x


def model_config(name: str) -> ModelConfig | None:
    """conf/student/<name>.yaml when there is one (sized models), else the registered
    model at its defaults; None when neither exists."""
    path = Path(CONF_DIR) / "student" / f"{name}.yaml"
    if path.is_file():
        return ModelConfig(**OmegaConf.to_container(OmegaConf.load(path)))  # type: ignore[arg-type]
    return ModelConfig(name=name) if name in MODELS else None


def frontend_ms(batch: int, runs: int = 20) -> float:
    """Median ms per clip of the MFCC front-end on `batch` 1 s clips at 8 kHz (one thread)."""
    import statistics

    import torch

    from kdbench.data.audio.frontend import FrontEnd, FrontEndConfig

    fe = FrontEnd(FrontEndConfig(sample_rate=8000))
    x = torch.randn(batch, 8000)
    times = []
    with torch.no_grad():
        fe(x)
        for _ in range(runs):
            t = time.perf_counter()
            fe(x)
            times.append((time.perf_counter() - t) * 1000 / batch)
    return statistics.median(times)


OUT = Path("results/bench/latency.md")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default=",".join(MODELS_WANTED))
    p.add_argument("--sequence-models", default=",".join(SEQUENCE_WANTED))
    p.add_argument("--text-models", default=",".join(TEXT_WANTED))
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--vocab", type=int, default=8000)
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
    torch.set_num_threads(args.threads)
    tokens = InputSpec("tokens", (args.max_length,), vocab_size=args.vocab)
    wanted = [(n, image_spec(3), 10) for n in args.models.split(",") if n]
    wanted += [(n, FSDD_SPEC, 10) for n in args.sequence_models.split(",") if n]
    wanted += [(n, tokens, 2) for n in args.text_models.split(",") if n]
    for name, spec, classes in wanted:
        m = model_config(name)
        if m is None or m.name not in MODELS:
            notes.append(f"{name}: not registered in this checkout, skipped")
            print(f"note: {notes[-1]}", flush=True)
            continue
        torch.manual_seed(0)
        examples = token_examples(spec) if spec.kind == "tokens" else None
        eff = profile_student(build_model(m, spec, classes), spec, cfg, examples=examples)
        shape = "x".join(map(str, spec.shape)) + (" tokens" if spec.kind == "tokens" else "")
        lat = eff["latency"]
        for b in batches:
            t, o, q = (lat[k][f"bs{b}"] for k in ("torch_fp32", "ort_fp32", "ort_int8"))

            def spread(s: dict) -> str:
                return f"{s['latency_ms_p90'] / s['latency_ms_p50']:.2f}"

            rows.append(
                f"| {name} | {shape} | {eff['int8']['quantizer']} | {b} | {t['latency_ms_p50']:.3f} | {o['latency_ms_p50']:.3f} "
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
        f"random weights; int8 = static QDQ (U8S8) calibrated on random inputs, "
        f"or dynamic (int8 weights; recurrent models). Each figure: {args.warmup} warm-up runs, then timed runs "
        f"covering >= {args.min_time_s:g} s. Latency ratios are p50 / p50 "
        f"(below 1: the numerator backend is faster); spread = p90 / p50.",
        "",
        "| model | input | int8 quantizer | batch | eager ms | ORT fp32 ms | ORT int8 ms "
        "| ORT fp32 / eager | int8 / fp32 | spread eager / fp32 / int8 | runs |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|---|",
        *rows,
        "",
        "Audio front-end (torch, MFCC 49x10 from a 1 s clip at 8 kHz), ms per clip: "
        + ", ".join(f"batch {b}: {frontend_ms(b):.3f}" for b in batches),
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
