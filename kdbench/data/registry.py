"""Data set registries: name -> loader(DataConfig) -> TensorData, and name -> check(DataConfig).

`load_data` adds what every data set shares, so loaders only read files: the
augmentation the yaml lists (`data.augment`, keyed transforms for the set's
input kind). A check is the loader's cheap first step (does `data.root` exist
and hold the data set?), run for every grid point before the first cell trains,
so a wrong path stops a sweep in one line instead of failing every cell. A data
set without one (bundled, synthetic) needs none.
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
DataCheckFn = Callable[[DataConfig], None]
DATA_CHECKS: Registry[DataCheckFn] = Registry("data set check")


def load_data(cfg: DataConfig) -> TensorData:
    data = DATASETS.get(cfg.name)(cfg)
    return replace(data, augment=build_augment(cfg.augment, data.spec.kind))


def check_data(cfg: DataConfig) -> None:
    """Raise KdbenchError (one line: the key, the value, the fix) if the data set cannot load."""
    if cfg.name in DATA_CHECKS:
        DATA_CHECKS.get(cfg.name)(cfg)
