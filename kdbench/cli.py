"""Console entry points: `kdbench` (a Hydra app: one cell, or a grid with -m) and
`kdbench-report DIR`.

User mistakes (`KdbenchError`) end in one line on stderr and a non-zero exit,
never a traceback. In a multirun a failing cell is recorded and the sweep goes
on; the sweep ends with a tally and exits non-zero if any cell failed. The tally
is read back from status files (`kdbench.sweep`), so it is the same for the
basic, joblib and submitit launchers.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from kdbench.config import register_configs
from kdbench.errors import KdbenchError
from kdbench.records import cell_dir
from kdbench.report import write_report
from kdbench.runner import describe, log_line, run_cell
from kdbench.sweep import collect_tally, format_tally, ran_in_this_sweep, record_status
from kdbench.validate import validate

CONF_DIR = str(Path(__file__).resolve().parent.parent / "conf")
# conf/hydra/launcher/joblib.yaml spells out every field of the plugin's schema of
# the same name; Hydra's notice about that name match is noise for a user.
warnings.filterwarnings(
    "ignore", message=r"\s*'hydra/launcher/joblib' is validated against ConfigStore schema"
)
EXIT_FAILED = 1  # a cell failed (a bug, out of memory, ...): see its record and traceback.txt
EXIT_USAGE = 2  # the user's input is wrong: the one-line message says what to fix


def _is_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def _cell(cfg: DictConfig) -> str:
    multirun = _is_multirun()
    job = str(HydraConfig.get().job.num) if multirun else "0"
    prefix = f"[{job:>3}] " if multirun else ""
    try:
        c = validate(cfg)
    except KdbenchError as exc:
        if not multirun:
            _exit_with(f"kdbench: error: {exc}", EXIT_USAGE)
        log_line(f"{prefix}INVALID {exc}")
        record_status(job, "failed")
        return "failed"
    record = run_cell(c)
    status = "skipped" if record.get("skipped") else record["status"]
    status = "remeasured" if record.get("remeasured") else status
    # A grid point that repeats a cell this sweep ran (the student alone at every T) is
    # counted once in the tally, not printed as "skipped (already recorded)".
    if not (status == "skipped" and ran_in_this_sweep(record["key"])):
        log_line(prefix + describe(record))
    record_status(job, status, record.get("key"))
    if status == "failed" and not multirun:
        err = record["error"]
        if err.get("user_error"):
            _exit_with(f"kdbench: error: {err['message']}", EXIT_USAGE)
        where = cell_dir(c, record["key"]) / "traceback.txt"
        _exit_with(
            f"kdbench: error: cell failed: {err['type']}: {err['message']} (traceback: {where})",
            EXIT_FAILED,
        )
    return status


def _exit_with(message: str, code: int) -> None:
    """Leave with one line on stderr; SystemExit passes through Hydra's error handler."""
    print(message, file=sys.stderr, flush=True)
    sys.exit(code)


def check_group_choices(argv: list[str], conf_dir: str = CONF_DIR) -> None:
    """Refuse `group=option` overrides naming no file in conf/<group>/, in one line.

    Needed for `experiment`: it is `optional` in the defaults list, so Hydra
    would silently run the default config for `experiment=typo`. For the other
    groups it replaces Hydra's many-line message with one line. Values Hydra
    computes (sweep functions, interpolations) are left to Hydra.
    """
    conf = Path(conf_dir)
    for arg in argv:
        key, sep, value = arg.lstrip("+~").partition("=")
        if not sep or key.startswith(("hydra", "-")) or "/" in key or "@" in key:
            continue
        folder = conf / key
        if not folder.is_dir() or any(c in value for c in "()[]{}$*"):
            continue
        known = sorted(p.stem for p in folder.glob("*.yaml"))
        for option in value.split(","):
            if option and option != "null" and option not in known:
                _exit_with(
                    f"kdbench: error: {key}={option} is unknown: known {key} options: "
                    + ", ".join(known),
                    EXIT_USAGE,
                )


def main() -> None:
    check_group_choices(sys.argv[1:])
    register_configs()
    app = hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")(_cell)
    try:
        app()
    finally:
        # Also after Hydra gave up mid-sweep: report what the finished cells did.
        tally = collect_tally()
        if tally is not None:
            print(format_tally(tally), flush=True)
    if tally is not None and tally["failed"]:
        sys.exit(EXIT_FAILED)


def report_main(argv: list[str] | None = None) -> None:
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
