"""The composed `distill` config node -> the chosen method's own parameter dataclass.

Hydra leaves `distill` untyped (each method has its own schema), so this is
where its yaml and overrides are checked: the method is looked up by `name`,
every key must be a field of that method's `Params` dataclass, and values are
converted by OmegaConf against the field types. Mistakes become one-line
`ConfigError`s naming the key, the method and the fix.
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, fields, is_dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from kdbench.distill.base import METHODS, MethodParams
from kdbench.errors import ConfigError


def _as_dict(node: Any) -> dict[str, Any]:
    if isinstance(node, DictConfig):
        return OmegaConf.to_container(node, resolve=True)  # type: ignore[return-value]
    if is_dataclass(node) and not isinstance(node, type):
        return asdict(node)
    if isinstance(node, dict):
        return dict(node)
    raise ConfigError(f"distill must be a mapping of method settings, got {type(node).__name__}")


def parse_params(node: Any) -> MethodParams:
    """The method's `Params` instance for a `distill` node (dict, DictConfig or dataclass)."""
    data = _as_dict(node)
    name = data.get("name", MethodParams.name)
    if not isinstance(name, str) or name not in METHODS:
        raise ConfigError(
            f"distill.name={name!r} is invalid: known methods: {', '.join(METHODS.names())}"
        )
    schema = METHODS.get(name).Params
    known = [f.name for f in fields(schema)]
    for key in data:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"did you mean distill.{close[0]}?" if close else "remove it"
            raise ConfigError(
                f"distill.{key} is not a parameter of method {name!r}: {hint} "
                f"(its parameters: {', '.join(known)})"
            )
    try:
        merged = OmegaConf.merge(OmegaConf.structured(schema), data)
        params: MethodParams = OmegaConf.to_object(merged)  # type: ignore[assignment]
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or "?"
        value = data.get(str(key).rpartition(".")[2], None)
        kind = {f.name: f.type for f in fields(schema)}.get(str(key).rpartition(".")[2], "?")
        raise ConfigError(
            f"distill.{key}={value!r} is invalid for method {name!r}: expected {kind}"
        ) from None
    params.check()
    return params
