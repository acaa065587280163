"""Console entry points: `kdbench` (a Hydra app: one cell, or a grid with -m) and
`kdbench-report DIR`.

User mistakes (`KdbenchError`) end in one line on stderr and a non-zero exit,
never a traceback. In a multirun a failing cell is recorded and the sweep goes
on; the sweep ends with a tally and exits non-zero if any cell failed.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from kdbench.config import register_configs, validate
from kdbench.errors import KdbenchError

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
_tally: Counter[str] = Counter()


def _is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _cell(cfg: DictConfig) -> str:
    from kdbench.runner import describe, log_line, run_cell

    prefix = f"[{HydraConfig.get().job.num:>3}] " if _is_multirun() else ""
    try:
        c = validate(cfg)
    except KdbenchError as exc:
        if not _is_multirun():
            _exit_with(f"kdbench: error: {exc}", 2)
        log_line(f"{prefix}INVALID {exc}")
        _tally["failed"] += 1
        return "failed"
    record = run_cell(c)
    status = "skipped" if record.get("skipped") else record["status"]
    _tally[status] += 1
    log_line(prefix + describe(record))
    if status == "failed" and not _is_multirun():
        err = record["error"]
        _exit_with(f"kdbench: error: cell failed: {err['type']}: {err['message']}", 1)
    return status


def _exit_with(message: str, code: int) -> None:
    """Leave with one line on stderr; SystemExit passes through Hydra's error handler."""
    print(message, file=sys.stderr, flush=True)
    sys.exit(code)


def main() -> None:
    register_configs()
    app = hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")(_cell)
    app()
    if sum(_tally.values()) > 1 or "-m" in sys.argv or "--multirun" in sys.argv:
        print(f"{_tally['ok']} ok, {_tally['failed']} failed, {_tally['skipped']} skipped")
    if _tally["failed"]:
        sys.exit(1)


def report_main(argv: list[str] | None = None) -> None:
    import argparse

    from kdbench.report import write_report

    parser = argparse.ArgumentParser(
        prog="kdbench-report", description="Tables and figures from a sweep's records."
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="sweep folder(s), e.g. results/quick")
    parser.add_argument("--out", type=Path, help="output folder (default: the first DIR)")
    parser.add_argument("--no-figures", action="store_true", help="tables only")
    args = parser.parse_args(argv)
    try:
        write_report(args.dirs, args.out or args.dirs[0], figures=not args.no_figures)
    except KdbenchError as exc:
        print(f"kdbench-report: error: {exc}", file=sys.stderr)
        sys.exit(2)
