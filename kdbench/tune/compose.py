"""Configs for tuning cells, composed from the real tree as `kdbench` composes them.

Hydra's compose API instead of a sweeper plugin: the driver decides each cell's
overrides (a trial's sampled values, a seed) one at a time, which is what an
ask/tell loop needs. The experiment's own sweep (`hydra.sweeper.params`) is read
only for its list of methods, when `tune.methods` is not given.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from kdbench.config import CONF_DIR, KdbenchConfig, register_configs
from kdbench.errors import ConfigError
from kdbench.validate import validate


def compose_raw(overrides: list[str], hydra_config: bool = False) -> DictConfig:
    """The composed config for `overrides`; ConfigError (one line) for a bad override."""
    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            return compose(
                config_name="config", overrides=overrides, return_hydra_config=hydra_config
            )
    except (HydraException, OmegaConfBaseException) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{first} (overrides: {' '.join(overrides)})") from None


@lru_cache(maxsize=64)
def _compose_cached(overrides: tuple[str, ...]) -> DictConfig:
    return compose_raw(list(overrides))


def compose_cell(overrides: list[str], values: dict[str, Any] | None = None) -> KdbenchConfig:
    """A validated cell config: Hydra composes `overrides` (groups, the user's strings;
    later ones of a key win), then `values` (typed: a trial's parameters, the seed) are set
    by key on a copy. Composing costs about half a second, so it is done once per distinct
    `overrides` and each cell only sets its own values (the schema still checks their types).
    """
    cfg = copy.deepcopy(_compose_cached(tuple(dedupe(overrides))))
    for key, value in (values or {}).items():
        if OmegaConf.select(cfg, key, default=_ABSENT) is _ABSENT:
            raise ConfigError(f"{key} is not a config key (overrides: {' '.join(overrides)})")
        try:
            OmegaConf.update(cfg, key, value, merge=False)
        except OmegaConfBaseException as exc:
            first = str(exc).strip().splitlines()[0]
            raise ConfigError(f"{key}={value!r} is invalid: {first}") from None
    return validate(cfg)


_ABSENT = object()


def sweep_methods(overrides: list[str]) -> list[str]:
    """The `distill` options the experiment sweeps (`hydra.sweeper.params.distill`)."""
    cfg = compose_raw(overrides, hydra_config=True)
    value = OmegaConf.select(cfg, "hydra.sweeper.params.distill", default=None)
    if value is None:
        return []
    return [m.strip() for m in str(value).split(",") if m.strip()]


def dedupe(overrides: list[str]) -> list[str]:
    """Keep the last override of each key (Hydra refuses a key given twice)."""
    last: dict[str, str] = {}
    for item in overrides:
        key = item.split("=", 1)[0]
        last.pop(key, None)
        last[key] = item
    return list(last.values())
