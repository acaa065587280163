"""Data sets. Importing this package registers every loader."""

from kdbench.data import cifar, cifar10_jpeg, digits, imagefolder, synthetic  # noqa: F401  (registration side effects)
from kdbench.data.base import TensorData, TensorDataModule
from kdbench.data.registry import DATA_CHECKS, DATASETS, check_data, load_data

__all__ = ["DATA_CHECKS", "DATASETS", "check_data", "TensorData", "TensorDataModule", "load_data"]
