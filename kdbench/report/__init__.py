"""Records -> tidy frame -> statistics over seeds -> tables and figures.

Layers inside the package, each importing only those above it in this list:
`vocab` (names both tables and figures need), `frame` (load and flatten
records), `stats` (mean, std, Δ, CI, tests), `tables` (Markdown, LaTeX),
`figures/` (one module per figure), `writer` (the `kdbench-report` job).
"""

from kdbench.report.frame import flatten_record, group_columns, load_records, records_frame
from kdbench.report.stats import chosen_on_validation, summarize
from kdbench.report.tables import display_table, failure_table, to_latex, to_markdown
from kdbench.report.vocab import BASELINE
from kdbench.report.writer import write_report

__all__ = [
    "BASELINE",
    "chosen_on_validation",
    "display_table",
    "failure_table",
    "flatten_record",
    "group_columns",
    "load_records",
    "records_frame",
    "summarize",
    "to_latex",
    "to_markdown",
    "write_report",
]
