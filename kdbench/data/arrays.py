"""`data=arrays data.path=FILE.npz`: a user's own windows of sensor data (or any frames).

Keys: `x` float [N, T, C] (N windows of T steps of C channels), `y` int [N] labels in
[0, K); optional `x_test` / `y_test` (else a stratified `data.test_fraction` is drawn)
and `classes` (K names). Read with `allow_pickle=False`. Each channel is normalized
with the training split's mean and std. Every problem (a missing key, a wrong ndim,
mismatched lengths, NaN/Inf, labels outside [0, K)) is one line naming the key and
the fix.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from kdbench.config import DataConfig
from kdbench.data.base import TensorData
from kdbench.data.registry import DATA_CHECKS, DATASETS
from kdbench.data.sequences import hold_out, sequence_data
from kdbench.errors import DataError, KdbenchError

FIX = "save it with np.savez(FILE, x=<float [N, T, C]>, y=<int [N]>)"


def _frames(f: dict[str, np.ndarray], key: str, path: Path) -> np.ndarray:
    x = f[key]
    if x.ndim != 3:
        hint = " (x[..., None] for one channel)" if x.ndim == 2 else ""
        raise DataError(f"{path}: {key} has shape {x.shape}, need [N, T, C]{hint}; {FIX}")
    if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
        raise DataError(f"{path}: {key} has dtype {x.dtype}, need float; {FIX}")
    x = x.astype(np.float32)
    bad = ~np.isfinite(x)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DataError(
            f"{path}: {key} holds {int(bad.sum())} NaN/Inf values (first at {key}{list(first)}); "
            "fill or drop those windows before saving"
        )
    return x


def _labels(f: dict[str, np.ndarray], key: str, n: int, xkey: str, path: Path) -> np.ndarray:
    y = f[key]
    if y.ndim != 1 or len(y) != n:
        raise DataError(
            f"{path}: {key} has shape {y.shape} but {xkey} has {n} windows; "
            f"give one label per window of {xkey}"
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: {key} has dtype {y.dtype}, need integer class ids 0..K-1")
    return y.astype(np.int64)


def read_arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise KdbenchError(f"data.path={path} is not a file; {FIX}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            f = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path}: cannot read as .npz ({exc}); {FIX}") from None
    for key in ("x", "y"):
        if key not in f:
            raise DataError(f"{path} has no '{key}' array (has: {', '.join(f) or 'none'}); {FIX}")
    if ("x_test" in f) != ("y_test" in f):
        raise DataError(f"{path}: give both x_test and y_test, or neither")
    return f


def _path(cfg: DataConfig) -> Path:
    if not cfg.path:
        raise KdbenchError(f"data.path is not set for arrays; set data.path=FILE.npz ({FIX})")
    return Path(cfg.path).expanduser()


@DATA_CHECKS.register("arrays")
def check_arrays(cfg: DataConfig) -> None:
    """The file is an npz with `x` and `y` (values are checked by the loader)."""
    read_arrays(_path(cfg))


@DATASETS.register("arrays")
def arrays(cfg: DataConfig) -> TensorData:
    path = _path(cfg)
    f = read_arrays(path)
    x = _frames(f, "x", path)
    y = _labels(f, "y", len(x), "x", path)
    test = None
    if "x_test" in f:
        xt = _frames(f, "x_test", path)
        if xt.shape[1:] != x.shape[1:]:
            raise DataError(
                f"{path}: x_test windows are {xt.shape[1:]} but x windows {x.shape[1:]}; "
                "cut both to the same [T, C]"
            )
        test = (xt, _labels(f, "y_test", len(xt), "x_test", path))
    classes = [str(c) for c in f["classes"]] if "classes" in f else None
    k = len(classes) if classes is not None else int(y.max()) + 1
    for key, labels in (("y", y), ("y_test", test[1] if test else y)):
        if labels.min() < 0 or labels.max() >= k:
            raise DataError(
                f"{path}: {key} holds labels outside [0, {k}) "
                f"({'classes has ' + str(k) + ' names' if classes else 'from max(y)'}); "
                "use class ids 0..K-1"
            )
    if k < 2 or len(np.unique(y)) < 2:
        raise DataError(f"{path}: y holds a single class; classification needs 2 or more")
    if cfg.num_classes is not None and cfg.num_classes != k:
        raise KdbenchError(
            f"{path} has {k} classes but data.num_classes={cfg.num_classes}; "
            f"set data.num_classes={k} (or null)"
        )
    if test is None:
        (x, y), test = hold_out(x, y, cfg.test_fraction, cfg.split_seed, "test")
    name = f"arrays {path.stem} ({x.shape[1]}x{x.shape[2]})"
    return sequence_data(cfg, (x, y), test, k, name, classes)
