"""What a `kdbench-tune` invocation will do, checked before anything trains.

The experiment is composed once; its `tune` block (kdbench.config.TuneConfig)
says which methods get a study, how many trials each, and which seeds tune and
which test. Every method's search space is read and tried on a composed config
here, so a stale key (a method parameter renamed) or a bad range stops the run
in one line instead of failing every trial.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kdbench.config import CONF_DIR, KdbenchConfig, TuneConfig
from kdbench.errors import ConfigError
from kdbench.tune.compose import compose_cell, sweep_methods
from kdbench.tune.space import SearchSpace, load_space

BASELINE = "none"  # the student alone: nothing to tune, the reference of every table


@dataclass(frozen=True)
class Plan:
    experiment: str
    overrides: list[str]  # the user's, applied to every cell
    base: KdbenchConfig
    methods: list[str]
    spaces: dict[str, SearchSpace]

    @property
    def tune(self) -> TuneConfig:
        return self.base.tune

    @property
    def root(self) -> Path:
        """results/<experiment name>/: tuning.db, tuning.csv, figures, trials/, tuned/."""
        return Path(self.base.results_dir) / self.base.name

    def cell(self, folder: str, method: str, seed: int, values: dict[str, Any]) -> KdbenchConfig:
        """One cell's config: the experiment, the user's overrides, then this cell's values.

        Cells go to results/<name>/<folder>/cells/ (folders: trials, tuned, defaults).
        """
        overrides = [f"experiment={self.experiment}", *self.overrides, f"distill={method}"]
        # `name` is one folder (validate refuses paths): the tuning folder becomes the
        # results_dir, with the teacher store pinned to the experiment's own.
        where = {
            "results_dir": str(self.root),
            "name": folder,
            "teacher_store": self.base.teacher_store,
        }
        return compose_cell(overrides, {**where, "seed": seed, **values})


def check_tune(t: TuneConfig) -> None:
    """Budget and seeds: trials >= 1, and the final seeds never used while tuning."""
    if t.trials < 1:
        raise ConfigError(f"tune.trials={t.trials} is invalid: must be >= 1")
    if not t.seeds:
        raise ConfigError("tune.seeds=[] is invalid: give at least one tuning seed")
    if not t.final_seeds:
        raise ConfigError("tune.final_seeds=[] is invalid: give at least one test seed")
    shared = sorted(set(t.seeds) & set(t.final_seeds))
    if shared:
        raise ConfigError(
            f"tune.final_seeds share {shared} with tune.seeds: the test seeds must be fresh"
        )


def check_experiment(experiment: str) -> None:
    """`experiment` is optional in the defaults list: a typo would silently tune nothing."""
    known = sorted(p.stem for p in (Path(CONF_DIR) / "experiment").glob("*.yaml"))
    if experiment not in known:
        raise ConfigError(
            f"experiment {experiment!r} is unknown: known experiments: {', '.join(known)}"
        )


def make_plan(experiment: str, overrides: list[str]) -> Plan:
    check_experiment(experiment)
    base = compose_cell([f"experiment={experiment}", *overrides])
    check_tune(base.tune)
    methods = list(base.tune.methods) or sweep_methods([f"experiment={experiment}", *overrides])
    methods = [m for m in dict.fromkeys(methods) if m != BASELINE]
    if not methods:
        raise ConfigError(
            f"experiment {experiment!r} lists no method to tune: set tune.methods=[kd,dkd] "
            "or sweep distill in the experiment"
        )
    known = sorted(p.stem for p in (Path(CONF_DIR) / "distill").glob("*.yaml"))
    for m in methods:
        if m not in known:
            raise ConfigError(f"tune.methods: {m} is unknown: known distill options: {known}")
    space_dir = Path(base.tune.space_dir or Path(CONF_DIR) / "tune")
    spaces = {m: load_space(space_dir, m) for m in methods}
    plan = Plan(experiment, list(overrides), base, methods, spaces)
    for m in methods:
        _check_space(plan, spaces[m])
    return plan


def _check_space(plan: Plan, space: SearchSpace) -> None:
    """Every key exists in distill=<method>'s config, and both range ends validate."""
    for end in ("low", "high"):
        values = {k: getattr(d, end, None) for k, d in space.params.items()}
        values = {k: v for k, v in values.items() if v is not None}
        try:
            plan.cell("trials", space.method, plan.tune.seeds[0], space.values(values))
        except ConfigError as exc:
            raise ConfigError(
                f"{space.path}: {exc} (distill={space.method}, the range's {end} end; "
                "a renamed key? see conf/distill/ and kdbench/config.py)"
            ) from None
