"""Data sets. Importing this package registers every loader."""

from kdbench.data import cifar, cifar10_jpeg, digits, imagefolder, mnist, synthetic  # noqa: F401  (registration side effects)
from kdbench.data.base import TensorData, TensorDataModule
from kdbench.data.registry import DATASETS, load_data

__all__ = ["DATASETS", "TensorData", "TensorDataModule", "load_data"]
