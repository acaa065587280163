"""Static int8 quantisation of an exported fp32 model (QDQ), and its test accuracy.

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


def quantize_int8(
    fp32_path: str | Path,
    out_path: str | Path,
    calibration: np.ndarray,
    per_channel: bool = False,
) -> Path:
    """Static QDQ int8 of `fp32_path`: uint8 activations, int8 weights, min-max calibration."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out_path = Path(out_path)
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


def ort_top1(session: Any, images: np.ndarray, labels: np.ndarray, batch: int = 256) -> float:
    """Top-1 accuracy (percent) of an ONNX Runtime session on a labelled split."""
    correct = 0
    for i in range(0, len(labels), batch):
        logits = ort_logits(session, images[i : i + batch])
        correct += int((logits.argmax(1) == labels[i : i + batch]).sum())
    return 100.0 * correct / max(1, len(labels))
