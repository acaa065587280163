"""A mapping of settings -> the dataclass that declares them, with one-line errors.

Methods (`distill`) and stages (`stages[i]`) each declare their settings as a
dataclass beside their code; Hydra leaves those nodes untyped, so this is where
their yaml and overrides are checked: every key must be a field, and values are
converted by OmegaConf against the field types.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, fields, is_dataclass
from typing import Any, TypeVar

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from kdbench.errors import ConfigError

T = TypeVar("T")


def as_dict(node: Any, where: str) -> dict[str, Any]:
    """A plain dict of a DictConfig, dataclass or dict node; ConfigError otherwise."""
    if isinstance(node, DictConfig):
        return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]
    if is_dataclass(node) and not isinstance(node, type):
        return asdict(node)
    if isinstance(node, dict):
        return dict(node)
    raise ConfigError(f"{where} must be a mapping of settings, got {type(node).__name__}")


def parse_dataclass(schema: type[T], data: dict[str, Any], where: str, owner: str) -> T:
    """`data` as an instance of `schema`; unknown keys and bad values are ConfigErrors
    naming `<where>.<key>` and the `owner` (e.g. "method 'kd'")."""
    known = [f.name for f in fields(schema)]  # type: ignore[arg-type]
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean {where}.{close[0]}?" if close else "remove it"
            raise ConfigError(
                f"{where}.{key} is not a parameter of {owner}: {hint} "
                f"(its parameters: {', '.join(known)})"
            )
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), data)
        return OmegaConf.to_object(merged)  # type: ignore[return-value]
    except OmegaConfBaseException as exc:
        key = str(getattr(exc, "full_key", None) or "?").rpartition(".")[2]
        kind = {f.name: f.type for f in fields(schema)}.get(key, "?")  # type: ignore[arg-type]
        raise ConfigError(
            f"{where}.{key}={data.get(key)!r} is invalid for {owner}: expected {kind}"
        ) from None
