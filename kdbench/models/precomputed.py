"""A teacher that is a file of logits: a model too large to run here (BERT, an LLM behind an
API) labelled the training set once, elsewhere; every logit method distils from the file.

`teacher=logits_file teacher.path=FILE`, FILE one of

* `.npy`: float array [N, C], row i = the teacher's logits of the i-th data row of the
  ORIGINAL training file (e.g. line i + 2 of train.tsv, after its header), before any
  subset or validation split: kdbench picks the rows of the samples it trains on
  (`TensorData.rows`), so one file serves every `train_subset`, split seed and
  validation fraction;
* `.npz` with `logits` [N, C] and optionally `ids` [N] (ints: the training-file row of each
  logits row, any order, missing rows allowed as long as every training sample's row is
  there), `test_logits` [M, C] with optional `test_ids`, likewise for the test file (only
  for the teacher's own test metrics and the agreement; without them the record says
  the teacher was not tested).

The logits are of un-augmented inputs, so augmentation is refused with a logits
teacher; feature methods (FitNet, AT, CRD, ...) need the teacher's activations and are
refused too. The file's sha256 is part of the cell's identity.

Writing one from a model elsewhere (e.g. a Hugging Face classifier on SST-2)::

    import numpy as np, pandas as pd, torch
    rows = pd.read_csv("train.tsv", sep="\\t", quoting=3)        # the file kdbench reads
    with torch.no_grad():
        logits = np.concatenate([model(**tok(list(b), return_tensors="pt", padding=True))
                                 .logits.float().numpy()
                                 for b in np.array_split(rows.sentence, len(rows) // 64 + 1)])
    np.save("teacher_logits.npy", logits)                      # [67349, 2], file order

Classes must be in kdbench's order (sorted labels: for SST-2 0 negative, 1 positive).
`write_logits_file` writes one from a model kdbench can run (tests, examples).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from kdbench.data.base import TensorData
from kdbench.errors import ConfigError, KdbenchError
from kdbench.models.base import FeatureModel, ModelOutput

FIX = "see kdbench/models/precomputed.py for the format"


def _array(blob: Any, key: str, path: Path) -> np.ndarray | None:
    return np.asarray(blob[key]) if key in blob else None


def read_logits_file(path: str | Path) -> dict[str, np.ndarray]:
    """The file's arrays (`logits`, optional `ids`, `test_logits`, `test_ids`), checked.

    ConfigError (one line) for a missing or unreadable file, a wrong shape, a
    non-finite value, ids that are not unique non-negative integers of the right length.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(f"teacher.path={path} not found; give the .npy/.npz of teacher logits")
    try:
        blob = np.load(path, allow_pickle=False)
        arrays = (
            {"logits": np.asarray(blob)}
            if isinstance(blob, np.ndarray)
            else {k: _array(blob, k, path) for k in ("logits", "ids", "test_logits", "test_ids")}
        )
    except Exception as exc:  # noqa: BLE001 - whatever numpy says, the fix is the same
        raise ConfigError(
            f"teacher.path={path} is not a readable .npy/.npz ({type(exc).__name__}); {FIX}"
        ) from None
    out = {k: v for k, v in arrays.items() if v is not None}
    if "logits" not in out:
        raise ConfigError(f"teacher.path={path} has no array named 'logits'; {FIX}")
    for key, ids_key in (("logits", "ids"), ("test_logits", "test_ids")):
        if key not in out:
            if ids_key in out:
                raise ConfigError(f"teacher.path={path} has {ids_key} without {key}; {FIX}")
            continue
        a = out[key]
        if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 2 or a.dtype.kind not in "fiu":
            raise ConfigError(
                f"teacher.path={path}: {key} has shape {a.shape} ({a.dtype}); expected float "
                f"[N, classes] with N >= 1 and classes >= 2"
            )
        if not np.isfinite(a).all():
            bad = int(np.argwhere(~np.isfinite(a))[0][0])
            raise ConfigError(f"teacher.path={path}: {key} row {bad} is NaN/Inf; fix the file")
        if ids_key in out:
            ids = out[ids_key]
            if ids.shape != (len(a),) or ids.dtype.kind not in "iu":
                raise ConfigError(
                    f"teacher.path={path}: {ids_key} must be {len(a)} integers (one per row of "
                    f"{key}), got {ids.shape} {ids.dtype}"
                )
            if (ids < 0).any() or len(np.unique(ids)) != len(ids):
                raise ConfigError(f"teacher.path={path}: {ids_key} must be unique and >= 0")
    if "test_logits" in out and out["test_logits"].shape[1] != out["logits"].shape[1]:
        raise ConfigError(f"teacher.path={path}: test_logits and logits differ in classes")
    return out


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


class PrecomputedTeacher(FeatureModel):
    """Logits by sample index: `train_logits[i]` is the teacher's output for the i-th sample
    of the training split; `test_logits` likewise for the test split, or None.

    It has no network, so it cannot run on an input: the training loop reads its logits
    by index (kdbench/module.py), the way it reads the teacher stream.
    """

    def __init__(self, train_logits: torch.Tensor, test_logits: torch.Tensor | None) -> None:
        super().__init__()
        self.register_buffer("train_logits", train_logits)
        self.register_buffer("test_logits", test_logits)

    def forward_features(self, x: torch.Tensor) -> ModelOutput:
        raise KdbenchError(
            "a logits-file teacher cannot run on inputs: only logit methods without "
            "augmentation can use it"
        )


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
