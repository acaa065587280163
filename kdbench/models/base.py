"""The shape every kdbench model shares: stem -> stages -> pool -> classifier.

Feature-based distillation methods need intermediate activations. Instead of
forward hooks (fragile under export and compile), every model exposes them
through `forward_features`, while `forward` returns logits only so that FLOP
counting, latency and ONNX export see exactly the deployed network.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import torch
from torch import nn


class ModelOutput(NamedTuple):
    logits: torch.Tensor
    features: list[torch.Tensor]  # output of each stage, shallow to deep
    embedding: torch.Tensor  # pooled, flattened input of the classifier
    # Each head's logits when a model has several (a DeiT student: `cls` and `dist`, whose
    # mean is `logits`); None for one head. Methods that train heads apart read them here.
    heads: dict[str, torch.Tensor] | None = None


class FeatureModel(nn.Module):
    """Base class: subclasses set `stem`, `stages`, `pool` and `classifier`."""

    stem: nn.Module
    stages: nn.ModuleList
    pool: nn.Module
    classifier: nn.Module
    #: How the efficiency profiler makes the int8 model (kdbench.efficiency.int8.QUANTIZERS):
    #: static QDQ, or dynamic for layers ONNX Runtime has no static int8 kernel for (RNNs).
    int8_quantizer: ClassVar[str] = "static"

    def forward_features(self, x: torch.Tensor) -> ModelOutput:
        h = self.stem(x)
        features = []
        for stage in self.stages:
            h = stage(h)
            features.append(h)
        embedding = self.pool(h)
        return ModelOutput(self.classifier(embedding), features, embedding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x).logits

    def after_step(self) -> None:
        """Called after every optimizer step (weight constraints such as max-norm); no-op here."""


class GlobalPool(nn.Sequential):
    """Global average pooling to a flat vector."""

    def __init__(self) -> None:
        super().__init__(nn.AdaptiveAvgPool2d(1), nn.Flatten())


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, stride, padding=kernel // 2, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def scaled(channels: int, width: float) -> int:
    """Channels times a width multiplier, at least 1."""
    return max(1, int(round(channels * width)))
