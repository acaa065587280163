"""Int8 quantisation of an exported fp32 model, and its test accuracy.

Two quantizers, chosen per model (`FeatureModel.int8_quantizer`) and written to the
record (`efficiency.int8.quantizer`; `efficiency.int8.mode` says whether the weights were
trained quantization-aware, `qat`, or not, `ptq`):

* `static` (default): QDQ with activation ranges calibrated on real inputs.
* `dynamic`: weights int8, activation ranges computed at run time
  (`quantize_dynamic`). For recurrent models: ONNX Runtime's static QDQ leaves
  GRU/LSTM ops in float (only the classifier would be quantized), while its
  dynamic quantizer has integer LSTM kernels (DynamicQuantizeLSTM) and int8
  MatMuls; GRU ops stay float in either mode.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from kdbench.efficiency.export import INPUT, onnx_input, ort_logits
from kdbench.errors import ConfigError
from kdbench.registry import Registry

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


#: mode -> quantize(prepared fp32 path, out path, calibration inputs, per_channel)
Quantizer = Callable[[Path, Path, np.ndarray, bool], None]
QUANTIZERS: Registry[Quantizer] = Registry("int8 mode")


@QUANTIZERS.register("static")
def _static(prepared: Path, out_path: Path, calibration: np.ndarray, per_channel: bool) -> None:
    """QDQ: uint8 activations, int8 weights, min-max calibration on `calibration`."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    quantize_static(
        str(prepared),
        str(out_path),
        _Calibration(calibration),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=per_channel,
    )


@QUANTIZERS.register("dynamic")
def _dynamic(prepared: Path, out_path: Path, calibration: np.ndarray, per_channel: bool) -> None:
    """Int8 weights, activations quantized at run time (no calibration needed)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(prepared), str(out_path), weight_type=QuantType.QInt8, per_channel=per_channel
    )


def quantize_int8(
    fp32_path: str | Path,
    out_path: str | Path,
    calibration: np.ndarray,
    per_channel: bool = False,
    mode: str = "static",
) -> Path:
    """Int8 of `fp32_path` in `mode` (static QDQ or dynamic), after `quant_pre_process`."""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if mode not in QUANTIZERS:
        raise ConfigError(f"int8 mode {mode!r} is unknown; modes: {', '.join(QUANTIZERS.names())}")
    out_path = Path(out_path)
    if mode == "dynamic":
        return _quantize_dynamic(Path(fp32_path), out_path, per_channel)
    prepared = out_path.with_name(out_path.stem + ".pre.onnx")
    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # the quantiser logs advice at INFO/WARNING
    try:
        quant_pre_process(str(fp32_path), str(prepared))
        QUANTIZERS.get(mode)(prepared, out_path, calibration, per_channel)
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
