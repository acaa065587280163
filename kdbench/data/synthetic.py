"""Synthetic images for tests: one random prototype per class plus noise.

Learnable in a few steps, any shape and class count, generated in milliseconds.
"""

from __future__ import annotations

import torch

from kdbench.config import DataConfig
from kdbench.data.base import TensorData
from kdbench.data.registry import DATASETS


@DATASETS.register("synthetic")
def synthetic(cfg: DataConfig) -> TensorData:
    g = torch.Generator().manual_seed(cfg.split_seed)
    shape = (cfg.channels, cfg.image_size, cfg.image_size)
    prototypes = torch.rand(cfg.num_classes, *shape, generator=g)

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % cfg.num_classes
        x = prototypes[y] + 0.3 * torch.randn(n, *shape, generator=g)
        return x, y

    n_val = max(cfg.num_classes, int(cfg.num_samples * cfg.val_fraction))
    n_test = max(cfg.num_classes, int(cfg.num_samples * cfg.test_fraction))
    return TensorData(
        sample(cfg.num_samples - n_val - n_test),
        sample(n_val),
        sample(n_test),
        cfg.num_classes,
        f"synthetic ({cfg.num_classes} classes)",
    )
