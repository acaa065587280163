"""Model registry: `create_model(name, num_classes, in_channels, **size)`."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from kdbench.errors import ConfigError
from kdbench.models.base import FeatureModel
from kdbench.registry import Registry

ModelBuilder = Callable[..., FeatureModel]
MODELS: Registry[ModelBuilder] = Registry("model")

# Keys a size override may use; every family accepts a subset of them.
SIZE_KEYS = ("depth", "width")


def register_model(name: str, **defaults: Any) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register `builder` under `name`, with size defaults (e.g. depth=20)."""

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        def build(num_classes: int, in_channels: int = 3, **size: Any) -> FeatureModel:
            return builder(num_classes=num_classes, in_channels=in_channels, **{**defaults, **size})

        build.builder = builder  # type: ignore[attr-defined]
        MODELS.add(name, build)
        return builder

    return decorator


def create_model(name: str, num_classes: int, in_channels: int = 3, **size: Any) -> FeatureModel:
    """Build a registered model; `size` holds family size keys such as depth or width.

    None values are ignored, so a config's unset size keys pass through untouched.
    """
    build = MODELS.get(name)
    size = {k: v for k, v in size.items() if v is not None}
    accepted = size_keys(name)
    unknown = sorted(set(size) - accepted)
    if unknown:
        raise ConfigError(
            f"model {name!r} has no size key {', '.join(unknown)}; "
            f"its size keys are: {', '.join(sorted(accepted)) or 'none'}"
        )
    if num_classes < 2:
        raise ConfigError(f"num_classes must be >= 2, got {num_classes}")
    return build(num_classes=num_classes, in_channels=in_channels, **size)


def size_keys(name: str) -> set[str]:
    """The size keys (depth, width, ...) model `name`'s builder accepts."""
    params = inspect.signature(MODELS.get(name).builder).parameters  # type: ignore[attr-defined]
    return set(params) - {"num_classes", "in_channels"}


def list_models() -> list[str]:
    return MODELS.names()
