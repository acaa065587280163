"""Data sets. Importing this package registers every loader."""

from kdbench.data import (  # noqa: F401  (registration side effects)
    cifar,
    cifar10_jpeg,
    digits,
    imagefolder,
    sst2,
    synthetic,
    textfile,
)
from kdbench.data.base import TensorData, TensorDataModule
from kdbench.data.registry import DATASETS, load_data

__all__ = ["DATASETS", "TensorData", "TensorDataModule", "load_data"]
