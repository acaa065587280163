"""MobileNetV2 (Sandler et al., 2018), CIFAR version as in CRD/RepDistiller.

Inverted residual blocks (1x1 expand, 3x3 depthwise, 1x1 linear project) with
expansion 6, a stride-2 stem and a 1x1 conv to 1280 channels (times `width`
only when `width > 1`, as in the reference). `width` is the width multiplier:
RepDistiller's `MobileNetV2` student is width 0.5 (conf/student/mobilenetv2.yaml).
"""

from __future__ import annotations

import torch
from torch import nn

from kdbench.models.base import FeatureModel, GlobalPool, conv_bn_relu
from kdbench.models.registry import register_model

# expansion t, output channels c, blocks n, first stride s
SETTING = [
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
]
# which setting rows make up each feature stage (RepDistiller's taps)
STAGES = [(0, 1), (2,), (3, 4), (5, 6)]


class InvertedResidual(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = c_in * expand
        self.conv = nn.Sequential(
            nn.Conv2d(c_in, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        return x + out if self.residual else out


class MobileNetV2(FeatureModel):
    def __init__(self, num_classes: int, in_channels: int, width: float) -> None:
        super().__init__()
        c_in = max(1, int(32 * width))
        self.stem = conv_bn_relu(in_channels, c_in, stride=2)
        rows = []
        for t, c, n, s in SETTING:
            c_out = max(1, int(c * width))
            blocks = []
            for i in range(n):
                blocks.append(InvertedResidual(c_in, c_out, s if i == 0 else 1, t))
                c_in = c_out
            rows.append(blocks)
        last = int(1280 * width) if width > 1.0 else 1280
        stages = [nn.Sequential(*[b for r in group for b in rows[r]]) for group in STAGES]
        stages[-1].append(conv_bn_relu(c_in, last, kernel=1))
        self.stages = nn.ModuleList(stages)
        self.pool = GlobalPool()
        self.classifier = nn.Linear(last, num_classes)


@register_model("mobilenetv2", width=1.0)
def mobilenetv2(num_classes: int, in_channels: int, width: float) -> MobileNetV2:
    """Width multiplier `width` on every block's channels."""
    return MobileNetV2(num_classes, in_channels, width)
