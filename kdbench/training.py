"""Fit a DistillationModule and evaluate it once on the test split.

Model selection uses the validation split (or the last epoch); the test split
is touched exactly once, after training, so it never picks the checkpoint, and
not at all when `trainer.test` is off (a tuning trial).
"""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from kdbench.config import TrainerConfig
from kdbench.data import TensorDataModule
from kdbench.module import DistillationModule

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


def fit_and_test(
    module: DistillationModule,
    datamodule: TensorDataModule,
    epochs: int,
    trainer_cfg: TrainerConfig,
    workdir: Path,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Train, pick the checkpoint (best validation top-1 or last), test once.

    Returns (test metrics in percent, training facts: epochs run, checkpoint
    selected, best validation top-1, the epoch of the checkpoint it resumed
    from, if any, and whether it was tested). With `trainer.test` off (tuning)
    the test metrics are empty and the test split is never read. Checkpoints live in `workdir/checkpoints` during the run
    (`last.ckpt` every epoch) and are removed after it; a run that finds a
    `last.ckpt` there (it was killed or failed) continues from it.
    """
    ckpt_dir = workdir / "checkpoints"
    resume_from, resumed_epoch = resume_checkpoint(ckpt_dir)
    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir, monitor="val/top1", mode="max", save_top_k=1, save_last=True
    )
    trainer = L.Trainer(
        accelerator=trainer_cfg.accelerator,
        devices=trainer_cfg.devices,
        precision=trainer_cfg.precision,
        max_epochs=effective_epochs(epochs, trainer_cfg),
        limit_train_batches=trainer_cfg.limit_train_batches,
        limit_val_batches=trainer_cfg.limit_val_batches,
        callbacks=[checkpoint],
        logger=False,
        enable_progress_bar=False,
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
    training = {
        "epochs": trainer.current_epoch,
        "selected": ckpt,
        "best_val_top1": 100.0 * float(checkpoint.best_model_score or 0.0),
        "resumed_from_epoch": resumed_epoch,
        "tested": trainer_cfg.test,
    }
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return metrics, training
