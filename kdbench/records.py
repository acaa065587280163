"""One JSON record per cell: its identity (key), atomic writes, and reading back.

The key is a hash of the resolved config minus output paths and minus settings
the cell's method ignores, so rerunning a sweep finds finished cells, and a
grid that crosses `distill=none` with temperatures runs the baseline once.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from kdbench.config import KdbenchConfig, model_label

SCHEMA_VERSION = 1
# Settings that say where outputs go, not what is computed.
_NOT_IDENTITY = ("name", "results_dir", "teacher_store")
# Trainer settings that change how fast a result comes, not the result.
_NOT_IDENTITY_TRAINER = ("teacher_stream", "teacher_stream_max_mb")


def canonical_config(cfg: KdbenchConfig) -> dict[str, Any]:
    """The settings that determine a cell's result, and nothing else."""
    from kdbench.distill import METHODS

    d = asdict(cfg)
    for key in _NOT_IDENTITY:
        d.pop(key)
    for key in _NOT_IDENTITY_TRAINER:
        d["trainer"].pop(key)
    method = METHODS.get(cfg.distill.name)
    d["distill"] = {"name": cfg.distill.name, **{p: d["distill"][p] for p in method.params}}
    if not method.uses_teacher:
        d.pop("teacher")
    return d


def config_hash(obj: Any) -> str:
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks (weights, archives)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cell_key(cfg: KdbenchConfig) -> str:
    return config_hash(canonical_config(cfg))


def cell_dir(cfg: KdbenchConfig, key: str) -> Path:
    """results/<experiment>/cells/<student>-<method>-s<seed>-<key prefix>/"""
    label = f"{model_label(cfg.student)}-{cfg.distill.name}-s{cfg.seed}-{key[:10]}"
    return Path(cfg.results_dir) / cfg.name / "cells" / label


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write to a temp file in the same folder, fsync, rename: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True, default=str)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temp_files(directory: Path) -> None:
    """Delete temp files a killed write left behind (never read: they are not `record.json`)."""
    if directory.is_dir():
        for tmp in directory.glob(".record.json.*.tmp"):
            tmp.unlink(missing_ok=True)


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
