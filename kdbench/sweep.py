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
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict
from omegaconf.errors import OmegaConfBaseException

from kdbench.errors import ConfigError, KdbenchError
from kdbench.fileio import write_json_atomic
from kdbench.validate import check_cell, validate

STATUS_ENV = "KDBENCH_SWEEP_STATUS_DIR"
# If set, `kdbench` writes there the experiment folder(s) its cells were written to, one a
# line (the Makefile reports exactly those, whatever RESULTS and name= said).
FOLDERS_FILE_ENV = "KDBENCH_FOLDERS_FILE"
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
# Launchers that hand cells to SLURM, and the command each needs on this machine.
SLURM_COMMANDS = {"SlurmLauncher": "srun"}


class GridRefused(BaseException):  # noqa: N818 - a stop, not an error class of its own
    """A grid point's input is wrong: the sweep stops before any cell runs.

    A BaseException because Hydra turns a callback's exceptions into warnings and
    goes on; the CLI catches this one and prints its message in one line (exit 2).
    """


class SweepTally(Callback):
    """Hydra callback (conf/config.yaml: hydra.callbacks.tally): checks every grid point, then
    opens this sweep's status folder."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            check_launcher(config)
            _planned[0] = check_grid(config)
        except KdbenchError as exc:
            raise GridRefused(str(exc)) from None
        folder = Path(str(config.hydra.sweep.dir)) / "status" / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True, exist_ok=True)
        os.environ[STATUS_ENV] = str(folder.resolve())


class Tally(Counter):
    """Cells per status; `planned` (if known) is the sweep's size, `invalid_messages` why
    cells were refused, `folders` the experiment folders the cells were written to."""

    invalid_messages: list[str]
    folders: list[str]


def check_launcher(config: DictConfig) -> None:
    """A launcher that needs a command this machine lacks is refused in one line."""
    target = str(config.hydra.launcher.get("_target_", ""))
    for launcher, command in SLURM_COMMANDS.items():
        if target.endswith(launcher) and shutil.which(command) is None:
            raise ConfigError(
                f"hydra/launcher=slurm needs SLURM's `{command}`, not found on this machine: "
                "run on the cluster's login node, or use hydra/launcher=submitit_local "
                "to run the same path locally"
            )


def _config_loader() -> Any:
    """The running Hydra app's config loader (None outside one, e.g. in a unit test)."""
    gh = GlobalHydra.instance()
    return gh.hydra.config_loader if gh.is_initialized() and gh.hydra is not None else None


def grid_points(config: DictConfig) -> list[list[str]] | None:
    """Every job's overrides, as Hydra's basic sweeper will launch them (None: not knowable).

    The same arithmetic as `BasicSweeper.sweep`: the experiment's `hydra.sweeper.params`,
    then the command line's overrides, crossed.
    """
    params = config.hydra.sweeper.get("params") or {}
    args = [f"{k}={v}" for k, v in params.items()] + list(config.hydra.overrides.task)
    try:
        overrides = OverridesParser.create(config_loader=_config_loader()).parse_overrides(args)
        batches = BasicSweeper.split_arguments(overrides, None)
    except Exception:  # noqa: BLE001 - Hydra's own sweeper reports what it cannot read
        return None
    return [list(job) for batch in batches for job in batch]


def check_grid(config: DictConfig) -> int | None:
    """Compose and check every grid point as its cell will (`validate.check_cell`), before any
    cell runs; return the number of grid points (None if it cannot be worked out).

    Raises ConfigError for the first bad point: one line naming the key, the value and the
    fix. A point that does not compose (a bad override) is left to Hydra's sweeper, which
    composes every job too and whose messages the CLI shortens to one line. Each data set
    (name, root) is looked at once.
    """
    jobs = grid_points(config)
    loader = _config_loader()
    if jobs is None or loader is None:
        return None if jobs is None else len(jobs)
    seen_data: set[tuple[Any, Any]] = set()
    for job in jobs:
        try:
            cfg = loader.load_sweep_config(config, job)
        except (HydraException, OmegaConfBaseException):
            return len(jobs)
        with open_dict(cfg):
            del cfg["hydra"]  # as Hydra hands the cell its config
        data = (cfg.data.get("name"), cfg.data.get("root"))
        if data in seen_data:
            validate(cfg)
        else:
            check_cell(cfg)
            seen_data.add(data)
    return len(jobs)


def record_status(
    job: str, status: str, message: str = "", key: str | None = None, where: str | None = None
) -> None:
    """Called in the job's process: leave this cell's status, key and experiment folder for the
    launching process."""
    folder = os.environ.get(STATUS_ENV)
    if folder:
        write_json_atomic(
            Path(folder) / f"{job}.json",
            {"status": status, "message": message, "key": key, "where": where},
        )


def write_folders(folders: list[str]) -> None:
    """Tell a caller (the Makefile) where the cells went: $KDBENCH_FOLDERS_FILE, one a line."""
    target = os.environ.get(FOLDERS_FILE_ENV)
    if target:
        Path(target).write_text("".join(f"{f}\n" for f in folders))


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
    tally.folders = sorted({str(s["where"]) for s in statuses if s.get("where")})
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
