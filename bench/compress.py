"""Latency of compressed students (ONNX Runtime, 1 thread, batch 1, CPU).

1. Pruned vs unpruned: the plain CNN (width 2, 3x32x32) pruned with Torch-Pruning to
   2x and 4x fewer MACs; fp32 ORT latency must fall with the MACs.
2. QAT int8 vs PTQ int8: the same student quantized post-training and after (a few
   steps of) quantization-aware training; both go through the same ORT QDQ
   quantizer, so the graphs are the same and the latencies equal within noise.

Usage: PYTHONPATH=. python bench/compress.py
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from kdbench.efficiency.export import export_onnx, ort_session
from kdbench.efficiency.int8 import quantize_int8
from kdbench.efficiency.latency import measure_latency
from kdbench.inputs import InputSpec
from kdbench.models import create_model
from kdbench.stages.prune import PruneParams, _macs, prune_to_budget
from kdbench.stages.qat import prepare_qat

SPEC = InputSpec("image", (3, 32, 32))


def ort_ms(path: Path, x: torch.Tensor) -> float:
    session = ort_session(path, 1)
    stats = measure_latency(lambda a: session.run(None, {"input": a}), x.numpy(), 10, 1.0, 50)
    return stats["latency_ms_p50"]


def main() -> None:
    torch.manual_seed(0)
    x = SPEC.random(1, seed=0)
    calibration = SPEC.random(64, seed=1).numpy()
    base = create_model("cnn", 10, spec=SPEC, width=2.0).eval()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print("| model | MACs (M) | ORT fp32 p50 (ms) |\n|---|---:|---:|")
        for ratio in (0.0, 0.5, 0.75):
            model = base
            if ratio:
                model, _ = prune_to_budget(
                    base, PruneParams(ratio=ratio), SPEC, x.repeat(2, 1, 1, 1)
                )
            path = export_onnx(model.eval(), x, folder / f"p{ratio}.onnx", "torchscript")
            print(
                f"| cnn-w2 pruned {ratio:.2f} | {_macs(model, SPEC) / 1e6:.2f} | {ort_ms(path, x):.3f} |"
            )
        student = create_model("resnet8", 10, spec=SPEC).eval()
        qat = prepare_qat(student, SPEC, 1)
        for _ in range(3):
            qat(SPEC.random(32, seed=2))  # observers see data, as in training
        rows = {"ptq": student.eval(), "qat": qat.deployable()}
        print("\n| resnet8 int8 | ORT int8 p50 (ms) |\n|---|---:|")
        for name, model in rows.items():
            fp32 = export_onnx(model, x, folder / f"{name}.onnx", "torchscript")
            int8 = quantize_int8(fp32, folder / f"{name}.int8.onnx", calibration, True)
            print(f"| {name} | {ort_ms(int8, x):.3f} |")


if __name__ == "__main__":
    main()
