"""Model zoo. Importing this package registers every architecture."""

from kdbench.models import (  # noqa: F401  (registration side effects)
    cnn,
    dscnn,
    mlp,
    mobilenetv2,
    recurrent,
    resnet,
    shufflenetv2,
    tcn,
    transformer,
    vgg,
    wrn,
)
from kdbench.models.base import FeatureModel, ModelOutput
from kdbench.models.registry import (
    MODELS,
    build_model,
    check_model,
    create_model,
    list_models,
    models_for,
    register_model,
)

__all__ = [
    "MODELS",
    "FeatureModel",
    "ModelOutput",
    "build_model",
    "check_model",
    "create_model",
    "list_models",
    "models_for",
    "register_model",
]
