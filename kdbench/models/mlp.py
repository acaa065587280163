"""A multilayer perceptron: the smallest student on the ladder."""

from __future__ import annotations

from torch import nn

from kdbench.models.base import FeatureModel, scaled
from kdbench.models.registry import register_model

# Inputs are average-pooled to this side first, so one MLP fits 8x8 and 32x32 images.
POOLED_SIDE = 8


class MLP(FeatureModel):
    def __init__(self, num_classes: int, in_channels: int, depth: int, width: float) -> None:
        super().__init__()
        hidden = scaled(256, width)
        self.stem = nn.Sequential(nn.AdaptiveAvgPool2d(POOLED_SIDE), nn.Flatten())
        sizes = [in_channels * POOLED_SIDE**2] + [hidden] * depth
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Linear(a, b), nn.ReLU(inplace=True)) for a, b in zip(sizes, sizes[1:])
        )
        self.pool = nn.Identity()
        self.classifier = nn.Linear(sizes[-1], num_classes)


@register_model("mlp", depth=2, width=1.0)
def mlp(num_classes: int, in_channels: int, depth: int, width: float) -> MLP:
    """`depth` hidden layers of 256*width units."""
    return MLP(num_classes, in_channels, depth, width)
