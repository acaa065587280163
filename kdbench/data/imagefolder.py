"""Image folders (`train/<class>/*`, `test/<class>/*`, optional `val/<class>/*`).

Decoding tens of thousands of small files costs seconds to minutes, so images
are decoded once (Pillow), resized to `data.image_size`, and cached as uint8
arrays. The cache key is the folder's absolute path, the decode settings and
every file's name, size and mtime: touching or adding a file invalidates it.
Files that are not images, or are corrupt, are skipped and counted.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
from filelock import FileLock

from kdbench.config import DataConfig
from kdbench.data.base import TensorData, check_class_count
from kdbench.data.images import image_data
from kdbench.data.registry import DATA_CHECKS, DATASETS
from kdbench.errors import KdbenchError
from kdbench.fileio import write_atomic

CACHE_VERSION = 1
SPLITS = ("train", "val", "test")
_MODES = {1: "L", 3: "RGB"}


def cache_root() -> Path:
    """Where decoded arrays and unpacked archives go: $KDBENCH_CACHE or ./.cache/kdbench."""
    return Path(os.environ.get("KDBENCH_CACHE", ".cache/kdbench")).expanduser()


def _files(folder: Path, root: Path) -> list[tuple[str, str]]:
    """(class name, path relative to root) of every file under folder/<class>/, sorted."""
    out = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        for f in sorted(class_dir.rglob("*")):
            if f.is_file() and not f.name.startswith("."):
                out.append((class_dir.name, str(f.relative_to(root))))
    return out


FOLDER_FIX = "point data.root at a folder with train/<class>/* and test/<class>/*"


def check_folder(root: Path) -> None:
    """The cheap part of `scan`: root is a folder with train/ and test/ holding a class folder."""
    if not root.exists():
        raise KdbenchError(f"data.root={root} does not exist; {FOLDER_FIX}")
    if not root.is_dir():
        raise KdbenchError(f"data.root={root} is not a folder; {FOLDER_FIX}")
    for split in ("train", "test"):
        folder = root / split
        if not folder.is_dir() or not any(p.is_dir() for p in folder.iterdir()):
            raise KdbenchError(f"{folder} is missing or has no class folders; {FOLDER_FIX}")


def scan(root: Path) -> dict[str, list[tuple[str, str]]]:
    """The files of each split present; raises KdbenchError naming the path and the fix."""
    fix = FOLDER_FIX
    if not root.exists():
        raise KdbenchError(f"data.root={root} does not exist; {fix}")
    if not root.is_dir():
        raise KdbenchError(f"data.root={root} is not a folder; {fix}")
    splits: dict[str, list[tuple[str, str]]] = {}
    try:
        for split in SPLITS:
            if (root / split).is_dir():
                splits[split] = _files(root / split, root)
    except PermissionError as exc:
        raise KdbenchError(f"cannot read {exc.filename}; fix its permissions") from None
    for split in ("train", "test"):
        if not splits.get(split):
            raise KdbenchError(
                f"{root / split} is missing or has no class folders with files; {fix}"
            )
    return splits


def cache_key(
    root: Path, splits: dict[str, list[tuple[str, str]]], size: int, channels: int
) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([CACHE_VERSION, str(root.resolve()), size, channels]).encode())
    for split, files in splits.items():
        for cls, rel in files:
            st = (root / rel).stat()
            h.update(f"{split}\0{cls}\0{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def decode_image(path: Path, size: int, channels: int) -> np.ndarray | None:
    """One file -> uint8 (C, size, size), or None if it is not a readable image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert(_MODES[channels])
            if img.size != (size, size):
                img = img.resize((size, size), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)


def _decode_split(
    root: Path, files: list[tuple[str, str]], classes: list[str], size: int, channels: int
) -> tuple[np.ndarray, np.ndarray, int]:
    index = {c: i for i, c in enumerate(classes)}
    images, labels, skipped = [], [], 0
    for cls, rel in files:
        arr = decode_image(root / rel, size, channels)
        if arr is None:
            skipped += 1
            continue
        images.append(arr)
        labels.append(index[cls])
    x = np.stack(images) if images else np.zeros((0, channels, size, size), np.uint8)
    return x, np.asarray(labels, dtype=np.int64), skipped


def decode_folder(root: Path, size: int, channels: int, cache_dir: Path | None = None) -> dict:
    """Decoded arrays of every split (`x_<split>`, `y_<split>`), `classes`, `skipped`.

    Read from the cache when the key matches, else decoded and cached.
    """
    if channels not in _MODES:
        raise KdbenchError(f"data.channels={channels} is invalid for image folders: use 1 or 3")
    splits = scan(root)
    classes = sorted({cls for cls, _ in splits["train"]})
    for split, files in splits.items():
        unknown = sorted({cls for cls, _ in files} - set(classes))
        if unknown:
            raise KdbenchError(
                f"{root / split} has classes not in train/: {', '.join(unknown)}; "
                "give every split the same class folders"
            )
    cache_dir = cache_dir or cache_root() / "imagefolder"
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"{cache_key(root, splits, size, channels)[:24]}.npz"
    with FileLock(str(path) + ".lock"):
        if path.is_file():
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        arrays: dict = {"classes": np.asarray(classes), "skipped": np.int64(0)}
        for split, files in splits.items():
            x, y, skipped = _decode_split(root, files, classes, size, channels)
            if len(y) == 0:
                raise KdbenchError(
                    f"{root / split} has no readable images ({skipped} files skipped); "
                    "add image files (PNG, JPEG, ...) under its class folders"
                )
            arrays[f"x_{split}"], arrays[f"y_{split}"] = x, y
            arrays["skipped"] += skipped
        write_atomic(path, lambda f: np.savez(f, **arrays))
    return arrays


def load_image_folder(cfg: DataConfig, root: Path, display_name: str) -> TensorData:
    arrays = decode_folder(root, cfg.image_size, cfg.channels)
    classes = [str(c) for c in arrays["classes"]]
    if int(arrays["skipped"]):
        warnings.warn(
            f"{int(arrays['skipped'])} files under {root} were skipped (not images or corrupt)",
            stacklevel=2,
        )
    check_class_count(root / "train", len(classes), cfg.num_classes)

    def split(name: str) -> tuple[np.ndarray, np.ndarray] | None:
        return (arrays[f"x_{name}"], arrays[f"y_{name}"]) if f"x_{name}" in arrays else None

    return image_data(
        cfg, split("train"), split("test"), len(classes), display_name, val=split("val")
    )


def _root(cfg: DataConfig) -> Path:
    if not cfg.root:
        raise KdbenchError(
            "data.root is not set for imagefolder; set data.root=<folder with train/ and test/>"
        )
    return Path(cfg.root).expanduser()


@DATASETS.register("imagefolder")
def imagefolder(cfg: DataConfig) -> TensorData:
    root = _root(cfg)
    return load_image_folder(cfg, root, f"image folder {root.name}")


@DATA_CHECKS.register("imagefolder")
def check_imagefolder(cfg: DataConfig) -> None:
    try:
        check_folder(_root(cfg))
    except PermissionError as exc:
        raise KdbenchError(f"cannot read {exc.filename}; fix its permissions") from None
