"""Names of the efficiency columns, owned here and read by the report, figures, profile, bench.

A record's `efficiency.latency[backend][bsN]` becomes `latency_ms_p50_bsN` for
torch eager (`torch_fp32`, the reference every record has) and
`latency_ms_p50_bsN_<backend>` for the others (`..._ort_fp32`, `..._ort_int8`).
"""

from __future__ import annotations

TORCH_BACKEND = "torch_fp32"  # unsuffixed in column names
LATENCY_STATS = ("latency_ms_p50", "latency_ms_p90")


def latency_column(stat: str, batch: str, backend: str) -> str:
    """`latency_ms_p50_bs1` for torch eager, `latency_ms_p50_bs1_ort_fp32` for another backend."""
    return f"{stat}_{batch}" + ("" if backend == TORCH_BACKEND else f"_{backend}")
