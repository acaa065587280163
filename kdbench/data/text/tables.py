"""Reading a labelled text table (CSV or TSV) with one-line errors for every bad input.

A user's own file is where mistakes happen: a wrong column name, a file saved as
latin-1, a stray empty label. Each is one `DataError` naming the file, the
problem and the fix, never a pandas traceback. A UTF-8 byte-order mark (Excel
writes one) is accepted: it is only a marker, and it would otherwise glue itself
to the first column's name.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from kdbench.errors import DataError


@dataclass(frozen=True)
class TextTable:
    """The texts and labels of one file, in file order (row i = the i-th data line)."""

    texts: list[str]
    labels: list[str]  # as written in the file; ids are assigned by `label_ids`
    path: str


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")  # strips a BOM if there is one
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path} is not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "re-save it as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.csv > out.csv`"
        ) from None


def read_table(path: str | Path, text_column: str, label_column: str) -> TextTable:
    """The (text, label) rows of a .tsv (tab, no quoting, as GLUE) or .csv (comma, quoted)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"text file {path} not found; set data.path (and data.test_path)")
    text = _decode(path)
    if not text.strip():
        raise DataError(f"{path} is empty; it needs a header line and labelled rows")
    tsv = path.suffix.lower() == ".tsv"
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep="\t" if tsv else ",",
            quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL,
            dtype=str,
            keep_default_na=False,  # "NA" and "null" are words here, not missing values
        )
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{path} is not a readable {'TSV' if tsv else 'CSV'} file: {first}"
        ) from None
    for key, column in (("data.text_column", text_column), ("data.label_column", label_column)):
        if column not in frame.columns:
            raise DataError(
                f"{path} has no column {column!r} (columns: {', '.join(map(str, frame.columns))});"
                f" set {key}"
            )
    if len(frame) == 0:
        raise DataError(f"{path} has a header but no rows")
    labels = frame[label_column].fillna("").astype(str).str.strip()
    empty = np.flatnonzero((labels == "") | labels.str.lower().isin(["nan", "none", "null"]))
    if len(empty):
        raise DataError(
            f"{path} line {empty[0] + 2} has no label ({len(empty)} such rows); "
            "label every row or remove the unlabelled ones"
        )
    texts = frame[text_column].fillna("").astype(str)
    return TextTable(list(texts), list(labels), str(path))


def label_ids(train: list[str], others: list[list[str]], where: str) -> tuple[list[str], list]:
    """Class names (sorted: numerically when every label is an integer) and each list as ids.

    Labels of `others` (the test file) must be classes of the training file.
    """
    names = sorted(set(train))
    if all(_is_int(n) for n in names):
        names = sorted(names, key=int)
    if len(names) < 2:
        raise DataError(
            f"{where} has {len(names)} class ({', '.join(names)}); classification needs >= 2"
        )
    index = {n: i for i, n in enumerate(names)}
    out = []
    for labels in (train, *others):
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise DataError(
                f"the test file has labels the training file lacks: {', '.join(unknown[:5])}"
            )
        out.append(np.array([index[v] for v in labels], dtype=np.int64))
    return names, out


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
