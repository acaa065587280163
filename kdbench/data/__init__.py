"""Data sets. Importing this package registers every loader."""

from kdbench.data import (  # noqa: F401  (registration side effects)
    arrays,
    audiofolder,
    cifar,
    cifar10_jpeg,
    digits,
    fsdd,
    imagefolder,
    mnist,
    sst2,
    synthetic,
    textfile,
)
from kdbench.data.audio import augment as _audio_augment  # noqa: F401  (time_shift, noise)
from kdbench.data.base import TensorData, TensorDataModule
from kdbench.data.registry import DATA_CHECKS, DATASETS, check_data, load_data

__all__ = ["DATA_CHECKS", "DATASETS", "check_data", "TensorData", "TensorDataModule", "load_data"]
