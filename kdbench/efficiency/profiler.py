"""The `efficiency` block of a record: counts, sizes, ONNX parity, int8 accuracy, latency.

Everything is measured on a copy of the student alone, on CPU, in eval mode:
never the teacher, a method's adapters or the training graph, and on inputs of
the data's input spec: real examples drawn from the data when given (FLOPs of a
padded sequence, export, latency), a class-balanced calibration set for int8,
random inputs of the spec only when no data is at hand (`kdbench-profile` of
bare models).
"""

from __future__ import annotations

import copy
import os
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdbench.config import EfficiencyConfig
from kdbench.efficiency.backends import BACKENDS, Artifacts, time_backend
from kdbench.efficiency.counts import count_flops, count_params, state_dict_bytes
from kdbench.efficiency.export import export_onnx, max_abs_diff, ort_session
from kdbench.efficiency.files import ONNX_FILES
from kdbench.efficiency.int8 import int8_mode, ort_top1, quantize_int8
from kdbench.efficiency.latency import host_info
from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec, repeat_to

Split = tuple[torch.Tensor, torch.Tensor]
PARITY_SAMPLES = 8


def as_spec(spec: InputSpec | tuple[int, ...]) -> InputSpec:
    """An input spec; a bare (C, H, W) shape means float images."""
    return spec if isinstance(spec, InputSpec) else InputSpec("image", tuple(spec))


def _inputs(spec: InputSpec, examples: torch.Tensor | None, n: int, seed: int) -> torch.Tensor:
    """`n` model inputs: the real `examples` cycled, else random inputs of the spec."""
    if examples is not None and len(examples):
        return repeat_to(examples, n)
    return spec.random(n, seed)


def measurement_settings(cfg: EfficiencyConfig) -> dict[str, Any]:
    """The settings a measurement used, stored in the record to tell when to re-measure."""
    settings = asdict(cfg)
    settings.pop("keep_models")  # where files go, not how the student is measured
    return settings


def static_costs(
    model: nn.Module, spec: InputSpec | tuple[int, ...], example: torch.Tensor | None = None
) -> dict[str, Any]:
    """Counts that do not depend on the machine: parameters, FLOPs, fp32 size."""
    spec = as_spec(spec)
    flops = count_flops(model, (1, *spec.shape), _inputs(spec, example, 1, seed=0))
    params = count_params(model)
    size = state_dict_bytes(model)
    return {
        "params": params,
        "params_m": params / 1e6,
        "params_trainable": count_params(model, trainable_only=True),
        "flops": flops,
        "macs": flops // 2,
        "mflops": flops / 1e6,
        "size_bytes": size,
        "size_kb": size / 1024,
    }


def _export(
    model: nn.Module,
    spec: InputSpec,
    cfg: EfficiencyConfig,
    folder: Path,
    calibration: torch.Tensor | None,
    test: Split | None,
    examples: torch.Tensor | None,
) -> tuple[dict[str, Path], dict[str, Any]]:
    """The ONNX files the backends need, with their sizes, parity and int8 accuracy."""
    result: dict[str, Any] = {
        "onnx_fp32_size_kb": None,
        "onnx_int8_size_kb": None,
        "onnx_max_abs_diff": None,
        "int8": {"top1": None, "top1_delta": None, "mode": None},
    }
    needs = {BACKENDS.get(name).artifact for name in cfg.backends}
    files: dict[str, Path] = {}
    if not needs & {"onnx_fp32", "onnx_int8"}:
        return files, result
    example = _inputs(spec, examples, 2, seed=1)
    fp32 = export_onnx(model, example, folder / ONNX_FILES["onnx_fp32"], cfg.exporter)
    files["onnx_fp32"] = fp32
    result["onnx_fp32_size_kb"] = fp32.stat().st_size / 1024
    session = ort_session(fp32, cfg.threads)
    sample = test[0][:PARITY_SAMPLES] if test is not None else None
    if sample is None or len(sample) == 0:
        sample = _inputs(spec, examples, PARITY_SAMPLES, seed=1)
    result["onnx_max_abs_diff"] = max_abs_diff(model, session, sample)
    if "onnx_int8" in needs:
        # The caller's calibration set (class-balanced, from the data) as it is; without
        # one, random inputs of the spec: fine for speed, not for accuracy.
        inputs = (
            calibration
            if calibration is not None and len(calibration)
            else spec.random(cfg.calibration_size, seed=2)
        )
        mode = int8_mode(model)
        int8 = quantize_int8(
            fp32, folder / ONNX_FILES["onnx_int8"], inputs.numpy(), cfg.int8_per_channel, mode
        )
        result["int8"]["mode"] = mode
        files["onnx_int8"] = int8
        result["onnx_int8_size_kb"] = int8.stat().st_size / 1024
        if test is not None and len(test[1]):
            x, y = test[0].numpy(), test[1].numpy()
            top1 = ort_top1(ort_session(int8, cfg.threads), x, y)
            result["int8"].update(top1=top1, top1_delta=top1 - ort_top1(session, x, y))
    return files, result


def measure_latency_block(
    model: nn.Module,
    spec: InputSpec | tuple[int, ...],
    cfg: EfficiencyConfig,
    files: dict[str, Path],
    examples: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Latency per backend and batch size on this machine, with when, where and how.

    `files` holds the exported models by artifact name (`onnx_fp32`, `onnx_int8`);
    a backend whose file is missing is a ConfigError. This is all `kdbench-profile
    DIR` redoes on a device: the int8 model is the one calibrated where it trained.
    Inputs: `examples` (real ones, kept beside the student) cycled to each batch size.
    """
    spec = as_spec(spec)
    for name in cfg.backends:
        artifact = BACKENDS.get(name).artifact
        if artifact != "torch" and artifact not in files:
            raise ConfigError(f"backend {name} needs {ONNX_FILES[artifact]}, which is missing")
    art = Artifacts(model.cpu().eval(), cfg.threads, dict(files))
    latency = {
        name: {
            f"bs{b}": time_backend(
                name,
                art,
                _inputs(spec, examples, b, seed=b).numpy(),
                cfg.warmup,
                cfg.min_time_s,
                cfg.min_runs,
            )
            for b in cfg.batch_sizes
        }
        for name in cfg.backends
    }
    return {
        "latency": latency,
        "host": host_info(cfg.threads),
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "settings": measurement_settings(cfg),
    }


def profile_student(
    model: nn.Module,
    spec: InputSpec | tuple[int, ...],
    cfg: EfficiencyConfig | None = None,
    calibration: torch.Tensor | None = None,
    test: Split | None = None,
    out_dir: Path | None = None,
    examples: torch.Tensor | None = None,
) -> dict[str, Any]:
    """Measure `model` for inputs of `spec` (or a bare (C, H, W) image shape) under `cfg`.

    `examples`: a few real model inputs (FLOPs, export, latency run on them);
    `calibration` (model inputs, class-balanced) calibrates the int8 model;
    without it the int8 model is calibrated on random inputs of the spec (fine
    for speed, not for accuracy). `test` (inputs, labels) gives the int8 and fp32
    top-1 on the same split; without it `int8` holds None values. With `out_dir`, the exported
    models are kept there (`student.onnx`, `student.int8.onnx`: the very files
    measured), each renamed into place only once everything succeeded.
    """
    cfg = cfg or EfficiencyConfig()
    model = copy.deepcopy(model).cpu().eval()
    spec = as_spec(spec)
    result = static_costs(model, spec, examples)
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".kdbench-onnx-", dir=out_dir) as tmp:
        files, exported = _export(model, spec, cfg, Path(tmp), calibration, test, examples)
        result.update(exported)
        result.update(measure_latency_block(model, spec, cfg, files, examples))
        if out_dir is not None:
            for path in files.values():
                os.replace(path, Path(out_dir) / path.name)  # written by open(): umask modes
    return result
