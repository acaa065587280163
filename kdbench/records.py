"""A cell's identity, defined once: its key, its folder, the settings a report groups by.

The key is a hash of the resolved config minus output paths and minus settings
the cell's method ignores, so rerunning a sweep finds finished cells, and a
grid that crosses `distill=none` with temperatures runs the baseline once. The
report's settings (`report_settings`) are read off the same canonical config,
so what makes two cells different is what puts them in different rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kdbench.config import KdbenchConfig, loss_weights, model_label, teacher_label
from kdbench.distill import METHODS, identity
from kdbench.fileio import config_hash

# Settings that say where outputs go or how a run is watched or measured, not what is
# trained: a change of `efficiency.*` re-measures the kept student instead of retraining.
_NOT_IDENTITY = ("name", "results_dir", "teacher_store", "efficiency", "logger", "progress")


def canonical_config(cfg: KdbenchConfig) -> dict[str, Any]:
    """The settings that determine a cell's result, and nothing else."""
    d = asdict(cfg)
    for key in _NOT_IDENTITY:
        d.pop(key)
    method = METHODS.get(cfg.distill.name)
    d["distill"] = identity(cfg.distill)  # the fields of the method's own dataclass it reads
    if not method.uses_teacher:
        d.pop("teacher")
    return d


def report_settings(cfg: KdbenchConfig) -> dict[str, Any]:
    """The flat settings a report groups by (teacher, student, method, T, weights, seed, data)."""
    method = METHODS.get(cfg.distill.name)
    w1, w2 = loss_weights(cfg.distill) if method.uses_teacher else (1.0, 0.0)
    flat: dict[str, Any] = {
        "data": cfg.data.name,
        "teacher": teacher_label(cfg.teacher) if method.uses_teacher else None,
        "student": model_label(cfg.student),
        "student_name": cfg.student.name,
        "student_depth": cfg.student.depth,
        "student_width": cfg.student.width,
        "method": cfg.distill.name,
        "w1": w1,
        "w2": w2,
        "seed": cfg.seed,
    }
    for p, value in identity(cfg.distill).items():
        if p not in ("name", "w1", "w2"):
            flat[p] = value
    return flat


def cell_key(cfg: KdbenchConfig) -> str:
    return config_hash(canonical_config(cfg))


def cell_dir(cfg: KdbenchConfig, key: str) -> Path:
    """results/<experiment>/cells/<student>-<method>-s<seed>-<key prefix>/"""
    label = f"{model_label(cfg.student)}-{cfg.distill.name}-s{cfg.seed}-{key[:10]}"
    return Path(cfg.results_dir) / cfg.name / "cells" / label


def read_record(directory: Path) -> dict[str, Any] | None:
    path = directory / "record.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return None


def find_records(root: Path) -> list[Path]:
    """Every record.json below `root`, in a stable order."""
    return sorted(Path(root).rglob("record.json"))
