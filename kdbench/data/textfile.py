"""A user's own labelled texts: `data=textfile data.path=FILE` (CSV or TSV).

Columns are named by `data.text_column` and `data.label_column`; labels may be
strings (class ids follow their sorted order, numerically when all are
integers; `TensorData.classes` keeps the names). `data.test_path` names a
separate test file; without it the test split is drawn stratified from the
file (`data.test_fraction`). Tokenizer and token ids: kdbench/data/text/loader.py.
"""

from __future__ import annotations

from pathlib import Path

from kdbench.config import DataConfig
from kdbench.data.base import TensorData
from kdbench.data.imagefolder import cache_root
from kdbench.data.registry import DATA_CHECKS, DATASETS
from kdbench.data.text.loader import text_data
from kdbench.data.text.tables import read_table
from kdbench.errors import ConfigError, DataError


@DATA_CHECKS.register("textfile")
def check_textfile(cfg: DataConfig) -> None:
    """The files are there (their rows are checked by the loader)."""
    if not cfg.path:
        raise ConfigError("data=textfile needs data.path=<your .csv or .tsv file>")
    for path in (cfg.path, cfg.test_path):
        if path and not Path(path).expanduser().is_file():
            raise DataError(f"text file {path} not found; set data.path (and data.test_path)")


@DATASETS.register("textfile")
def textfile(cfg: DataConfig) -> TensorData:
    check_textfile(cfg)
    train = read_table(cfg.path, cfg.text_column, cfg.label_column)
    test = read_table(cfg.test_path, cfg.text_column, cfg.label_column) if cfg.test_path else None
    name = f"text file {Path(cfg.path).name}"
    return text_data(cfg, train, test, name, cache_root())
