"""Int8 quantisation of an exported fp32 model, and its test accuracy.

Two modes, chosen per model (its `int8_mode` attribute, default "static"):
* static QDQ, calibrated on class-balanced real inputs: convolutional and dense
  image models;
* dynamic (`quantize_dynamic`): int8 weights, activations quantized per batch at
  run time: models with LSTMs (ONNX Runtime's DynamicQuantizeLSTM; static QDQ does
  not cover the LSTM op) or masked attention (scores with no range that one
  calibration serves). The record's `int8.mode` says which was used.

`quant_pre_process` (symbolic shape inference + graph optimisation, e.g. BN
folded into conv) must run before `quantize_static`: without it the int8 model
ran at 0.5-0.7x the fp32 speed on these machines, because unfolded BN and
unknown shapes leave QDQ pairs ONNX Runtime cannot fuse into integer kernels.

Activations are uint8 and weights int8 (U8S8): on AVX2 CPUs without VNNI
(these machines) U8S8 ran ResNet-20 about 2x faster than fp32, while S8S8 (the
quantiser's default) ran 1.2-1.3x *slower* than fp32 (3x32x32, one thread).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from kdbench.efficiency.export import INPUT, onnx_input, ort_logits

CALIBRATION_BATCH = 32


class _Calibration:
    """Feeds calibration images to the quantiser in batches (its CalibrationDataReader API)."""

    def __init__(self, images: np.ndarray) -> None:
        self._batches = iter(
            [
                {INPUT: onnx_input(images[i : i + CALIBRATION_BATCH])}
                for i in range(0, len(images), CALIBRATION_BATCH)
            ]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)


INT8_MODES = ("static", "dynamic")


def int8_mode(model: object) -> str:
    """How `model` is quantized: its `int8_mode` attribute, "static" if it has none."""
    mode = getattr(model, "int8_mode", "static")
    if mode not in INT8_MODES:
        raise ValueError(f"int8_mode {mode!r} is not one of {INT8_MODES}")
    return mode


def quantize_int8(
    fp32_path: str | Path,
    out_path: str | Path,
    calibration: np.ndarray,
    per_channel: bool = False,
    mode: str = "static",
) -> Path:
    """Int8 of `fp32_path`. static: QDQ, uint8 activations, int8 weights, min-max
    calibration on `calibration`; dynamic: int8 weights (calibration unused)."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out_path = Path(out_path)
    if mode == "dynamic":
        return _quantize_dynamic(Path(fp32_path), out_path, per_channel)
    prepared = out_path.with_name(out_path.stem + ".pre.onnx")
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the quantiser logs advice at INFO/WARNING
    try:
        quant_pre_process(str(fp32_path), str(prepared))
        quantize_static(
            str(prepared),
            str(out_path),
            _Calibration(calibration),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
        )
    finally:
        logging.getLogger().setLevel(quiet)
        prepared.unlink(missing_ok=True)
    return out_path


def _quantize_dynamic(fp32_path: Path, out_path: Path, per_channel: bool) -> Path:
    """Dynamic int8 (int8 weights; MatMul, Gemm, LSTM, Attention ops) of `fp32_path`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(fp32_path), str(out_path), per_channel=per_channel, weight_type=QuantType.QInt8
        )
    finally:
        logging.getLogger().setLevel(quiet)
    return out_path


def ort_top1(session: Any, images: np.ndarray, labels: np.ndarray, batch: int = 256) -> float:
    """Top-1 accuracy (percent) of an ONNX Runtime session on a labelled split."""
    correct = 0
    for i in range(0, len(labels), batch):
        logits = ort_logits(session, images[i : i + batch])
        correct += int((logits.argmax(1) == labels[i : i + batch]).sum())
    return 100.0 * correct / max(1, len(labels))
