"""CIFAR-style ResNets (He et al., 2016, section 4.2): depth 6n+2, three stages.

Shortcuts that change shape use a 1x1 convolution with batch norm (option B),
as in the CIFAR ResNets that distillation papers (CRD, RepDistiller, mdistiller)
report, so parameter counts are comparable with theirs.
"""

from __future__ import annotations

import torch
from torch import nn

from kdbench.errors import ConfigError
from kdbench.models.base import FeatureModel, GlobalPool, conv_bn_relu, scaled
from kdbench.models.registry import register_model


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class CifarResNet(FeatureModel):
    def __init__(
        self, num_classes: int, in_channels: int, depth: int, channels: tuple[int, ...], stem: int
    ) -> None:
        super().__init__()
        if (depth - 2) % 6 != 0 or depth < 8:
            raise ConfigError(
                f"ResNet depth must be 6n+2 with n >= 1 (8, 14, 20, ...), got {depth}"
            )
        blocks = (depth - 2) // 6
        self.stem = conv_bn_relu(in_channels, stem)
        stages, c_in = [], stem
        for i, c_out in enumerate(channels):
            layers = []
            for b in range(blocks):
                layers.append(BasicBlock(c_in, c_out, stride=2 if (i > 0 and b == 0) else 1))
                c_in = c_out
            stages.append(nn.Sequential(*layers))
        self.stages = nn.ModuleList(stages)
        self.pool = GlobalPool()
        self.classifier = nn.Linear(c_in, num_classes)


def resnet(num_classes: int, in_channels: int, depth: int, width: float) -> CifarResNet:
    """Stages of 16, 32, 64 channels times `width`."""
    channels = tuple(scaled(c, width) for c in (16, 32, 64))
    return CifarResNet(num_classes, in_channels, depth, channels, stem=channels[0])


for _depth in (8, 14, 20, 32, 44, 56, 110):
    register_model(f"resnet{_depth}", depth=_depth, width=1.0)(resnet)


def resnet_x4(num_classes: int, in_channels: int, depth: int, width: float) -> CifarResNet:
    """RepDistiller's 4x-wide ResNets: a 32-channel stem, stages of 64, 128, 256 times `width`."""
    stem, *channels = (scaled(c, width) for c in (32, 64, 128, 256))
    return CifarResNet(num_classes, in_channels, depth, tuple(channels), stem=stem)


for _depth in (8, 32):
    register_model(f"resnet{_depth}x4", depth=_depth, width=1.0)(resnet_x4)
