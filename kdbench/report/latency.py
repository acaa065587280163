"""One latency per architecture: what a latency is a property of, not of a cell.

Latency is a property of (student architecture and size, input shape, backend, batch
size, threads, host), not of the trained fp32 weights: cells that share those differ
only by measurement noise. The report therefore gives every cell of an architecture the
median over all of that architecture's cell measurements (a column per backend and
batch size, `latency_ms_*`), with the std over those measurements as its spread, so a
table shows one latency per architecture and the Pareto figure one x.
"""

from __future__ import annotations

import pandas as pd

#: What a latency depends on, as report columns: the student, the input (data set and its
#: image shape), and where it was measured (host CPU and threads; backend and batch size
#: are in the column's name).
ARCHITECTURE = ("student", "data", "image_size", "channels", "host_cpu", "host_threads")


def latency_columns(df: pd.DataFrame) -> list[str]:
    """The measured latency columns (`latency_ms_p50_bs1`, `..._ort_int8`, ...)."""
    return [c for c in df if c.startswith("latency_ms_") and pd.api.types.is_numeric_dtype(df[c])]


def shared_latency(cells: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells with each latency the median over its architecture's cells, their spread).

    The spread frame has the same index and latency columns: the std over the
    architecture's cell measurements (NaN for an architecture measured once), and
    `latency_cells`, how many cells that median is over.
    """
    keys = [k for k in ARCHITECTURE if k in cells]
    cols = latency_columns(cells)
    out = cells.copy()
    spread = pd.DataFrame(index=cells.index)
    if not keys or not cols:
        return out, spread
    groups = cells.groupby(keys, dropna=False, sort=False)
    for c in cols:
        measured = cells[c].notna()  # a cell that did not measure a backend stays empty
        out[c] = groups[c].transform("median").where(measured)
        spread[c] = groups[c].transform("std").where(measured)
    spread["latency_cells"] = groups[cols[0]].transform("count")
    return out, spread
