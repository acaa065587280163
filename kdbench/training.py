"""Fit a DistillationModule and evaluate it once on the test split.

Model selection uses the validation split (or the last epoch); the test split
is touched exactly once, after training, so it never picks the checkpoint.
"""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

import lightning as L
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


def fit_and_test(
    module: DistillationModule,
    datamodule: TensorDataModule,
    epochs: int,
    trainer_cfg: TrainerConfig,
    workdir: Path,
) -> tuple[dict[str, float], dict[str, Any]]:
    """Train, pick the checkpoint (best validation top-1 or last), test once.

    Returns (test metrics in percent, training facts: epochs run, checkpoint
    selected, best validation top-1). Checkpoints live in
    `workdir/checkpoints` during the run and are removed after it.
    """
    ckpt_dir = workdir / "checkpoints"
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
    trainer.fit(module, datamodule=datamodule)
    ckpt = "best" if trainer_cfg.select == "best_val" else "last"
    (results,) = trainer.test(module, datamodule=datamodule, ckpt_path=ckpt, verbose=False)
    metrics = {k.removeprefix("test/"): 100.0 * float(v) for k, v in results.items()}
    training = {
        "epochs": trainer.current_epoch,
        "selected": ckpt,
        "best_val_top1": 100.0 * float(checkpoint.best_model_score or 0.0),
    }
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    return metrics, training
