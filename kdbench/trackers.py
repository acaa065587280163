"""Experiment trackers (`logger=` config group): csv (default), tensorboard, mlflow.

The CSV file (`metrics.csv` beside each record) is always written; a tracker
is an extra Lightning logger that sends the same per-epoch values elsewhere:
TensorBoard event files or an MLflow file store, both under the sweep folder
(`results/<name>/tensorboard/`, `results/<name>/mlruns/`), so a run needs no
server and works offline. Their packages come with `pip install -e ".[tracking]"`
and are never required: `validate` names the missing one in a single line.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger

from kdbench.registry import Registry

INSTALL_HINT = 'pip install -e ".[tracking]"'


@dataclass(frozen=True)
class Tracker:
    requires: tuple[str, ...]  # importable modules, any one of which suffices
    build: Callable[[Path, str, str], list[Logger]]  # (sweep folder, experiment, run) -> loggers

    def missing(self) -> str | None:
        """The package to install, or None when one of `requires` is importable."""
        if not self.requires or any(importlib.util.find_spec(m) for m in self.requires):
            return None
        return self.requires[0]


TRACKERS: Registry[Tracker] = Registry("logger")


def _tensorboard(folder: Path, experiment: str, run: str) -> list[Logger]:
    return [TensorBoardLogger(save_dir=str(folder / "tensorboard"), name=run, version="")]


def _mlflow(folder: Path, experiment: str, run: str) -> list[Logger]:
    uri = (folder / "mlruns").resolve().as_uri()
    return [MLFlowLogger(experiment_name=experiment, run_name=run, tracking_uri=uri)]


TRACKERS.add("csv", Tracker((), lambda folder, experiment, run: []))
TRACKERS.add("tensorboard", Tracker(("tensorboard", "tensorboardX"), _tensorboard))
TRACKERS.add("mlflow", Tracker(("mlflow",), _mlflow))


def tracker_loggers(name: str, folder: Path, experiment: str, run: str) -> list[Logger]:
    """The extra loggers of tracker `name` for one run (a cell or a teacher)."""
    return TRACKERS.get(name).build(Path(folder), experiment, run)
