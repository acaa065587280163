"""From labelled text tables to a `TensorData` of token ids, cached beside the other data.

Splits are made on row numbers of the training file, so each split knows where
its samples came from (`TensorData.rows`): row i of the original training file
is what a logits-file teacher's row i means (kdbench/models/precomputed.py),
whatever subset or validation split a cell draws.

Order: the test split is the test file, or drawn stratified from the training
file (`data.test_fraction`); `data.train_subset` is a stratified subset of what
remains; validation is drawn stratified from that (`data.val_fraction`); the
tokenizer is trained on the training split alone. Tokenizer and token ids are
cached under the cache root, keyed by the files' sha256 and every setting above.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock
from sklearn.model_selection import train_test_split
from tokenizers import Tokenizer

from kdbench.config import DataConfig
from kdbench.data.base import SourceRows, TensorData
from kdbench.data.images import stratified_subset
from kdbench.data.text.tables import TextTable, label_ids
from kdbench.data.text.tokenizer import PAD_INDEX, encode, train_tokenizer
from kdbench.errors import ConfigError
from kdbench.fileio import config_hash, sha256_file, write_atomic
from kdbench.inputs import InputSpec

CACHE_VERSION = 1
TOKENIZER_FILE = "tokenizer.json"  # kept beside every kept student
SPLITS = ("train", "val", "test")


def _check(cfg: DataConfig) -> None:
    if cfg.vocab_size < 8:
        raise ConfigError(f"data.vocab_size={cfg.vocab_size} is invalid: must be >= 8")
    if cfg.max_length < 1:
        raise ConfigError(f"data.max_length={cfg.max_length} is invalid: must be >= 1")
    for key in ("train_subset", "test_subset"):
        value = getattr(cfg, key)
        if value is not None and value < 2:
            raise ConfigError(f"data.{key}={value} is invalid: must be >= 2 (or null for all)")


def _split_rows(
    cfg: DataConfig, y: np.ndarray, y_test: np.ndarray | None
) -> tuple[dict[str, np.ndarray], bool]:
    """Row numbers of each split (train/val: of the training file; test: of the test file,
    or of the training file when there is none: second value True)."""
    seed = cfg.split_seed
    rows = np.arange(len(y))
    from_train = y_test is None
    if from_train:
        rows, test = _draw(rows, y, cfg.test_fraction, seed, "data.test_fraction")
    else:
        test = stratified_subset(y_test, cfg.test_subset, seed)
    if from_train and cfg.test_subset is not None:
        test = np.sort(test[stratified_subset(y[test], cfg.test_subset, seed)])
    rows = rows[stratified_subset(y[rows], cfg.train_subset, seed)]
    train, val = _draw(rows, y, cfg.val_fraction, seed, "data.val_fraction")
    return {"train": train, "val": val, "test": test}, from_train


def _draw(
    rows: np.ndarray, y: np.ndarray, fraction: float, seed: int, key: str
) -> tuple[np.ndarray, np.ndarray]:
    """Split `rows` into (rest, a stratified `fraction` of them), both sorted."""
    classes = len(np.unique(y[rows]))
    n = max(classes, round(fraction * len(rows)))
    if len(rows) - n < classes:
        raise ConfigError(
            f"{len(rows)} rows are too few to split off {key}={fraction} for {classes} classes;"
            " use more rows (data.train_subset) or a smaller fraction"
        )
    rest, part = train_test_split(rows, test_size=n, stratify=y[rows], random_state=seed)
    return np.sort(rest), np.sort(part)


def _cache_key(cfg: DataConfig, files: list[str]) -> str:
    settings = {k: v for k, v in asdict(cfg).items() if k not in ("augment", "aug_seed", "root")}
    settings["path"] = settings["test_path"] = None  # the files count by content, not by name
    return config_hash(
        {"version": CACHE_VERSION, "files": [sha256_file(f) for f in files], "cfg": settings}
    )


def _build(
    cfg: DataConfig, train: TextTable, test: TextTable | None, folder: Path
) -> dict[str, np.ndarray]:
    where = train.path
    classes, ids = label_ids(train.labels, [test.labels] if test else [], where)
    y, y_test = ids[0], (ids[1] if test else None)
    rows, from_train = _split_rows(cfg, y, y_test)
    tokenizer = train_tokenizer(
        [train.texts[i] for i in rows["train"]], cfg.vocab_size, cfg.lowercase
    )
    arrays: dict[str, np.ndarray] = {}
    for split in SPLITS:
        source = train if (split != "test" or from_train) else test
        labels = y if source is train else y_test
        texts = [source.texts[i] for i in rows[split]]
        arrays[f"x_{split}"] = encode(tokenizer, texts, cfg.max_length)
        arrays[f"y_{split}"] = labels[rows[split]]
        arrays[f"rows_{split}"] = rows[split]
    write_atomic(folder / TOKENIZER_FILE, lambda f: f.write(tokenizer.to_str().encode()))
    write_atomic(
        folder / "meta.json",
        lambda f: f.write(json.dumps({"classes": classes, "test_from_train": from_train}).encode()),
    )
    write_atomic(folder / "tokens.npz", lambda f: np.savez(f, **arrays))
    return arrays


def text_data(
    cfg: DataConfig,
    train: TextTable,
    test: TextTable | None,
    display_name: str,
    cache: Path,
    class_names: list[str] | None = None,
) -> TensorData:
    """Tokenized splits of `train` (and `test`), built once and cached in `cache`."""
    _check(cfg)
    files = [train.path] + ([test.path] if test else [])
    folder = cache / f"text-{_cache_key(cfg, files)[:16]}"
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        if (folder / "tokens.npz").is_file():
            with np.load(folder / "tokens.npz") as z:
                arrays = {k: z[k] for k in z.files}
        else:
            arrays = _build(cfg, train, test, folder)
        meta = json.loads((folder / "meta.json").read_text())
        tokenizer_json = (folder / TOKENIZER_FILE).read_bytes()
    vocab = Tokenizer.from_str(tokenizer_json.decode()).get_vocab_size()
    classes = class_names or meta["classes"]

    def split(name: str) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.from_numpy(arrays[f"x_{name}"]), torch.from_numpy(arrays[f"y_{name}"])

    return TensorData(
        split("train"),
        split("val"),
        split("test"),
        len(classes),
        display_name,
        spec=InputSpec("tokens", (cfg.max_length,), vocab_size=vocab, pad_index=PAD_INDEX),
        classes=list(classes),
        artifacts={TOKENIZER_FILE: tokenizer_json},
        rows=SourceRows(
            torch.from_numpy(arrays["rows_train"]),
            len(train.labels),
            torch.from_numpy(arrays["rows_test"]),
            len(train.labels) if meta["test_from_train"] else len(test.labels),  # type: ignore[union-attr]
            test_in_train=bool(meta["test_from_train"]),
        ),
    )
