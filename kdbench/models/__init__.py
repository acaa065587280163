"""Model zoo. Importing this package registers every architecture."""

from kdbench.models import (  # noqa: F401  (registration side effects)
    bilstm,
    cnn,
    dscnn,
    kwt,
    mlp,
    mobilenetv2,
    recurrent,
    resnet,
    shufflenetv2,
    tcn,
    text_transformer,
    textcnn,
    vgg,
    vit,
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
    models_with,
    register_model,
    size_keys,
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
    "models_with",
    "register_model",
    "size_keys",
]
