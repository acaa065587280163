"""Measurement is not training: re-measure a finished cell from its kept student.

A cell's record stores the efficiency settings it was measured with
(`efficiency.settings`). When they change, or when the sweep folder is copied
to the device the student is for (`kdbench-profile DIR`), the kept
`student.pt` and ONNX files are measured again and the record is updated in
place: metrics, curves and training time stay as they were. Latency needs no
data set: the int8 model is the file calibrated where the cell trained, so its
recorded accuracy stays valid.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import torch

from kdbench.config import EfficiencyConfig
from kdbench.curves import METRICS_CSV
from kdbench.efficiency import BACKENDS
from kdbench.efficiency.files import INPUTS_PT, MODEL_FILES, ONNX_FILES, STUDENT_PT
from kdbench.efficiency.profiler import deployed, measure_latency_block, measurement_settings
from kdbench.errors import KdbenchError
from kdbench.inputs import InputSpec
from kdbench.models import FeatureModel, create_model
from kdbench.stages import STAGES, parse_stage

# Settings that change the exported files (and need the data set to redo them);
# the others (threads, batch sizes, warm-up, timed runs) only change the timing.
EXPORT_SETTINGS = ("exporter", "calibration_size", "int8_per_channel")


_NOT_ARTIFACTS = ("record.json", "traceback.txt")


def artifact_listing(directory: Path) -> dict[str, Any]:
    """The record's `artifacts`: kept files beside the record and their sizes in bytes.

    The student's files, its curves, and what its data set keeps beside it
    (`TensorData.artifacts`, e.g. a text set's tokenizer.json): every plain file but the
    record itself, its traceback and temp files.
    """
    names = sorted(
        {*MODEL_FILES, METRICS_CSV}
        | {
            p.name
            for p in directory.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.name not in _NOT_ARTIFACTS
        }
        if directory.is_dir()
        else set()
    )
    files = {n: (directory / n).stat().st_size for n in names if (directory / n).is_file()}
    return {"files": files, "bytes": sum(files.values())}


def recorded_settings(record: dict[str, Any]) -> dict[str, Any] | None:
    return (record.get("efficiency") or {}).get("settings")


def needs_measuring(record: dict[str, Any], cfg: EfficiencyConfig) -> bool:
    """True when an ok record was measured with other settings than `cfg` (or never)."""
    return cfg.enabled and recorded_settings(record) != measurement_settings(cfg)


def has_student(directory: Path) -> bool:
    return (directory / STUDENT_PT).is_file()


def latency_only(record: dict[str, Any], directory: Path, cfg: EfficiencyConfig) -> bool:
    """True when the kept files serve `cfg` as they are (no export, no data set needed)."""
    old = recorded_settings(record) or {}
    if any(old.get(k) != getattr(cfg, k) for k in EXPORT_SETTINGS):
        return False
    needed = {BACKENDS.get(b).artifact for b in cfg.backends} - {"torch"}
    return all((directory / ONNX_FILES[a]).is_file() for a in needed)


def input_spec(record: dict[str, Any], directory: Path) -> InputSpec:
    """The input spec a cell's student takes (records before specs: images of `input_shape`)."""
    info = record.get("data_info") or {}
    if info.get("input_spec"):
        return InputSpec.from_dict(info["input_spec"])
    if not info.get("input_shape"):
        raise KdbenchError(f"{directory / 'record.json'} lacks the student's input spec")
    return InputSpec("image", tuple(info["input_shape"]))


def kept_inputs(directory: Path) -> torch.Tensor | None:
    """The real inputs kept beside the student (`inputs.pt`), or None (older cells)."""
    path = directory / INPUTS_PT
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)["inputs"]


def load_student(record: dict[str, Any], directory: Path) -> FeatureModel:
    """The cell's student, rebuilt from its record and loaded from `student.pt` (weights only)."""
    s = (record.get("resolved") or {}).get("student")
    info = record.get("data_info") or {}
    if not s or not info.get("num_classes"):
        raise KdbenchError(f"{directory / 'record.json'} lacks the student's config")
    size = {k: v for k, v in s.items() if k != "name" and v is not None}
    model = create_model(s["name"], info["num_classes"], spec=input_spec(record, directory), **size)
    model = rebuild_stages(model, record.get("stages") or [])
    state = torch.load(directory / STUDENT_PT, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def rebuild_stages(model: FeatureModel, entries: list[dict[str, Any]]) -> FeatureModel:
    """The architecture a cell's stages ended with (pruned shapes, QAT graph), rebuilt in
    order from each stage's recorded params and `info`: no pickled modules are needed."""
    for position, entry in enumerate(entries):
        if entry.get("name") == "train":
            continue
        params = parse_stage(entry["params"], position)
        model = STAGES.get(params.name)(params).rebuild(model, entry.get("info") or {})
    return model


def remeasure_latency(
    record: dict[str, Any], directory: Path, cfg: EfficiencyConfig
) -> dict[str, Any]:
    """The record with latency, host, `measured_at` and settings renewed from the kept files."""
    model = deployed(load_student(record, directory))
    files = {a: directory / f for a, f in ONNX_FILES.items() if (directory / f).is_file()}
    spec = input_spec(record, directory)
    block = measure_latency_block(model, spec, cfg, files, kept_inputs(directory))
    return {**record, "efficiency": {**(record.get("efficiency") or {}), **block}}


def architecture_key(record: dict[str, Any]) -> str:
    """What a latency is a property of, besides the host: the student's architecture and size,
    its input spec and class count (not its trained weights)."""
    info = record.get("data_info") or {}
    student = (record.get("resolved") or {}).get("student") or {}
    spec = info.get("input_spec") or {"kind": "image", "shape": info.get("input_shape")}
    return json.dumps(
        {"student": student, "spec": spec, "classes": info.get("num_classes")}, sort_keys=True
    )


def _median_block(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """One latency block from interleaved rounds: per backend and batch size the median of
    each statistic over the rounds, and the rounds' p50 range as its spread."""
    first = blocks[0]
    latency: dict[str, Any] = {}
    for backend, by_batch in first["latency"].items():
        latency[backend] = {}
        for batch in by_batch:
            runs = [b["latency"][backend][batch] for b in blocks]
            stats = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            p50s = [r["latency_ms_p50"] for r in runs]
            stats["latency_ms_p50_range"] = max(p50s) - min(p50s)
            latency[backend][batch] = stats
    return {**first, "latency": latency}


def remeasure_architectures(
    cells: list[tuple[dict[str, Any], Path]], cfg_of: Any, rounds: int = 3
) -> dict[Path, dict[str, Any]]:
    """Each cell's record with a latency measured ONCE for its architecture and shared.

    Cells with the same `architecture_key` differ in latency only by noise, so one
    representative per architecture is timed, in `rounds` interleaved rounds (every
    architecture once per round, so a slow spell of the machine hits all alike); the
    median per statistic is written to every cell of the architecture, with
    `latency_shared` saying over how many cells and rounds. `cfg_of(record)` gives
    the efficiency settings for a record.
    """
    groups: dict[str, list[tuple[dict[str, Any], Path]]] = {}
    for record, directory in cells:
        groups.setdefault(architecture_key(record), []).append((record, directory))
    blocks: dict[str, list[dict[str, Any]]] = {k: [] for k in groups}
    prepared = {}
    for key, members in groups.items():
        record, directory = members[0]
        files = {a: directory / f for a, f in ONNX_FILES.items() if (directory / f).is_file()}
        prepared[key] = (
            load_student(record, directory),
            input_spec(record, directory),
            cfg_of(record),
            files,
            kept_inputs(directory),
        )
    for _ in range(max(1, rounds)):
        for key, (model, spec, cfg, files, inputs) in prepared.items():
            blocks[key].append(measure_latency_block(model, spec, cfg, files, inputs))
    out = {}
    for key, members in groups.items():
        block = _median_block(blocks[key])
        block["latency_shared"] = {"cells": len(members), "rounds": len(blocks[key])}
        for record, directory in members:
            out[directory] = {**record, "efficiency": {**(record.get("efficiency") or {}), **block}}
    return out
