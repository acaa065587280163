"""Every config value checked in one place, against the registries.

`validate` turns the composed Hydra config into the typed dataclasses of
`kdbench.config` and raises a `ConfigError` naming the key, the bad value and
what is allowed. It sits above the registries (models, data, methods,
optimizers, efficiency backends) and below everything that trains.
"""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf

from kdbench.config import EfficiencyConfig, KdbenchConfig, RecipeConfig
from kdbench.data import DATASETS
from kdbench.distill import parse_params
from kdbench.efficiency import BACKENDS, EXPORTERS
from kdbench.errors import ConfigError
from kdbench.models import MODELS
from kdbench.optim import OPTIMIZERS, SCHEDULES
from kdbench.progress import PROGRESS_MODES
from kdbench.trackers import INSTALL_HINT, TRACKERS

SELECTIONS = ("best_val", "last")


def _check(ok: bool, key: str, value: Any, allowed: str) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r} is invalid: {allowed}")


def _check_recipe(prefix: str, recipe: RecipeConfig) -> None:
    optimizers = OPTIMIZERS.names()
    _check(recipe.epochs >= 1, f"{prefix}.epochs", recipe.epochs, "must be >= 1")
    _check(recipe.batch_size >= 1, f"{prefix}.batch_size", recipe.batch_size, "must be >= 1")
    _check(recipe.optim.lr > 0, f"{prefix}.optim.lr", recipe.optim.lr, "must be > 0")
    _check(
        recipe.optim.name in optimizers,
        f"{prefix}.optim.name",
        recipe.optim.name,
        f"one of {', '.join(optimizers)}",
    )
    _check(
        recipe.optim.schedule in SCHEDULES,
        f"{prefix}.optim.schedule",
        recipe.optim.schedule,
        f"one of {', '.join(SCHEDULES.names())}",
    )


def _check_efficiency(e: EfficiencyConfig) -> None:
    for b in e.backends:
        _check(b in BACKENDS, "efficiency.backends", b, f"known backends: {', '.join(BACKENDS)}")
    _check(
        e.exporter in EXPORTERS, "efficiency.exporter", e.exporter, f"one of {', '.join(EXPORTERS)}"
    )
    _check(e.warmup >= 0, "efficiency.warmup", e.warmup, "must be >= 0")
    _check(e.min_time_s >= 0, "efficiency.min_time_s", e.min_time_s, "must be >= 0")
    _check(e.min_runs >= 1, "efficiency.min_runs", e.min_runs, "must be >= 1")
    _check(
        e.calibration_size >= 1, "efficiency.calibration_size", e.calibration_size, "must be >= 1"
    )


def validate(cfg: DictConfig | KdbenchConfig) -> KdbenchConfig:
    """Return the config as dataclasses, or raise ConfigError naming the bad key."""
    c: KdbenchConfig = cfg if isinstance(cfg, KdbenchConfig) else OmegaConf.to_object(cfg)  # type: ignore[assignment]
    members = [(f"teacher.ensemble[{i}]", m) for i, m in enumerate(c.teacher.ensemble)]
    models = members or [("teacher", c.teacher)]
    for key, model in (*models, ("student", c.student)):
        _check(
            model.name in MODELS, f"{key}.name", model.name, f"known models: {', '.join(MODELS)}"
        )
        if model.width is not None:
            _check(model.width > 0, f"{key}.width", model.width, "must be > 0")
    _check(
        c.data.name in DATASETS, "data.name", c.data.name, f"known data sets: {', '.join(DATASETS)}"
    )
    _check(
        0 < c.data.val_fraction < 1, "data.val_fraction", c.data.val_fraction, "must be in (0, 1)"
    )
    c.distill = d = parse_params(c.distill)  # the method's own dataclass, or ConfigError
    _check(d.T > 0, "distill.T", d.T, "the temperature must be > 0")
    if d.w1 is not None or d.w2 is not None:
        _check(
            d.w1 is not None and d.w2 is not None,
            "distill.w1/w2",
            (d.w1, d.w2),
            "give both w1 and w2, or alpha",
        )
        _check(d.w1 >= 0, "distill.w1", d.w1, "must be >= 0")  # type: ignore[operator]
        _check(d.w2 >= 0, "distill.w2", d.w2, "must be >= 0")  # type: ignore[operator]
    else:
        _check(d.alpha is not None, "distill.alpha", d.alpha, "set alpha in [0, 1], or w1 and w2")
        _check(0 <= d.alpha <= 1, "distill.alpha", d.alpha, "must be in [0, 1]")  # type: ignore[operator]
    _check_recipe("train", c.train)
    _check_recipe("teacher.recipe", c.teacher.recipe)
    _check(
        c.trainer.select in SELECTIONS,
        "trainer.select",
        c.trainer.select,
        f"one of {', '.join(SELECTIONS)}",
    )
    if c.trainer.max_epochs_cap is not None:
        _check(
            c.trainer.max_epochs_cap >= 1,
            "trainer.max_epochs_cap",
            c.trainer.max_epochs_cap,
            "must be >= 1",
        )
    _check(
        all(b >= 1 for b in c.efficiency.batch_sizes),
        "efficiency.batch_sizes",
        c.efficiency.batch_sizes,
        "every batch size must be >= 1",
    )
    _check(c.efficiency.threads >= 1, "efficiency.threads", c.efficiency.threads, "must be >= 1")
    _check_efficiency(c.efficiency)
    _check(
        c.progress in PROGRESS_MODES, "progress", c.progress, f"one of {', '.join(PROGRESS_MODES)}"
    )
    _check_logger(c.logger.name)
    return c


def _check_logger(name: str) -> None:
    _check(name in TRACKERS, "logger", name, f"one of {', '.join(TRACKERS)}")
    missing = TRACKERS.get(name).missing()
    if missing:
        raise ConfigError(
            f"logger={name} needs the {missing} package, not installed: {INSTALL_HINT}"
        )
