"""CIFAR-10 and CIFAR-100 from the official python batches, read without running code.

`data.root` is the folder holding the batches (`cifar-10-batches-py/` or
`cifar-100-python/`, as unpacked from the official archives) or its parent.
The files are pickles, so they go through `safe_pickle` (plain data only).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from kdbench.config import DataConfig
from kdbench.data.base import TensorData
from kdbench.data.images import image_data
from kdbench.data.registry import DATA_CHECKS, DATASETS
from kdbench.data.safe_pickle import safe_load
from kdbench.errors import KdbenchError


@dataclass(frozen=True)
class CifarLayout:
    display_name: str
    folder: str  # the folder name inside the official archive
    train_files: tuple[str, ...]
    test_file: str
    label_key: str
    num_classes: int


CIFAR10 = CifarLayout(
    "CIFAR-10",
    "cifar-10-batches-py",
    tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test_batch",
    "labels",
    10,
)
CIFAR100 = CifarLayout("CIFAR-100", "cifar-100-python", ("train",), "test", "fine_labels", 100)


def _text_keys(obj: dict[Any, Any]) -> dict[str, Any]:
    """Python 2 pickles have bytes keys (b"data"); Python 3 ones have str keys."""
    return {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def find_batches(root: str | None, layout: CifarLayout) -> Path:
    """The folder holding the batches: `root` itself or `root/<official folder name>`."""
    fix = (
        f"download the python version of {layout.display_name}, unpack it and set "
        f"data.root=<folder containing {layout.folder}>"
    )
    if not root:
        raise KdbenchError(f"data.root is not set for {layout.display_name}; {fix}")
    base = Path(root).expanduser()
    for candidate in (base, base / layout.folder):
        if all((candidate / f).is_file() for f in (*layout.train_files, layout.test_file)):
            return candidate
    missing = ", ".join(layout.train_files + (layout.test_file,))
    raise KdbenchError(f"data.root={base} does not hold {missing}; {fix}")


def read_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> images (N, 3, 32, 32) uint8 and labels (N,) int64."""
    obj = safe_load(path)
    if not isinstance(obj, dict):
        raise KdbenchError(f"{path} is not a CIFAR batch (a {type(obj).__name__}, not a dict)")
    batch = _text_keys(obj)
    if "data" not in batch or label_key not in batch:
        raise KdbenchError(
            f"{path} is not a CIFAR batch: it lacks 'data' or {label_key!r} "
            f"(keys: {', '.join(map(str, batch))}); point data.root at the unpacked archive"
        )
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise KdbenchError(
            f"{path}: expected data of shape (N, 3072) with N labels, got {data.shape} "
            f"and {len(labels)} labels; point data.root at the unpacked archive"
        )
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar(cfg: DataConfig, layout: CifarLayout) -> TensorData:
    folder = find_batches(cfg.root, layout)
    parts = [read_batch(folder / f, layout.label_key) for f in layout.train_files]
    train = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    test = read_batch(folder / layout.test_file, layout.label_key)
    for name, labels in (("train", train[1]), ("test", test[1])):
        if labels.min() < 0 or labels.max() >= layout.num_classes:
            raise KdbenchError(
                f"{folder}: {name} labels outside 0..{layout.num_classes - 1}; "
                f"is this {layout.display_name}?"
            )
    return image_data(cfg, train, test, layout.num_classes, layout.display_name)


@DATASETS.register("cifar10")
def cifar10(cfg: DataConfig) -> TensorData:
    return load_cifar(cfg, CIFAR10)


@DATASETS.register("cifar100")
def cifar100(cfg: DataConfig) -> TensorData:
    return load_cifar(cfg, CIFAR100)


@DATA_CHECKS.register("cifar10")
def check_cifar10(cfg: DataConfig) -> None:
    find_batches(cfg.root, CIFAR10)  # file existence only: cheap enough for every grid point


@DATA_CHECKS.register("cifar100")
def check_cifar100(cfg: DataConfig) -> None:
    find_batches(cfg.root, CIFAR100)
