"""The composed `distill` config node -> the chosen method's own parameter dataclass.

Hydra leaves `distill` untyped (each method has its own schema): the method is
looked up by `name` and the node checked against its `Params` dataclass
(`kdbench.typed.parse_dataclass`); mistakes are one-line `ConfigError`s naming
the key, the method and the fix.
"""

from __future__ import annotations

from typing import Any

from kdbench.distill.base import METHODS, MethodParams
from kdbench.errors import ConfigError
from kdbench.typed import as_dict, parse_dataclass


def parse_params(node: Any) -> MethodParams:
    """The method's `Params` instance for a `distill` node (dict, DictConfig or dataclass)."""
    data = as_dict(node, "distill")
    name = data.get("name", MethodParams.name)
    if not isinstance(name, str) or name not in METHODS:
        raise ConfigError(
            f"distill.name={name!r} is invalid: known methods: {', '.join(METHODS.names())}"
        )
    params = parse_dataclass(METHODS.get(name).Params, data, "distill", f"method {name!r}")
    params.check()
    return params
