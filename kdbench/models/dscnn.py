"""DS-CNN (Zhang et al., "Hello Edge: Keyword Spotting on Microcontrollers", 2017).

The MFCC map [T, F] is a one-channel image [1, T, F]: a 10x4 convolution with
stride 2x2 ("same" padding, as the TensorFlow reference: 49x10 -> 25x5), then
`depth` depthwise-separable blocks (3x3 depthwise conv + BN + ReLU, 1x1 pointwise
conv + BN + ReLU), global average pooling and a linear classifier. DS-CNN-S is
64 channels and 4 blocks (`width=1`, `depth=4`); `width` scales the channels.
Convolutions carry no bias (each is followed by BN). Every block's map
[B, C, T', F'] is a stage feature: spatial methods (AT) apply.
"""

from __future__ import annotations

import torch
from torch import nn

from kdbench.inputs import InputSpec
from kdbench.models.base import FeatureModel, GlobalPool, scaled
from kdbench.models.registry import register_model

BASE_CHANNELS = 64
STEM_KERNEL = (10, 4)


class _AsImage(nn.Module):
    """[B, T, F] frames -> [B, 1, T, F]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1)


def ds_block(c: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False),
        nn.BatchNorm2d(c),
        nn.ReLU(inplace=True),
        nn.Conv2d(c, c, 1, bias=False),
        nn.BatchNorm2d(c),
        nn.ReLU(inplace=True),
    )


class DSCNN(FeatureModel):
    def __init__(self, num_classes: int, depth: int, width: float) -> None:
        super().__init__()
        c = scaled(BASE_CHANNELS, width)
        self.stem = nn.Sequential(
            _AsImage(),
            nn.Conv2d(1, c, STEM_KERNEL, stride=2, padding=(5, 1), bias=False),
            nn.BatchNorm2d(c),
            nn.ReLU(inplace=True),
        )
        self.stages = nn.ModuleList(ds_block(c) for _ in range(depth))
        self.pool = GlobalPool()
        self.classifier = nn.Linear(c, num_classes)


@register_model("dscnn", kinds=("sequence",), depth=4, width=1.0)
def dscnn(num_classes: int, spec: InputSpec, depth: int, width: float) -> DSCNN:
    """Hello Edge DS-CNN: 64*width channels, `depth` depthwise-separable blocks."""
    return DSCNN(num_classes, depth, width)
