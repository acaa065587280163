"""A logits file aligned with a data set's splits, and written from a model kdbench runs.

The file format and why: kdbench/models/precomputed.py. Alignment uses the data's
`SourceRows`: row i of the file is the i-th sample of the ORIGINAL training file
(or the row named by `ids`), so kdbench picks the rows of the samples a cell
trains on, whatever subset and validation split it draws.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from kdbench.data.base import TensorData
from kdbench.errors import KdbenchError
from kdbench.models.precomputed import FIX, PrecomputedTeacher, read_logits_file


def _pick(
    logits: np.ndarray, ids: np.ndarray | None, rows: torch.Tensor, size: int, what: str, path: str
) -> torch.Tensor:
    """The logits of `rows` (rows of a file of `size` rows), placed by `ids` or by position."""
    if ids is None:
        if len(logits) != size:
            raise KdbenchError(
                f"teacher.path={path}: {what} has {len(logits)} rows, but the {what.split()[0]} "
                f"file has {size}; row i must be the file's i-th sample ({FIX})"
            )
        return torch.from_numpy(logits[rows.numpy()].astype(np.float32))
    where = np.full(max(size, int(ids.max()) + 1), -1, dtype=np.int64)
    where[ids] = np.arange(len(ids))
    picked = where[rows.numpy()]
    if (picked < 0).any():
        missing = int(rows.numpy()[picked < 0][0])
        raise KdbenchError(
            f"teacher.path={path}: {what} has no row for sample {missing} of the file "
            f"({int((picked < 0).sum())} missing); give logits for every training sample"
        )
    return torch.from_numpy(logits[picked].astype(np.float32))


def load_logits_teacher(path: str | Path, data: TensorData) -> PrecomputedTeacher:
    """The file's logits aligned with `data`'s splits (by `data.rows`), checked against it."""
    arrays = read_logits_file(path)
    rows = data.rows
    if rows is None:
        raise KdbenchError(
            f"data set {data.display_name!r} does not record its samples' file rows, so a "
            "logits file cannot be aligned with it; use a data set that does (sst2, textfile, "
            "cifar10_jpeg, imagefolder, cifar10/100)"
        )
    classes = arrays["logits"].shape[1]
    if classes != data.num_classes:
        raise KdbenchError(
            f"teacher.path={path} has logits for {classes} classes, the data has "
            f"{data.num_classes}; the file must be of a teacher for this data set"
        )
    train = _pick(
        arrays["logits"],
        arrays.get("ids"),
        rows.train,
        rows.train_size,
        "training logits",
        str(path),
    )
    test = None
    if rows.test_in_train:
        test = _pick(
            arrays["logits"],
            arrays.get("ids"),
            rows.test,
            rows.test_size,
            "training logits",
            str(path),
        )
    elif "test_logits" in arrays:
        test = _pick(
            arrays["test_logits"],
            arrays.get("test_ids"),
            rows.test,
            rows.test_size,
            "test logits",
            str(path),
        )
    return PrecomputedTeacher(train, test)


def write_logits_file(model: torch.nn.Module, data: TensorData, path: str | Path) -> Path:
    """A `.npz` of `model`'s logits on `data`'s training and test splits, with their file rows
    as `ids`/`test_ids`: what a teacher run elsewhere would hand over (tests, examples)."""
    if data.rows is None:
        raise KdbenchError(f"data set {data.display_name!r} does not record its file rows")

    def logits(x: torch.Tensor) -> np.ndarray:
        model.eval()
        with torch.no_grad():
            return torch.cat(
                [model(data.prepare(x[i : i + 1024])).float() for i in range(0, len(x), 1024)]
            ).numpy()

    rows = data.rows
    arrays = {"logits": logits(data.train[0]), "ids": rows.train.numpy()}
    test = {"logits": logits(data.test[0]), "ids": rows.test.numpy()}
    if rows.test_in_train:  # test rows are rows of the training file
        arrays = {k: np.concatenate([arrays[k], test[k]]) for k in arrays}
    else:
        arrays.update(test_logits=test["logits"], test_ids=test["ids"])
    path = Path(path)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path
