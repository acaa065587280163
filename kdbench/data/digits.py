"""scikit-learn's bundled 8x8 digits: 1,797 images, 10 classes, no download."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits

from kdbench.config import DataConfig
from kdbench.data.base import TensorData, stratified_splits
from kdbench.data.registry import DATASETS


@DATASETS.register("digits")
def digits(cfg: DataConfig) -> TensorData:
    bunch = load_digits()
    x = (bunch.images / 16.0).astype(np.float32)[:, None]  # (N, 1, 8, 8) in [0, 1]
    y = bunch.target.astype(np.int64)
    (train, val, test) = stratified_splits(
        x, y, (cfg.val_fraction * (1 - cfg.test_fraction), cfg.test_fraction), cfg.split_seed
    )
    as_tensors = lambda s: (torch.from_numpy(s[0]), torch.from_numpy(s[1]))  # noqa: E731
    return TensorData(as_tensors(train), as_tensors(val), as_tensors(test), 10, "digits (8x8)")
