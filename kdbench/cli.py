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
import os
import signal
import sys
import warnings
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from kdbench import interrupts
from kdbench.config import CONF_DIR, register_configs
from kdbench.errors import KdbenchError
from kdbench.records import cell_dir
from kdbench.report import write_report
from kdbench.runner import describe, log_line, run_cell
from kdbench.sweep import (
    EXTRA,
    STATUSES,
    GridRefused,
    Tally,
    collect_tally,
    format_interrupted,
    format_tally,
    ran_in_this_sweep,
    record_status,
    write_folders,
)
from kdbench.usage import check_output_path, error_line, precheck
from kdbench.validate import check_cell

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
        # In a sweep every grid point was checked before the first cell (kdbench.sweep);
        # checked again here for a launcher that composes a cell differently.
        c = check_cell(cfg)
    except KdbenchError as exc:
        if not multirun:
            _exit_with(f"kdbench: error: {exc}", EXIT_USAGE)
        log_line(f"{prefix}INVALID {exc}")
        record_status(job, "invalid", str(exc))
        return "invalid"
    where = str(Path(c.results_dir) / c.name)
    if not multirun:
        write_folders([where])
    try:
        record = run_cell(c, wait=not multirun)
    except Exception:
        record_status(job, "failed")  # a bug: the tally still counts the cell, as failed
        raise
    status = "skipped" if record.get("skipped") else record["status"]
    status = "remeasured" if record.get("remeasured") else status
    # A grid point that repeats a cell this sweep ran (the student alone at every T) is
    # counted once in the tally, not printed as "skipped (already recorded)".
    if not (status == "skipped" and ran_in_this_sweep(record["key"])):
        log_line(prefix + describe(record))
    record_status(job, status, key=record.get("key"), where=where)
    if status == "diverged" and not multirun:
        _exit_with(f"kdbench: error: cell diverged: {record['error']['message']}", EXIT_FAILED)
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


def _one_line_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001
    return f"kdbench: warning: {message}\n"


def main() -> None:
    """`kdbench`: Hydra's app, with one-line errors, a tally, and clean interrupts."""
    # Hydra re-raises instead of printing its many-line report; we print one line.
    # A user who set HYDRA_FULL_ERROR=1 gets the full traceback, as Hydra promises.
    previous = os.environ.get("HYDRA_FULL_ERROR"), warnings.formatwarning
    os.environ["HYDRA_FULL_ERROR"] = "1"
    warnings.formatwarning = _one_line_warning
    try:
        _main(sys.argv[1:], full_errors=previous[0] == "1")
    finally:
        if previous[0] is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = previous[0]
        warnings.formatwarning = previous[1]


def _main(argv: list[str], full_errors: bool) -> None:
    try:
        precheck(argv)
    except KdbenchError as exc:
        _exit_with(f"kdbench: error: {exc}", EXIT_USAGE)
    check_group_choices(argv)
    register_configs()
    app = hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")(_cell)
    interrupts.install()
    signum, usage = None, None
    try:
        app()
    except GridRefused as exc:  # a grid point's input is wrong: nothing ran
        usage = str(exc)
    except (KeyboardInterrupt, SystemExit) as exc:
        signum = interrupts.received()
        if signum is None and isinstance(exc, KeyboardInterrupt):
            signum = signal.SIGINT  # raised without our handler (e.g. by a test)
        if signum is None:
            raise  # our own exits (_exit_with) and Hydra's --help
    except Exception as exc:
        usage = None if full_errors else error_line(exc)
        if usage is None:
            raise
    finally:
        interrupts.restore()
        # Also after Hydra gave up mid-sweep: report what the finished cells did.
        tally = collect_tally()
    if signum is not None:
        _exit_with(format_interrupted(tally or _single_tally()), interrupts.exit_code(signum))
    if tally is not None and sum(tally[s] for s in (*STATUSES, *EXTRA)):  # a re-measure too
        print(format_tally(tally), flush=True)
    if tally is not None:
        write_folders(tally.folders)
    if usage is None and tally is not None and tally.invalid_messages:
        more = len(tally.invalid_messages) - 1
        usage = tally.invalid_messages[0] + (f" (and {more} more problems)" if more else "")
    if usage is not None:
        _exit_with(f"kdbench: error: {usage}", EXIT_USAGE)
    if tally is not None and tally["failed"]:
        sys.exit(EXIT_FAILED)


def _single_tally() -> Tally:
    """A single run that was interrupted: its one cell did not finish."""
    return Tally({"planned": 1})


def report_main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="kdbench-report", description="Tables and figures from a sweep's records."
    )
    parser.add_argument("dirs", nargs="+", type=Path, help="sweep folder(s), e.g. results/quick")
    parser.add_argument("--out", type=Path, help="output folder (default: the first DIR)")
    parser.add_argument("--no-figures", action="store_true", help="tables only")
    parser.add_argument(
        "--reference", metavar="METHOD", help="also compare every method with this one, e.g. kd"
    )
    args = parser.parse_args(argv)
    out = args.out or args.dirs[0]
    try:
        check_output_path(str(out), key="--out")
        write_report(args.dirs, out, figures=not args.no_figures, reference=args.reference)
    except KdbenchError as exc:
        _exit_with(f"kdbench-report: error: {exc}", EXIT_USAGE)
    except OSError as exc:
        if exc.filename is None:
            raise
        _exit_with(
            f"kdbench-report: error: cannot write {exc.filename}: {exc.strerror}"
            " (choose a writable --out)",
            EXIT_USAGE,
        )
