"""CIFAR python batches: read through the restricted unpickler, never run code from data."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from kdbench.config import DataConfig
from kdbench.data import load_data
from kdbench.data.safe_pickle import UnsafePickleError, safe_load
from kdbench.errors import KdbenchError

PER_BATCH = 20


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def write_cifar10(folder: Path, protocol: int = 2) -> dict[str, tuple[np.ndarray, list[int]]]:
    """The official layout: bytes keys (as Python 2 wrote them), uint8 (N, 3072), label lists."""
    folder.mkdir(parents=True)
    written = {}
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        data = _images(PER_BATCH, i)
        labels = [(j + i) % 10 for j in range(PER_BATCH)]
        batch = {
            b"batch_label": f"batch {i}".encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"img_{i}_{j}.png".encode() for j in range(PER_BATCH)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=protocol))
        written[name] = (data, labels)
    (folder / "batches.meta").write_bytes(
        pickle.dumps({b"label_names": [b"airplane"] * 10, b"num_vis": 3072}, protocol=protocol)
    )
    return written


def test_safe_load_reads_arrays_lists_and_bytes(tmp_path):
    obj = {
        b"data": np.arange(12, dtype=np.uint8).reshape(3, 4),
        "f": np.linspace(0, 1, 5, dtype=np.float32),
        "labels": [1, 2, 3],
        "name": "x",
        "raw": b"\x00\xff",
        "nested": {"t": (1, 2.5, None, True)},
    }
    for protocol in (2, 4, 5):
        path = tmp_path / f"p{protocol}.pkl"
        path.write_bytes(pickle.dumps(obj, protocol=protocol))
        back = safe_load(path)
        assert np.array_equal(back[b"data"], obj[b"data"]) and back[b"data"].dtype == np.uint8
        assert np.array_equal(back["f"], obj["f"]) and back["f"].dtype == np.float32
        assert back["labels"] == [1, 2, 3] and back["raw"] == b"\x00\xff"
        assert back["nested"] == {"t": (1, 2.5, None, True)}


class _RunsCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_does_not_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": _RunsCommand(marker)}, protocol=2))
    with pytest.raises(
        UnsafePickleError,
        match=r"refusing to load .*data_batch_1: global (posix|os)\.system is not allowed",
    ):
        safe_load(path)
    assert not marker.exists()
    pickle.loads(path.read_bytes())  # the same bytes do run a command with plain pickle
    assert marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        np.array([object()], dtype=object),  # object arrays carry arbitrary objects
        {"f": print},  # a builtin callable
        {"p": Path("/tmp")},  # any other class
    ],
    ids=["object-array", "builtin", "class"],
)
def test_other_globals_are_refused(tmp_path, payload):
    path = tmp_path / "x.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=2))
    with pytest.raises(UnsafePickleError, match="is not allowed|not plain data"):
        safe_load(path)


def test_cifar10_loader_shapes_labels_dtype(tmp_path):
    written = write_cifar10(tmp_path / "cifar-10-batches-py")
    cfg = DataConfig(name="cifar10", root=str(tmp_path), val_fraction=0.2, channels=3)
    data = load_data(cfg)
    assert data.display_name == "CIFAR-10" and data.num_classes == 10
    n_train = 5 * PER_BATCH
    assert len(data.train[1]) + len(data.val[1]) == n_train and len(data.val[1]) == 20
    assert data.train[0].dtype == torch.uint8 and data.train[0].shape[1:] == (3, 32, 32)
    assert data.test[1].dtype == torch.int64
    test_x, test_labels = written["test_batch"]
    assert torch.equal(data.test[0], torch.from_numpy(test_x.reshape(-1, 3, 32, 32)))
    assert data.test[1].tolist() == test_labels
    # every training image keeps its own label
    all_x = np.concatenate([written[f"data_batch_{k}"][0] for k in range(1, 6)])
    all_y = sum((written[f"data_batch_{k}"][1] for k in range(1, 6)), [])
    lookup = {row.tobytes(): label for row, label in zip(all_x, all_y)}
    for img, label in zip(data.train[0], data.train[1]):
        assert lookup[img.numpy().reshape(-1).tobytes()] == int(label)
    # statistics of the training split, on the [0, 1] scale
    expected_mean = data.train[0].double().div(255).mean(dim=(0, 2, 3))
    assert torch.allclose(torch.tensor(data.mean, dtype=torch.float64), expected_mean)
    x = data.prepare(data.test[0][:4])
    assert x.dtype == torch.float32 and x.shape == (4, 3, 32, 32)


def test_cifar100_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name, n in (("train", 200), ("test", 100)):
        batch = {
            b"data": _images(n, n),
            b"fine_labels": [j % 100 for j in range(n)],
            b"coarse_labels": [j % 20 for j in range(n)],
        }
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / "meta").write_bytes(pickle.dumps({b"fine_label_names": [b"x"] * 100}))
    data = load_data(DataConfig(name="cifar100", root=str(folder), val_fraction=0.5, channels=3))
    assert data.num_classes == 100 and data.display_name == "CIFAR-100"
    assert sorted(data.test[1].tolist()) == list(range(100))


def test_cifar_subsets_are_stratified_and_fixed(tmp_path):
    write_cifar10(tmp_path / "c")
    cfg = DataConfig(
        name="cifar10", root=str(tmp_path / "c"), train_subset=50, test_subset=10, val_fraction=0.2
    )
    a, b = load_data(cfg), load_data(cfg)
    assert len(a.train[1]) + len(a.val[1]) == 50 and len(a.test[1]) == 10
    assert torch.equal(a.train[0], b.train[0]) and torch.equal(a.test[1], b.test[1])
    assert torch.bincount(torch.cat([a.train[1], a.val[1]]), minlength=10).tolist() == [5] * 10
    assert sorted(a.test[1].tolist()) == list(range(10))


def test_cifar_missing_root_names_the_path_and_the_fix(tmp_path):
    with pytest.raises(KdbenchError, match="data.root is not set for CIFAR-10; download"):
        load_data(DataConfig(name="cifar10"))
    with pytest.raises(
        KdbenchError, match=rf"data.root={tmp_path} does not hold data_batch_1.*set data.root="
    ):
        load_data(DataConfig(name="cifar10", root=str(tmp_path)))
