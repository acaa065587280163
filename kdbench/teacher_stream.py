"""The teacher's logits of every training view of an epoch, computed once for a whole grid.

A view is a function of (aug seed, epoch, sample index) only
(`kdbench.data.augment.view_keys`), so every cell with the same teacher, data
and aug seed shows its teacher the same images. The first cell that needs an
epoch runs the teacher over the whole training split in large chunks and
stores the logits in the teacher store, under a file lock; every other cell
(any temperature, weight, logit method or student) reads them. A KD step then
costs about what a student-alone step costs.

Storage is float32, not float16: the stored logits are then bit-for-bit what
the live teacher hands the loss, so a cell gives the same result with the
stream as without it (tests/test_teacher_stream.py). The price is disk:
4 bytes x classes per training sample and epoch, e.g. 1.8 MB per epoch for the
45,000 training images of CIFAR-10 (0.9 MB at fp16), 18 MB for CIFAR-100.
Without augmentation all epochs share one view, so one pass serves all.
`trainer.teacher_stream_max_mb` caps the disk all streams of a store may use:
an epoch that would exceed it is not stored and the cell runs its teacher
live (same result, slower); `trainer.teacher_stream=false` turns streams off.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from filelock import FileLock

from kdbench.config import KdbenchConfig, data_identity
from kdbench.data.base import TensorData
from kdbench.fileio import config_hash, write_atomic, write_json_atomic

FORMAT = 1  # bump when what a stream file holds changes
STREAMS_DIR = "streams"


def stream_identity(
    cfg: KdbenchConfig, data: TensorData, teacher_meta: dict[str, Any], aug_seed: int
) -> dict[str, Any]:
    """Everything the logits of an epoch depend on, except the epoch.

    The teacher is named by its weights' checksum (a retrained or different
    teacher gets a new stream); the data by its config (subset, split,
    augmentation) minus `aug_seed`, which is given resolved. An ensemble's
    logits depend on T, so T is part of its identity.
    """
    data_cfg = data_identity(cfg.data)
    augmented = data.augment is not None
    return {
        "format": FORMAT,
        "teacher": {"key": teacher_meta["key"], "sha256": teacher_meta["sha256"]},
        "ensemble_T": cfg.distill.T if cfg.teacher.ensemble else None,
        "data": data_cfg,
        "num_train": len(data.train[1]),
        "aug_seed": aug_seed if augmented else None,
        "augmented": augmented,
        "precision": cfg.trainer.precision,
        "channels_last": cfg.trainer.channels_last,
    }


def _tensor_sha256(t: torch.Tensor) -> str:
    return hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest()


def folder_bytes(root: Path) -> int:
    """Bytes of all finished stream files under `root` (temp files excluded)."""
    if not root.is_dir():
        return 0
    return sum(p.stat().st_size for p in root.rglob("epoch-*.pt") if p.is_file())


class TeacherStream:
    """Per-epoch teacher logits (num_train, classes) of one (teacher, data, aug seed)."""

    def __init__(self, store: str | Path, identity: dict[str, Any], max_bytes: float) -> None:
        self.streams = Path(store) / STREAMS_DIR
        self.identity = identity
        self.key = config_hash(identity)
        self.folder = self.streams / self.key[:16]
        self.max_bytes = max_bytes
        self.produced: list[int] = []  # epochs this process computed (not loaded)
        self.over_limit: list[int] = []  # epochs not stored because of the size limit

    @classmethod
    def for_cell(
        cls, cfg: KdbenchConfig, data: TensorData, teacher_meta: dict[str, Any], aug_seed: int
    ) -> TeacherStream:
        identity = stream_identity(cfg, data, teacher_meta, aug_seed)
        return cls(cfg.teacher_store, identity, cfg.trainer.teacher_stream_max_mb * 1e6)

    def stored_epoch(self, epoch: int) -> int:
        """The epoch whose views `epoch` sees: without augmentation all epochs are epoch 0."""
        return epoch if self.identity["augmented"] else 0

    def path(self, epoch: int) -> Path:
        return self.folder / f"epoch-{self.stored_epoch(epoch):04d}.pt"

    def logits(self, epoch: int, compute: Callable[[], torch.Tensor]) -> torch.Tensor | None:
        """The stored logits of `epoch` (float32, CPU); `compute()` them if no cell has yet.

        None when they are not stored and storing them would exceed the size
        limit: the caller then runs its teacher live.
        """
        path = self.path(epoch)
        self.folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path.with_suffix(".lock"))):
            cached = self._load(path)
            if cached is not None:
                return cached
            logits = compute().detach().float().cpu().contiguous()
            expected = int(self.identity["num_train"])
            if logits.shape[0] != expected:
                raise ValueError(f"stream pass gave {logits.shape[0]} rows, expected {expected}")
            size = logits.numel() * logits.element_size()
            if folder_bytes(self.streams) + size > self.max_bytes:
                self.over_limit.append(epoch)
                warnings.warn(
                    f"teacher stream over trainer.teacher_stream_max_mb "
                    f"({self.max_bytes / 1e6:g} MB): epoch {epoch} runs the teacher live",
                    stacklevel=2,
                )
                return None
            self._save(path, logits)
            self.produced.append(epoch)
            return logits

    def _load(self, path: Path) -> torch.Tensor | None:
        if not path.is_file():
            return None
        try:
            blob = torch.load(path, map_location="cpu", weights_only=True)
            logits = blob["logits"]
            ok = blob["identity_key"] == self.key and blob["sha256"] == _tensor_sha256(logits)
        except Exception:  # noqa: BLE001 - any unreadable file is recomputed
            ok = False
        if not ok:
            warnings.warn(
                f"teacher stream {path} is unreadable or corrupt; recomputing", stacklevel=3
            )
            path.unlink(missing_ok=True)
            return None
        return logits

    def _save(self, path: Path, logits: torch.Tensor) -> None:
        blob = {"identity_key": self.key, "sha256": _tensor_sha256(logits), "logits": logits}
        write_atomic(path, lambda f: torch.save(blob, f))  # readers never see half a file
        if not (self.folder / "identity.json").is_file():  # for people reading the store
            write_json_atomic(self.folder / "identity.json", self.identity)
