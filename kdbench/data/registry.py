"""Data set registry: name -> loader(DataConfig) -> TensorData."""

from __future__ import annotations

from collections.abc import Callable

from kdbench.config import DataConfig
from kdbench.data.base import TensorData
from kdbench.registry import Registry

DataLoaderFn = Callable[[DataConfig], TensorData]
DATASETS: Registry[DataLoaderFn] = Registry("data set")


def load_data(cfg: DataConfig) -> TensorData:
    return DATASETS.get(cfg.name)(cfg)
