"""A plain three-stage CNN, sized by a width multiplier."""

from __future__ import annotations

from torch import nn

from kdbench.models.base import FeatureModel, GlobalPool, conv_bn_relu, scaled
from kdbench.models.registry import register_model


class SmallCNN(FeatureModel):
    def __init__(self, num_classes: int, in_channels: int, width: float) -> None:
        super().__init__()
        c1, c2, c3 = (scaled(c, width) for c in (32, 64, 128))
        self.stem = nn.Identity()
        self.stages = nn.ModuleList(
            [conv_bn_relu(in_channels, c1), conv_bn_relu(c1, c2, 2), conv_bn_relu(c2, c3, 2)]
        )
        self.pool = GlobalPool()
        self.classifier = nn.Linear(c3, num_classes)


@register_model("cnn", width=1.0)
def cnn(num_classes: int, in_channels: int, width: float) -> SmallCNN:
    """Stages of 32, 64, 128 channels times `width`, strides 1, 2, 2."""
    return SmallCNN(num_classes, in_channels, width)
