"""The end-of-sweep tally, for every Hydra launcher, and threads per parallel job.

Why files: with the basic launcher every cell runs inside the `kdbench`
process, but with joblib (local processes) or submitit (SLURM, or
`submitit_local`) the cells run elsewhere and Hydra does not hand their return
values back to the app. So each cell writes its status as a tiny file into a
folder made for this one sweep invocation (`<sweep dir>/status/<run id>/`), and
the launching process reads the folder back after the launcher returns. The
run id keeps two sweeps into the same experiment folder, or a rerun of a killed
sweep, from counting each other's cells. The folder's path reaches the jobs
through an environment variable, which joblib workers, `submitit_local` and
`sbatch` (export=ALL, its default) all inherit.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from kdbench.fileio import write_json_atomic

STATUS_ENV = "KDBENCH_SWEEP_STATUS_DIR"
# busy: another live process is training it; invalid: refused by `validate`, never started
STATUSES = ("ok", "failed", "skipped", "busy", "invalid")
# Statuses that count as failed in the tally (and in the exit status), each also counted by name.
FAILED_STATUSES = ("failed", "diverged")
# Not in the headline: "remeasured" (a finished cell measured again, not retrained) and
# "same" (a grid point that is a cell already run by this sweep, e.g. the student alone
# at every temperature: `distill=none` ignores T and alpha).
EXTRA = {"remeasured": "re-measured (not retrained)", "same": "grid point(s) repeated a cell"}
# Statuses of a cell this sweep computed (a later grid point with its key repeats it).
RAN = ("ok", "failed", "diverged", "remeasured")
_planned: list[int | None] = [None]  # cells in this process's sweep, set in on_multirun_start


class SweepTally(Callback):
    """Hydra callback (conf/config.yaml: hydra.callbacks.tally): opens this sweep's status folder."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _planned[0] = planned_cells(config)
        folder = Path(str(config.hydra.sweep.dir)) / "status" / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[STATUS_ENV] = str(folder.resolve())


class Tally(Counter):
    """Cells per status; `planned` (if known) is the sweep's size, `invalid_messages` why
    cells were refused."""

    invalid_messages: list[str]


def planned_cells(config: DictConfig) -> int | None:
    """How many jobs Hydra's basic sweeper will launch (None if that cannot be worked out).

    The same arithmetic as `BasicSweeper.sweep`: the experiment's
    `hydra.sweeper.params`, then the command line's overrides, crossed.
    """
    params = config.hydra.sweeper.get("params") or {}
    args = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    try:
        overrides = OverridesParser.create().parse_overrides(args)
        return sum(len(batch) for batch in BasicSweeper.split_arguments(overrides, None))
    except Exception:  # noqa: BLE001 - e.g. a glob sweep needs Hydra's config loader
        return None


def record_status(job: str, status: str, message: str = "", key: str | None = None) -> None:
    """Called in the job's process: leave this cell's status (and key) for the launching process."""
    folder = os.environ.get(STATUS_ENV)
    if folder:
        write_json_atomic(
            Path(folder) / f"{job}.json", {"status": status, "message": message, "key": key}
        )


def _statuses(folder: str | Path) -> list[dict[str, Any]]:
    out = []
    for path in Path(folder).glob("*.json"):
        try:
            status = json.loads(path.read_text())
        except (OSError, ValueError):
            status = None
        # a status we cannot read is not a success
        out.append(status if isinstance(status, dict) else {"status": "failed"})
    return out


def ran_in_this_sweep(key: str) -> bool:
    """True when another grid point of this sweep already ran (or re-measured) cell `key`."""
    folder = os.environ.get(STATUS_ENV)
    if not folder:
        return False
    return any(s.get("key") == key and s.get("status") in RAN for s in _statuses(folder))


def collect_tally() -> Tally | None:
    """In the launching process, after the launcher returned: count and remove the statuses.

    None when no sweep ran in this process (a single run, or Hydra stopped
    before launching, e.g. on an unknown config option).
    """
    folder = os.environ.pop(STATUS_ENV, None)
    if not folder:
        return None
    tally = Tally({s: 0 for s in STATUSES})
    statuses = _statuses(folder)
    ran = {s.get("key") for s in statuses if s.get("status") in RAN}
    invalid: list[str] = []
    for status in statuses:
        name = status.get("status", "failed")
        if name == "skipped" and status.get("key") in ran:
            name = "same"
        elif name in FAILED_STATUSES and name != "failed":
            tally[name] += 1  # e.g. diverged: a failure, also said by name
            name = "failed"
        elif name == "invalid":
            invalid.append(str(status.get("message", "")))
        tally[name] += 1
    tally.invalid_messages = sorted(set(invalid))
    planned, _planned[0] = _planned[0], None
    if planned is not None:
        tally["planned"] = planned
    shutil.rmtree(folder, ignore_errors=True)
    with contextlib.suppress(OSError):
        Path(folder).parent.rmdir()  # status/ itself, once no other sweep uses it
    return tally


def format_tally(tally: Counter[str]) -> str:
    failed = f"{tally['failed']} failed"
    if tally["diverged"]:
        failed += f" ({tally['diverged']} diverged)"
    line = f"{tally['ok']} ok, {failed}, {tally['skipped']} skipped"
    if tally["invalid"]:
        line += f", {tally['invalid']} invalid"
    if tally["busy"]:
        line += f", {tally['busy']} left to another process training them"
    extra = [f"{tally[k]} {text}" for k, text in EXTRA.items() if tally[k]]
    return line + ("; " + ", ".join(extra) if extra else "")


def format_interrupted(tally: Counter[str]) -> str:
    """The last line of an interrupted sweep: what is done, and how to go on.

    Cells found already recorded count as ok; cells left to another process
    and cells never started count as not run.
    """
    done = tally["ok"] + tally["skipped"] + tally["same"] + tally["remeasured"]
    planned = tally.get("planned")
    not_run = str(max(0, planned - done - tally["failed"])) if planned is not None else "the other"
    return (
        f"interrupted: {done} ok, {tally['failed']} failed, {not_run} not run"
        " — rerun the same command to continue"
    )


def job_threads(configured: int) -> int:
    """torch threads for one cell: `trainer.threads` if set, else a fair share per parallel job.

    joblib runs `n_jobs` cells at once on one machine, so each gets
    cores // n_jobs threads instead of torch's default of all cores (which
    oversubscribes the CPU n_jobs times over). A SLURM/submitit job gets its
    `cpus_per_task`. 0 means keep torch's default (one cell at a time).
    """
    if configured:
        return configured
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return 0
    launcher = HydraConfig.get().launcher
    target = str(launcher.get("_target_", ""))
    cores = os.cpu_count() or 1
    if target.endswith("JoblibLauncher"):
        n_jobs = int(launcher.get("n_jobs") or -1)
        parallel = cores + 1 + n_jobs if n_jobs < 0 else n_jobs  # joblib's reading of n_jobs
        return max(1, cores // max(1, parallel))
    if "submitit" in target and launcher.get("cpus_per_task"):
        return int(launcher.cpus_per_task)
    return 0
