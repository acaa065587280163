"""Content-addressed teacher store: each teacher is trained once and reused.

A teacher is identified by the hash of everything that determines its weights
(architecture, data, recipe, seed, trainer limits). Training happens under a
file lock, so parallel cells that need the same teacher train it once; the
others wait and load it. Weights are stored with their sha256 and verified on
every load; a corrupted file is retrained with a warning. Weights are only ever
loaded with `weights_only=True`; a file that needs more (a pickle with code in
it, even one whose checksum matches) is set aside and retrained.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import lightning as L
import torch
from filelock import FileLock

from kdbench.config import (
    LOGITS_FILE,
    KdbenchConfig,
    data_identity,
    model_label,
    model_size,
    recipe_identity,
)
from kdbench.data import TensorData, TensorDataModule
from kdbench.data.augment import build_augment
from kdbench.distill import METHODS
from kdbench.errors import Diverged
from kdbench.fileio import config_hash, sha256_file, write_atomic, write_json_atomic
from kdbench.logits_file import load_logits_teacher
from kdbench.models import FeatureModel, build_model
from kdbench.models.ensemble import EnsembleTeacher
from kdbench.module import DistillationModule, test_metrics
from kdbench.trackers import tracker_loggers
from kdbench.training import effective_epochs, fit_and_test

log = logging.getLogger(__name__)
UNSAFE_SUFFIX = ".unsafe"  # a weights file torch.load(weights_only=True) refused, set aside


def teacher_identity(cfg: KdbenchConfig) -> dict[str, Any]:
    t = cfg.teacher
    tr = cfg.trainer
    return {
        "arch": {"name": t.name, **model_size(t)},
        # The teacher's views are fixed by its own seed, never by the students' data.aug_seed.
        # drop_classes never: the teacher learns from the whole training split (the runner
        # hands it the data before classes are dropped from the student's transfer set).
        "data": data_identity(replace(cfg.data, drop_classes=[])),
        "recipe": recipe_identity(asdict(t.recipe)),
        "epochs": effective_epochs(t.recipe.epochs, tr),
        "seed": t.seed,
        # Only when set, so teachers trained on the data's augmentation keep their keys.
        **({"augment": list(t.augment)} if t.augment is not None else {}),
        "trainer": {
            "limit_train_batches": tr.limit_train_batches,
            "limit_val_batches": tr.limit_val_batches,
            "precision": tr.precision,
            "select": tr.select,
        },
    }


class TeacherStore:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:16]

    def get(self, cfg: KdbenchConfig, data: TensorData) -> tuple[FeatureModel, dict[str, Any]]:
        """The trained teacher for `cfg` and its meta (key, metrics, train time, cached)."""
        if cfg.teacher.name == LOGITS_FILE:
            return _logits_file_teacher(cfg, data)
        if cfg.teacher.ensemble:
            return self._get_ensemble(cfg, data)
        return self._get_single(cfg, data)

    def _get_ensemble(
        self, cfg: KdbenchConfig, data: TensorData
    ) -> tuple[FeatureModel, dict[str, Any]]:
        """Each member is stored (and shared) as the single teacher it is; the ensemble
        is evaluated on the test split for its own metrics."""
        members, metas = [], []
        for m in cfg.teacher.ensemble:
            t = replace(cfg.teacher, name=m.name, depth=m.depth, width=m.width, ensemble=[])
            model, meta = self._get_single(replace(cfg, teacher=t), data)
            members.append(model)
            metas.append(meta)
        ensemble = EnsembleTeacher(members, cfg.distill.T).eval()
        return ensemble, {
            "key": config_hash([m["key"] for m in metas]),
            "sha256": config_hash([m["sha256"] for m in metas]),
            "cached": all(m["cached"] for m in metas),
            "train_s": sum(m["train_s"] for m in metas),
            "metrics": evaluate(ensemble, data),
            "members": [{k: m[k] for k in ("key", "sha256", "metrics")} for m in metas],
        }

    def _get_single(
        self, cfg: KdbenchConfig, data: TensorData
    ) -> tuple[FeatureModel, dict[str, Any]]:
        key = config_hash(teacher_identity(cfg))
        folder = self.path(key)
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / "train.lock")):
            # Seed before building: the key promises the seed, so the initial weights
            # must not depend on whatever the process drew from the RNG before.
            L.seed_everything(cfg.teacher.seed, workers=True, verbose=False)
            model = self._build(cfg, data)
            meta = self._load(folder, model)
            if meta is not None:
                return model, {**meta, "cached": True}
            # A load that failed half-way may have changed some weights: start from the seed.
            L.seed_everything(cfg.teacher.seed, workers=True, verbose=False)
            model = self._build(cfg, data)
            meta = self._train(cfg, data, model, folder, key)
            return model, {**meta, "cached": False}

    @staticmethod
    def _build(cfg: KdbenchConfig, data: TensorData) -> FeatureModel:
        return build_model(cfg.teacher, data.spec, data.num_classes)

    @staticmethod
    def _load(folder: Path, model: FeatureModel) -> dict[str, Any] | None:
        weights, meta_path = folder / "weights.pt", folder / "meta.json"
        if not (weights.is_file() and meta_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError):
            meta = {}
        if sha256_file(weights) != meta.get("sha256"):
            # Truncated, corrupted or swapped: never load it, train a fresh one.
            warnings.warn(
                f"teacher weights {weights} do not match their checksum; retraining",
                stacklevel=2,
            )
            return None
        try:
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        except Exception as exc:  # noqa: BLE001 - whatever it is, it is not our plain state dict
            # Never loaded any other way (weights_only=False runs code from the file):
            # set it aside for inspection and train a fresh one.
            aside = weights.with_name(weights.name + UNSAFE_SUFFIX)
            os.replace(weights, aside)
            warnings.warn(
                f"teacher weights {weights} do not load as a plain state dict"
                f" ({type(exc).__name__}); moved to {aside.name}, retraining",
                stacklevel=2,
            )
            return None
        return meta

    @staticmethod
    def _train(
        cfg: KdbenchConfig, data: TensorData, model: FeatureModel, folder: Path, key: str
    ) -> dict[str, Any]:
        t = cfg.teacher
        alone = METHODS.get("none")(METHODS.get("none").Params(), model, None, data.example())
        module = DistillationModule(model, None, alone, t.recipe, data.num_classes)
        if t.augment is not None:  # the teacher's own views (e.g. jittered, the student's not)
            data = replace(data, augment=build_augment(t.augment, data.spec.kind))
        dm = TensorDataModule(data, t.recipe.batch_size, seed=t.seed)
        start = time.perf_counter()
        # Always tested: the stored teacher's metrics serve every later cell, tuning ones too.
        trainer = replace(cfg.trainer, test=True)
        try:
            metrics, training = fit_and_test(
                module,
                dm,
                t.recipe.epochs,
                trainer,
                folder,  # metrics.csv (the teacher's curves) stays beside its weights
                label=f"teacher {model_label(t)}",
                progress=cfg.progress,
                loggers=tracker_loggers(
                    cfg.logger.name,
                    Path(cfg.results_dir) / cfg.name,
                    cfg.name,
                    f"teacher-{key[:16]}",
                ),
            )
        except Diverged as exc:  # name the teacher and its own learning rate
            who = f"teacher {model_label(t)}"
            raise Diverged(exc.epoch, exc.step, who, "teacher.recipe.optim.lr") from None
        model = module.student.cpu()
        weights = folder / "weights.pt"
        write_atomic(weights, lambda f: torch.save(model.state_dict(), f))
        meta = {
            "key": key,
            "identity": teacher_identity(cfg),
            "sha256": sha256_file(weights),
            "metrics": metrics,
            "training": training,
            "train_s": time.perf_counter() - start,
        }
        write_json_atomic(folder / "meta.json", meta)
        return meta


def evaluate(model: FeatureModel, data: TensorData) -> dict[str, float]:
    """Test metrics of a model that needs no training (an ensemble), in percent.

    Stored images go through `data.prepare` (uint8 -> normalized float) per chunk.
    """
    metrics = test_metrics(data.num_classes)
    x, y = data.test
    with torch.no_grad():
        for i in range(0, len(y), 256):
            metrics.update(model(data.prepare(x[i : i + 256])), y[i : i + 256])
    return {k: 100.0 * float(v) for k, v in metrics.compute().items()}


def _logits_file_teacher(
    cfg: KdbenchConfig, data: TensorData
) -> tuple[FeatureModel, dict[str, Any]]:
    """A teacher that is a file of logits: nothing to train; tested only where the file holds
    logits of the test split (`metrics` is then its top-1 etc., else empty)."""
    assert cfg.teacher.path is not None
    teacher = load_logits_teacher(cfg.teacher.path, data)
    digest = sha256_file(Path(cfg.teacher.path).expanduser())
    metrics: dict[str, float] = {}
    if teacher.test_logits is not None:
        m = test_metrics(data.num_classes)
        m.update(teacher.test_logits, data.test[1])
        metrics = {k: 100.0 * float(v) for k, v in m.compute().items()}
    return teacher, {
        "key": digest,
        "sha256": digest,
        "cached": True,
        "train_s": 0.0,
        "metrics": metrics,
        "logits_file": {
            "path": str(cfg.teacher.path),
            "tested": teacher.test_logits is not None,
        },
    }
