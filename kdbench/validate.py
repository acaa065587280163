"""Every config value checked in one place, against the registries.

`validate` turns the composed Hydra config into the typed dataclasses of
`kdbench.config` and raises a `ConfigError` naming the key, the bad value and
what is allowed. It sits above the registries (models, data, methods,
optimizers, efficiency backends) and below everything that trains.
"""

from __future__ import annotations

import difflib
import typing
from dataclasses import fields, is_dataclass
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from kdbench.config import (
    LOGITS_FILE,
    DataConfig,
    EfficiencyConfig,
    KdbenchConfig,
    ModelConfig,
    RecipeConfig,
    model_size,
)
from kdbench.data import DATASETS, check_data
from kdbench.distill import METHODS, parse_params
from kdbench.efficiency import BACKENDS, EXPORTERS
from kdbench.errors import ConfigError
from kdbench.models import MODELS, models_with, size_keys
from kdbench.models.precomputed import read_logits_file
from kdbench.optim import OPTIMIZERS, SCHEDULES
from kdbench.progress import PROGRESS_MODES
from kdbench.stages import parse_stage
from kdbench.trackers import INSTALL_HINT, TRACKERS

SELECTIONS = ("best_val", "last")
SEED_MAX = 2**32 - 1  # numpy's range; Lightning silently replaces seeds outside it with 0
# Checked by their own schemas: the method's (kdbench.distill.parse_params) and each stage's
# (kdbench.stages.parse_stage).
UNTYPED = ("distill", "stages")


def check_name(name: Any) -> None:
    """`name` is one folder below results_dir: never empty, never a path that leaves it."""
    text = str(name) if name is not None else ""
    if not text.strip() or text in (".", "..") or any(c in text for c in "/\\\0"):
        raise ConfigError(
            f"name={text!r} is invalid: the experiment name must be a non-empty folder name"
            " without '/', '\\' or '..' (records go to <results_dir>/<name>/)"
        )


def _schema_fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def _nested(hint: Any) -> type | None:
    """The dataclass a field holds, directly or as list items; None for plain values."""
    if is_dataclass(hint):
        return hint  # type: ignore[return-value]
    args = [a for a in typing.get_args(hint) if is_dataclass(a)]
    return args[0] if args else None


def schema_keys(cls: type = KdbenchConfig, prefix: str = "") -> list[str]:
    """Every dotted key of the schema (list items as `key[0].field`), for suggestions."""
    keys = []
    for name, hint in _schema_fields(cls).items():
        key = f"{prefix}{name}"
        keys.append(key)
        inner = _nested(hint)
        if inner is not None:
            sep = "[0]." if typing.get_origin(hint) is list else "."
            keys += schema_keys(inner, key + sep)
    return keys


def closest_key(key: str) -> str | None:
    close = difflib.get_close_matches(key, schema_keys(), n=1, cutoff=0.6)
    return close[0] if close else None


def unknown_key_error(key: str) -> ConfigError:
    """One line for a key the schema does not know, with the closest known key."""
    close = closest_key(key)
    hint = f"did you mean {close}?" if close else "see `kdbench --cfg job` for every key"
    return ConfigError(f"{key} is not a config key: {hint}")


def check_known_keys(node: Any, cls: type = KdbenchConfig, prefix: str = "") -> None:
    """Refuse keys the schema lacks (`+train.epochz=3` adds one that nothing would read)."""
    schema = _schema_fields(cls)
    for key in node:
        full = f"{prefix}{key}"
        if key not in schema:
            raise unknown_key_error(full)
        if key in UNTYPED and not prefix:
            continue
        inner = _nested(schema[key])
        value = node[key]
        if inner is None:
            continue
        if isinstance(value, DictConfig):
            check_known_keys(value, inner, full + ".")
        elif isinstance(value, ListConfig):
            for i, item in enumerate(value):
                if isinstance(item, DictConfig):
                    check_known_keys(item, inner, f"{full}[{i}].")


def _check_seed(key: str, seed: int) -> None:
    _check(0 <= seed <= SEED_MAX, key, seed, f"must be an integer in 0 .. {SEED_MAX}")


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
        recipe.optim.warmup_epochs >= 0,
        f"{prefix}.optim.warmup_epochs",
        recipe.optim.warmup_epochs,
        "must be >= 0",
    )
    _check(
        0 <= recipe.label_smoothing < 1,
        f"{prefix}.label_smoothing",
        recipe.label_smoothing,
        "must be in [0, 1)",
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
    if isinstance(cfg, DictConfig):
        check_known_keys(cfg)
    c: KdbenchConfig = cfg if isinstance(cfg, KdbenchConfig) else OmegaConf.to_object(cfg)  # type: ignore[assignment]
    check_name(c.name)
    _check_seed("seed", c.seed)
    _check_seed("teacher.seed", c.teacher.seed)
    _check_seed("data.split_seed", c.data.split_seed)
    if c.data.aug_seed is not None:
        _check_seed("data.aug_seed", c.data.aug_seed)
    members = [(f"teacher.ensemble[{i}]", m) for i, m in enumerate(c.teacher.ensemble)]
    models = members or ([] if c.teacher.name == LOGITS_FILE else [("teacher", c.teacher)])
    for key, model in (*models, ("student", c.student)):
        _check(
            model.name in MODELS, f"{key}.name", model.name, f"known models: {', '.join(MODELS)}"
        )
        _check_size_keys(key, model)
    _check(
        c.data.name in DATASETS, "data.name", c.data.name, f"known data sets: {', '.join(DATASETS)}"
    )
    _check(
        0 <= c.data.val_fraction < 1, "data.val_fraction", c.data.val_fraction, "must be in [0, 1)"
    )
    _check_data_counts(c.data)
    if c.data.val_fraction == 0 and c.trainer.select != "last":
        raise ConfigError(
            "data.val_fraction=0 leaves no validation split to select a checkpoint with: "
            "set trainer.select=last, or a data.val_fraction in (0, 1)"
        )
    for cls in c.data.drop_classes:
        _check(cls >= 0, "data.drop_classes", c.data.drop_classes, "class labels are >= 0")
    for cls in c.eval.class_bias:
        _check(int(cls) >= 0, "eval.class_bias", dict(c.eval.class_bias), "class labels are >= 0")
    c.distill = d = parse_params(c.distill)  # the method's own dataclass, or ConfigError
    _check_student_hooks(d.label or d.name, METHODS.get(d.name).student_hooks, c.student.name)
    c.stages = [parse_stage(node, i) for i, node in enumerate(c.stages)]
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
    if c.teacher.name == LOGITS_FILE:
        _check_logits_teacher(c)
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


_FRACTIONS = ("dropout", "input_dropout")
_POSITIVE = ("depth", "width", "embed_dim", "heads", "mlp_ratio", "patch_size", "kernel_size")
_POSITIVE += ("max_norm",)


def _check_size_keys(key: str, model: ModelConfig) -> None:
    """A size key the model has, with a positive value (`student=cnn student.depth=1` is refused
    here, before any cell, instead of failing every cell of a sweep)."""
    accepted = size_keys(model.name)
    for size_key, value in model_size(model).items():
        _check(
            size_key in accepted,
            f"{key}.{size_key}",
            value,
            f"model {model.name!r} has no size key {size_key}; its size keys are: "
            f"{', '.join(sorted(accepted)) or 'none'} (drop {key}.{size_key} or pick another model)",
        )
        if size_key in _FRACTIONS:
            _check(0 <= value < 1, f"{key}.{size_key}", value, "must be in [0, 1)")
        elif size_key in _POSITIVE:
            _check(value > 0, f"{key}.{size_key}", value, "must be > 0")


def _check_data_counts(data: DataConfig) -> None:
    """Counts and sizes of the data node: positive (a negative subset would slice silently)."""
    for name in ("train_subset", "test_subset"):
        value = getattr(data, name)
        if value is not None:
            _check(value >= 1, f"data.{name}", value, "must be >= 1 (or null for all)")
    _check(data.num_samples >= 1, "data.num_samples", data.num_samples, "must be >= 1")
    _check(data.image_size >= 1, "data.image_size", data.image_size, "must be >= 1")
    if data.num_classes is not None:
        _check(data.num_classes >= 2, "data.num_classes", data.num_classes, "must be >= 2")


def check_cell(cfg: DictConfig | KdbenchConfig) -> KdbenchConfig:
    """`validate`, then the data set's own cheap check (does data.root hold it?).

    What every grid point goes through before the first cell of a sweep trains, and a
    single run before its cell starts: a wrong path is one line, not a failed record.
    """
    c = validate(cfg)
    check_data(c.data)
    return c


def _check_student_hooks(method: str, hooks: tuple[str, ...], student: str) -> None:
    """A method that adds to its student (DeiT's token) refuses a student that cannot take it."""
    for hook in hooks:
        if hook not in MODELS.get(student).hooks:  # type: ignore[attr-defined]
            able = ", ".join(models_with(hook))
            raise ConfigError(
                f"distill={method} needs a student with a {hook.replace('_', ' ')}, "
                f"student {student!r} has none: use one of {able} (e.g. student=vit_tiny)"
            )


def _check_logits_teacher(c: KdbenchConfig) -> None:
    """A file of logits: readable and sane (shape, finite), and only where it can stand in for
    a teacher: logit methods, no augmentation. Rows and classes are checked against the data
    when it is loaded (kdbench/models/precomputed.py)."""
    if not c.teacher.path:
        raise ConfigError("teacher=logits_file needs teacher.path=<.npy/.npz of teacher logits>")
    if c.teacher.ensemble:
        raise ConfigError("teacher=logits_file cannot be an ensemble; average the logits first")
    method = METHODS.get(c.distill.name)
    if method.uses_teacher and method.needs_teacher_features:
        raise ConfigError(
            f"distill={c.distill.name} needs the teacher's features, a logits file has only its "
            "logits; use a logit method (kd, dkd, dist, kd_ls, ...)"
        )
    if c.data.augment:
        raise ConfigError(
            "teacher=logits_file holds logits of un-augmented inputs: set data.augment=[]"
        )
    read_logits_file(c.teacher.path)


def _check_logger(name: str) -> None:
    _check(name in TRACKERS, "logger", name, f"one of {', '.join(TRACKERS)}")
    missing = TRACKERS.get(name).missing()
    if missing:
        raise ConfigError(
            f"logger={name} needs the {missing} package, not installed: {INSTALL_HINT}"
        )
