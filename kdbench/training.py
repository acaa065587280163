"""Fit a DistillationModule and evaluate it once on the test split.

Model selection uses the validation split (or the last epoch); the test split
is touched exactly once, after training, so it never picks the checkpoint, and
not at all when `trainer.test` is off (a tuning trial).
Every run keeps its learning curve (`metrics.csv`, from Lightning's CSVLogger)
and shows its progress (kdbench.progress).
"""

from __future__ import annotations

import logging
import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger

from kdbench.config import TrainerConfig
from kdbench.curves import METRICS_CSV, write_metrics_csv
from kdbench.data import TensorDataModule
from kdbench.module import DistillationModule
from kdbench.progress import progress_callbacks

for _name in ("lightning.pytorch", "lightning.fabric", "lightning"):
    logging.getLogger(_name).setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
warnings.filterwarnings("ignore", message=r".*number of training batches.*")
warnings.filterwarnings("ignore", message=r".*`isinstance\(treespec, LeafSpec\)`.*")


def effective_epochs(epochs: int, trainer_cfg: TrainerConfig) -> int:
    cap = trainer_cfg.max_epochs_cap
    return min(epochs, cap) if cap else epochs


def resume_checkpoint(ckpt_dir: Path) -> tuple[str | None, int | None]:
    """`last.ckpt` of an interrupted run and its epoch, or (None, None) to start over.

    The file is opened with `weights_only=True` first: a checkpoint that a kill
    cut short (or that is not a plain checkpoint) is deleted with a warning and
    the cell starts over, instead of failing on every rerun.
    """
    last = ckpt_dir / "last.ckpt"
    if not last.is_file():
        return None, None
    try:
        state = torch.load(last, map_location="cpu", weights_only=True)
        epoch = int(state["epoch"])
    except Exception as exc:  # noqa: BLE001 - any unreadable checkpoint means start over
        warnings.warn(
            f"checkpoint {last} is unreadable ({type(exc).__name__}); starting this run over",
            stacklevel=2,
        )
        shutil.rmtree(ckpt_dir, ignore_errors=True)
        return None, None
    return str(last), epoch


class LogLearningRate(Callback):
    """Logs the learning rate at the start of every epoch (a `metrics.csv` column).

    Logged through the module, not with LearningRateMonitor: that one writes
    rows without an epoch, which the per-epoch file could not place.
    """

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.optimizers:
            lr = float(trainer.optimizers[0].param_groups[0]["lr"])
            pl_module.log("lr", lr, on_step=False, on_epoch=True)


def fit_and_test(
    module: DistillationModule,
    datamodule: TensorDataModule,
    epochs: int,
    trainer_cfg: TrainerConfig,
    workdir: Path,
    *,
    label: str = "",
    progress: str = "auto",
    loggers: Sequence[Logger] = (),
) -> tuple[dict[str, float], dict[str, Any]]:
    """Train, pick the checkpoint (best validation top-1 or last), test once.

    Returns (test metrics in percent, training facts: epochs run, checkpoint
    selected, best validation top-1, the epoch of the checkpoint it resumed
    from, if any, and whether it was tested). With `trainer.test` off (tuning)
    the test metrics are empty and the test split is never read; the module
    still ends with the selected checkpoint's weights. Checkpoints live in
    `workdir/checkpoints` during the run (`last.ckpt` every epoch) and are removed after it; a run that finds a
    `last.ckpt` there (it was killed or failed) continues from it. The curves
    go to `workdir/metrics.csv` (one row per epoch, a resumed run included);
    `label` names the run in its progress (mode `progress`, see
    kdbench.progress); `loggers` are extra trackers (kdbench.trackers).
    """
    ckpt_dir = workdir / "checkpoints"
    log_dir = workdir / "logs"  # Lightning's raw CSV rows, merged into metrics.csv at the end
    resume_from, resumed_epoch = resume_checkpoint(ckpt_dir)
    if resume_from is None:
        shutil.rmtree(log_dir, ignore_errors=True)  # rows of a run that starts over are stale
    # No validation split (data.val_fraction=0, validated to go with select=last): no
    # validation loop and nothing monitored; the last epoch is what is tested.
    has_val = len(datamodule.data.val[1]) > 0
    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir,
        monitor="val/top1" if has_val else None,
        mode="max",
        save_top_k=1,
        save_last=True,
    )
    shown, bar = progress_callbacks(progress, label)
    trainer = L.Trainer(
        accelerator=trainer_cfg.accelerator,
        devices=trainer_cfg.devices,
        precision=trainer_cfg.precision,
        max_epochs=effective_epochs(epochs, trainer_cfg),
        limit_train_batches=trainer_cfg.limit_train_batches,
        limit_val_batches=trainer_cfg.limit_val_batches if has_val else 0,
        callbacks=[checkpoint, LogLearningRate(), *shown],
        logger=[CSVLogger(str(log_dir), name=""), *loggers],
        enable_progress_bar=bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(workdir),
    )
    module.apply_speed_options(trainer_cfg.channels_last, trainer_cfg.compile)
    with warnings.catch_warnings():  # resuming into a non-empty checkpoint folder is the point
        warnings.filterwarnings("ignore", message=r".*Checkpoint directory .* exists and is not")
        trainer.fit(module, datamodule=datamodule, ckpt_path=resume_from, weights_only=True)
    ckpt = "best" if trainer_cfg.select == "best_val" else "last"
    metrics: dict[str, float] = {}
    if trainer_cfg.test:  # off while tuning: the test split is then never read
        (results,) = trainer.test(
            module, datamodule=datamodule, ckpt_path=ckpt, verbose=False, weights_only=True
        )
        metrics = {k.removeprefix("test/"): 100.0 * float(v) for k, v in results.items()}
        metrics.update(module.test_counts)  # error counts: numbers of samples, not percent
    elif ckpt == "best" and checkpoint.best_model_path:
        # trainer.test would have loaded the selected weights; do it without the test split,
        # so the module (and a kept student.pt) is the checkpoint validation chose.
        state = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
        module.load_state_dict(state["state_dict"])
    training = {
        "epochs": trainer.current_epoch,
        "selected": ckpt,
        "best_val_top1": 100.0 * float(checkpoint.best_model_score or 0.0) if has_val else None,
        "resumed_from_epoch": resumed_epoch,
        "tested": trainer_cfg.test,
    }
    write_metrics_csv(log_dir, workdir / METRICS_CSV)
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    shutil.rmtree(log_dir, ignore_errors=True)
    return metrics, training
