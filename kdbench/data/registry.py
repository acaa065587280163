"""Data set registry: name -> loader(DataConfig) -> TensorData.

`load_data` adds what every data set shares, so loaders only read files: the
augmentation the yaml lists (`data.augment`, keyed transforms for the set's
input kind).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from kdbench.config import DataConfig
from kdbench.data.augment import build_augment
from kdbench.data.base import TensorData
from kdbench.registry import Registry

DataLoaderFn = Callable[[DataConfig], TensorData]
DATASETS: Registry[DataLoaderFn] = Registry("data set")


def load_data(cfg: DataConfig) -> TensorData:
    data = DATASETS.get(cfg.name)(cfg)
    return replace(data, augment=build_augment(cfg.augment, data.spec.kind))
