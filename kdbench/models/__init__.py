"""Model zoo. Importing this package registers every architecture."""

from kdbench.models import (  # noqa: F401  (registration side effects)
    bilstm,
    cnn,
    mlp,
    mobilenetv2,
    resnet,
    shufflenetv2,
    text_transformer,
    textcnn,
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
