"""From uint8 image arrays to a `TensorData`: subsets, the validation split, statistics.

Shared by every image data set (CIFAR pickles, image folders) so subsets,
splits and normalization mean the same thing whatever the files looked like.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from kdbench.config import DataConfig
from kdbench.data.augment import channel_stats
from kdbench.data.base import SourceRows, TensorData
from kdbench.errors import ConfigError

Arrays = tuple[np.ndarray, np.ndarray]  # images (N, C, H, W) uint8, labels (N,) int


def stratified_subset(labels: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    """Indices of a class-stratified subset of `n` samples, fixed by `seed` (all if n is None)."""
    everything = np.arange(len(labels))
    if n is None or n >= len(labels):
        return everything
    counts = np.bincount(labels)
    if n < np.count_nonzero(counts):
        raise ConfigError(f"a subset of {n} cannot hold every class; use at least one per class")
    subset, _ = train_test_split(everything, train_size=n, stratify=labels, random_state=seed)
    return np.sort(subset)


def _take(arrays: Arrays, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = arrays
    return torch.from_numpy(np.ascontiguousarray(x[index])), torch.from_numpy(
        y[index].astype(np.int64)
    )


def image_data(
    cfg: DataConfig,
    train: Arrays,
    test: Arrays,
    num_classes: int,
    display_name: str,
    val: Arrays | None = None,
) -> TensorData:
    """Subset (`data.train_subset`, `data.test_subset`), split off validation, add statistics.

    The subset is taken from the official training set before validation is
    held out from it (`data.val_fraction`), unless the data set has its own
    validation split. Normalization uses the training split's statistics.
    """
    for key in ("train_subset", "test_subset"):
        value = getattr(cfg, key)
        if value is not None and value < 1:
            raise ConfigError(f"data.{key}={value} is invalid: must be >= 1 (or null for all)")
    keep = stratified_subset(train[1], cfg.train_subset, cfg.split_seed)
    if val is None:
        n_classes = np.count_nonzero(np.bincount(train[1][keep]))
        n_val = max(n_classes, round(cfg.val_fraction * len(keep)))  # one per class at least
        if len(keep) - n_val < n_classes:
            raise ConfigError(
                f"{len(keep)} training images are too few to hold out a validation split "
                f"for {n_classes} classes; use more images (data.train_subset) or add val/"
            )
        train_idx, val_idx = train_test_split(
            keep,
            test_size=n_val,
            stratify=train[1][keep],
            random_state=cfg.split_seed,
        )
        train_rows = np.sort(train_idx)
        train_split, val_split = _take(train, train_rows), _take(train, np.sort(val_idx))
    else:
        train_rows = keep
        train_split, val_split = _take(train, keep), _take(val, np.arange(len(val[1])))
    test_rows = stratified_subset(test[1], cfg.test_subset, cfg.split_seed)
    test_split = _take(test, test_rows)
    mean, std = channel_stats(train_split[0])
    return TensorData(
        train_split,
        val_split,
        test_split,
        num_classes,
        display_name,
        mean=mean,
        std=std,
        rows=SourceRows(
            torch.from_numpy(train_rows), len(train[1]), torch.from_numpy(test_rows), len(test[1])
        ),
    )
