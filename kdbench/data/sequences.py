"""From float frame arrays [N, T, F] to a `TensorData` of kind "sequence".

Shared by every sequence data set (FSDD, audio folders, sensor arrays) so the
validation split and the normalization mean the same thing whatever the files
were: validation is drawn stratified from the training split (`data.val_fraction`,
fixed by `data.split_seed`); each feature (MFCC coefficient, sensor channel) is
normalized with the training split's mean and std, along the last axis.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from kdbench.config import DataConfig
from kdbench.data.augment import channel_stats
from kdbench.data.base import TensorData
from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec

Arrays = tuple[np.ndarray, np.ndarray]  # frames (N, T, F) float, labels (N,) int


def _tensors(x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return (
        torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)),
        torch.from_numpy(np.asarray(y, dtype=np.int64)),
    )


def hold_out(
    x: np.ndarray, y: np.ndarray, fraction: float, seed: int, what: str
) -> tuple[Arrays, Arrays]:
    """(rest, held out): a stratified share `fraction` of (x, y), at least one per class."""
    n_classes = np.count_nonzero(np.bincount(y))
    n_out = max(n_classes, round(fraction * len(y)))
    if len(y) - n_out < n_classes or np.bincount(y)[np.bincount(y) > 0].min() < 2:
        raise ConfigError(
            f"{len(y)} training samples are too few to hold out a {what} split for "
            f"{n_classes} classes (every class needs 2 or more); add samples"
        )
    rest, out = train_test_split(np.arange(len(y)), test_size=n_out, stratify=y, random_state=seed)
    rest, out = np.sort(rest), np.sort(out)
    return (x[rest], y[rest]), (x[out], y[out])


def sequence_data(
    cfg: DataConfig,
    train: Arrays,
    test: Arrays,
    num_classes: int,
    display_name: str,
    classes: list[str] | None = None,
) -> TensorData:
    """Hold out validation from `train`, add per-feature statistics, describe the input."""
    (train_x, train_y), (val_x, val_y) = hold_out(
        train[0], train[1], cfg.val_fraction, cfg.split_seed, "validation"
    )
    train_split = _tensors(train_x, train_y)
    mean, std = channel_stats(train_split[0], axis=-1)
    return TensorData(
        train_split,
        _tensors(val_x, val_y),
        _tensors(*test),
        num_classes,
        display_name,
        mean=mean,
        std=std,
        spec=InputSpec("sequence", tuple(train_x.shape[1:])),
        classes=classes,
    )
