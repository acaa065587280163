"""MNIST (LeCun, Cortes & Burges): the four original IDX files from the shared archive.

The archive (../shared/data/mnist.tar.xz, the gzip-compressed IDX files) is
checked against its published sha256, parsed with numpy (the IDX format is a
big-endian header and raw bytes, no library needed) and the decoded arrays are
cached as one .npz, so later cells load in well under a second.

Inputs are stored uint8 (N, 1, 28, 28) and scaled to [0, 1] by `prepare`
without mean/std normalization: Hinton et al. (2015) fed the MLPs raw pixel
intensities, and [0, 1] is that up to a constant factor.

The training split is the official 60,000 images minus a stratified
validation share (`data.val_fraction`); `data.val_fraction=0` keeps all 60,000
for training (as the paper did), which needs `trainer.select=last` so that
nothing but the last epoch is ever tested. The test split is the official
10,000 images.
"""

from __future__ import annotations

import gzip
import os
import tarfile
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from kdbench.config import DataConfig
from kdbench.data.archives import require_archive, verify_archive
from kdbench.data.base import TensorData, stratified_splits
from kdbench.data.imagefolder import cache_root
from kdbench.data.registry import DATA_CHECKS, DATASETS
from kdbench.errors import KdbenchError

SHA256 = "28404ebca7c49aec707a39b8b03f259a5d7c5fb8ae12cc8c1ca07efff1af4988"
DISPLAY_NAME = "MNIST"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ARCHIVE = REPO_ROOT.parent / "shared" / "data" / "mnist.tar.xz"
WHERE = (
    "set data.root=<path to mnist.tar.xz> or KDBENCH_MNIST"  # how to point kdbench at the archive
)
MEMBERS = {
    "x_train": "mnist/train-images-idx3-ubyte.gz",
    "y_train": "mnist/train-labels-idx1-ubyte.gz",
    "x_test": "mnist/t10k-images-idx3-ubyte.gz",
    "y_test": "mnist/t10k-labels-idx1-ubyte.gz",
}
_IDX_UBYTE = 0x08  # the only element type MNIST uses


def archive_path(root: str | None) -> Path:
    """`data.root`, else $KDBENCH_MNIST, else ../shared/data/ beside the repository."""
    chosen = root or os.environ.get("KDBENCH_MNIST")
    return Path(chosen).expanduser() if chosen else DEFAULT_ARCHIVE


def parse_idx(raw: bytes, name: str = "IDX file") -> np.ndarray:
    """An uncompressed IDX file of unsigned bytes -> its array.

    Layout (LeCun's MNIST page): two zero bytes, the element type (0x08 =
    unsigned byte), the number of dimensions, each dimension as a big-endian
    int32, then the elements in row-major order.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise KdbenchError(f"{name} is not an IDX file (bad magic number)")
    if raw[2] != _IDX_UBYTE:
        raise KdbenchError(f"{name} holds IDX type 0x{raw[2]:02x}, expected unsigned bytes (0x08)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise KdbenchError(f"{name} is truncated (header)")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">i4", count=ndim, offset=4))
    size = int(np.prod(shape))
    if len(raw) != header + size:
        raise KdbenchError(
            f"{name} has {len(raw) - header} data bytes, its header promises {size}: "
            "the archive is corrupt"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape).copy()


def read_archive(archive: Path) -> dict[str, np.ndarray]:
    """The four arrays of an MNIST archive: x_train (N,1,28,28) uint8, y_train int64, ..."""
    arrays = {}
    with tarfile.open(archive, "r:xz") as tar:
        for key, member in MEMBERS.items():
            try:
                f = tar.extractfile(member)
            except KeyError:
                f = None
            if f is None:
                raise KdbenchError(f"{archive} lacks {member}: not the shared MNIST archive")
            arrays[key] = parse_idx(gzip.decompress(f.read()), member)
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or len(x) != len(y):
            raise KdbenchError(f"{archive}: {split} images {x.shape} and labels {y.shape} differ")
        arrays[f"x_{split}"] = x[:, None]
        arrays[f"y_{split}"] = y.astype(np.int64)
    return arrays


def load_arrays(archive: Path, expected: str = SHA256, cache: Path | None = None) -> dict:
    """Verify the archive, then decode it once; later calls read the cached .npz."""
    verify_archive(archive, expected, DISPLAY_NAME, WHERE)
    folder = cache or cache_root()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"mnist-{expected[:12]}.npz"
    with FileLock(str(path) + ".lock"):
        if path.is_file():
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        arrays = read_archive(archive)
        partial = path.with_name(path.name + ".partial.npz")
        np.savez(partial, **arrays)
        os.replace(partial, path)
    return arrays


@DATASETS.register("mnist")
def mnist(cfg: DataConfig) -> TensorData:
    a = load_arrays(archive_path(cfg.root))
    x, y = a["x_train"], a["y_train"]
    # val_fraction=0: all 60,000 for training (Hinton et al.); selection is the last epoch
    train, val = stratified_splits(x, y, (cfg.val_fraction,), cfg.split_seed)
    as_tensors = lambda s: (torch.from_numpy(s[0]), torch.from_numpy(s[1]))  # noqa: E731
    test = (a["x_test"], a["y_test"])
    return TensorData(as_tensors(train), as_tensors(val), as_tensors(test), 10, DISPLAY_NAME)


@DATA_CHECKS.register("mnist")
def check_mnist(cfg: DataConfig) -> None:
    """The archive is there (its sha256 is checked by the loader)."""
    require_archive(archive_path(cfg.root), DISPLAY_NAME, WHERE)
