"""Model registry: every model is built from (input spec, number of classes, size keys).

`create_model(name, num_classes, in_channels=3, spec=None, **size)`: a builder that
takes `in_channels` gets the spec's channels (image CNNs); a builder that takes
`spec` gets the whole input spec (sequence and token models, vision transformers
that need the image side). Each model says which input kinds it takes, so a
mismatch (an image CNN on tokens) is one line before anything trains.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from kdbench.config import ModelConfig, model_size
from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec, image_spec
from kdbench.models.base import FeatureModel
from kdbench.registry import Registry

ModelBuilder = Callable[..., FeatureModel]
MODELS: Registry[ModelBuilder] = Registry("model")
_CONTEXT = {"num_classes", "in_channels", "spec"}


def register_model(
    name: str,
    kinds: tuple[str, ...] = ("image",),
    hooks: tuple[str, ...] = (),
    **defaults: Any,
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Register `builder` under `name` for input `kinds`, with size defaults (e.g. depth=20).

    `hooks`: what a method may ask of the built model beyond `forward_features`
    (`distillation_token`: DeiT's extra token and head), checked before a cell starts.
    """

    def decorator(builder: ModelBuilder) -> ModelBuilder:
        takes = set(inspect.signature(builder).parameters)

        def build(num_classes: int, spec: InputSpec, **size: Any) -> FeatureModel:
            context: dict[str, Any] = {"num_classes": num_classes}
            if "spec" in takes:
                context["spec"] = spec
            if "in_channels" in takes:
                context["in_channels"] = spec.channels
            return builder(**context, **{**defaults, **size})

        build.builder = builder  # type: ignore[attr-defined]
        build.kinds = tuple(kinds)  # type: ignore[attr-defined]
        build.hooks = tuple(hooks)  # type: ignore[attr-defined]
        build.size_keys = tuple(sorted(takes - _CONTEXT))  # type: ignore[attr-defined]
        MODELS.add(name, build)
        return builder

    return decorator


def models_for(kind: str) -> list[str]:
    """The registered models that take inputs of `kind`."""
    return [n for n in MODELS.names() if kind in MODELS.get(n).kinds]  # type: ignore[attr-defined]


def models_with(hook: str) -> list[str]:
    """The registered models that offer `hook` (e.g. `distillation_token`)."""
    return [n for n in MODELS.names() if hook in MODELS.get(n).hooks]  # type: ignore[attr-defined]


def check_model(name: str, spec: InputSpec, size: dict[str, Any]) -> None:
    """ConfigError unless model `name` takes `spec`'s kind and knows every key in `size`."""
    build = MODELS.get(name)
    if spec.kind not in build.kinds:  # type: ignore[attr-defined]
        raise ConfigError(
            f"model {name!r} takes {'/'.join(build.kinds)} inputs, but the data gives "  # type: ignore[attr-defined]
            f"{spec.kind} inputs; models for {spec.kind}: {', '.join(models_for(spec.kind))}"
        )
    unknown = sorted(k for k, v in size.items() if v is not None and k not in build.size_keys)  # type: ignore[attr-defined]
    if unknown:
        accepted = ", ".join(build.size_keys) or "none"  # type: ignore[attr-defined]
        raise ConfigError(
            f"model {name!r} has no size key {', '.join(unknown)}; its size keys are: {accepted}"
        )


def create_model(
    name: str,
    num_classes: int,
    in_channels: int = 3,
    spec: InputSpec | None = None,
    **size: Any,
) -> FeatureModel:
    """Build a registered model for `spec` (default: `in_channels` x 32 x 32 images).

    `size` holds size keys such as depth or width; None values are ignored, so a
    config's unset size keys pass through untouched.
    """
    spec = spec if spec is not None else image_spec(in_channels)
    size = {k: v for k, v in size.items() if v is not None}
    check_model(name, spec, size)
    if num_classes < 2:
        raise ConfigError(f"num_classes must be >= 2, got {num_classes}")
    return MODELS.get(name)(num_classes=num_classes, spec=spec, **size)


def size_keys(name: str) -> set[str]:
    """The size keys (depth, width, ...) model `name`'s builder accepts."""
    return set(MODELS.get(name).size_keys)  # type: ignore[attr-defined]


def list_models() -> list[str]:
    return MODELS.names()


def build_model(m: ModelConfig, spec: InputSpec, num_classes: int) -> FeatureModel:
    """A student's or teacher's config -> its model: the one way students, teachers,
    re-measuring and tuning build a model."""
    return create_model(m.name, num_classes, spec=spec, **model_size(m))
