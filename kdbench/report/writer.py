"""`kdbench-report`: load records, summarize, write tables and figures.

The terminal gets a 100-column table (kdbench.report.console); summary.md
keeps every column, plus where the latency was measured and which kept int8
model to deploy per student (kdbench.report.deploy).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from kdbench.report.console import console_table
from kdbench.report.deploy import deploy_lines, latency_host_lines
from kdbench.report.epochs import curves_frame
from kdbench.report.figures import write_figures
from kdbench.report.frame import RecordWarning, load_records
from kdbench.report.stats import summarize
from kdbench.report.tables import failure_table, to_latex, to_markdown


def write_report(
    dirs: Sequence[Path],
    out: Path,
    figures: bool = True,
    quiet: bool = False,
    reference: str | None = None,
) -> dict[str, Path]:
    """Write summary.csv|md|tex, records.csv (and figures/) into `out`; print the table.

    Records that cannot be read are named on stderr and left out; a sweep whose
    every cell failed gets its failures table and a note, and no figures.
    `reference`: also compare every row with that method (`delta_ref_top1_*`).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RecordWarning)
        df = load_records(dirs)
    for w in caught:
        if issubclass(w.category, RecordWarning):
            print(f"kdbench-report: warning: {w.message}", file=sys.stderr, flush=True)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    summary = summarize(df, reference=reference)
    failures = failure_table(df)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "records": out / "records.csv",
        "csv": out / "summary.csv",
        "md": out / "summary.md",
        "tex": out / "summary.tex",
    }
    df.to_csv(paths["records"], index=False)
    summary.to_csv(paths["csv"], index=False)
    notes = latency_host_lines(df) + deploy_lines(df)
    md = to_markdown(summary, failures)
    paths["md"].write_text(md + "".join(f"\n{line}\n" for line in notes))
    paths["tex"].write_text(to_latex(summary, failures))
    if figures:
        paths.update(write_figures(summary, out / "figures", curves_frame(df)))
    if not quiet:
        print(console_table(summary))
        for line in notes:
            print(line)
        if not failures.empty:
            print(f"{len(failures)} failed cell(s): see {paths['md']}")
        for kind, path in paths.items():
            print(f"{kind:>8}: {path}")
    return paths
