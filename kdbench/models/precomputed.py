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
Aligning a file with a data set's splits and writing one from a model kdbench can
run: kdbench/logits_file.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

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
