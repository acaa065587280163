"""ShuffleNetV2 (Ma et al., 2018), CIFAR version as in CRD/RepDistiller.

A 1x1 stem (no downsampling at 32x32), three stages of one down-sampling block
plus `num_blocks` channel-split blocks, a 1x1 conv and a linear layer. `width`
is the paper's size multiplier and picks one of its channel tables.
"""

from __future__ import annotations

import torch
from torch import nn

from kdbench.errors import ConfigError
from kdbench.models.base import FeatureModel, GlobalPool
from kdbench.models.registry import register_model

# size multiplier -> (stage channels, last conv channels), blocks per stage are (3, 7, 3)
CHANNELS = {
    0.2: (40, 80, 160, 512),
    0.3: (40, 80, 160, 512),
    0.5: (48, 96, 192, 1024),
    1.0: (116, 232, 464, 1024),
    1.5: (176, 352, 704, 1024),
    2.0: (224, 488, 976, 2048),
}
BLOCKS = {0.2: (3, 3, 3), 0.3: (3, 7, 3)}  # other sizes: (3, 7, 3)


def shuffle(x: torch.Tensor, groups: int = 2) -> torch.Tensor:
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def conv_bn(
    c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1, relu: bool = True
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class SplitBlock(nn.Module):
    """Half the channels pass through; the other half: 1x1, 3x3 depthwise, 1x1; then shuffle."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        c = channels // 2
        self.branch = nn.Sequential(
            conv_bn(c, c, 1), conv_bn(c, c, 3, groups=c, relu=False), conv_bn(c, c, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep, work = x.chunk(2, dim=1)
        return shuffle(torch.cat([keep, self.branch(work)], dim=1))


class DownBlock(nn.Module):
    """Both branches stride 2; channels c_in -> c_out."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        mid = c_out // 2
        self.left = nn.Sequential(
            conv_bn(c_in, c_in, 3, 2, groups=c_in, relu=False), conv_bn(c_in, mid, 1)
        )
        self.right = nn.Sequential(
            conv_bn(c_in, mid, 1),
            conv_bn(mid, mid, 3, 2, groups=mid, relu=False),
            conv_bn(mid, mid, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return shuffle(torch.cat([self.left(x), self.right(x)], dim=1))


class ShuffleNetV2(FeatureModel):
    def __init__(self, num_classes: int, in_channels: int, width: float) -> None:
        super().__init__()
        if width not in CHANNELS:
            raise ConfigError(
                f"ShuffleNetV2 width (size multiplier) must be one of {', '.join(f'{k:g}' for k in CHANNELS)}, got {width:g}"
            )
        *channels, last = CHANNELS[width]
        self.stem = conv_bn(in_channels, 24, 1)
        stages, c_in = [], 24
        for i, (c_out, n) in enumerate(zip(channels, BLOCKS.get(width, (3, 7, 3)))):
            layers = [DownBlock(c_in, c_out)] + [SplitBlock(c_out) for _ in range(n)]
            if i == len(channels) - 1:
                layers.append(conv_bn(c_out, last, 1))
            stages.append(nn.Sequential(*layers))
            c_in = c_out
        self.stages = nn.ModuleList(stages)
        self.pool = GlobalPool()
        self.classifier = nn.Linear(last, num_classes)


@register_model("shufflenetv2", width=1.0)
def shufflenetv2(num_classes: int, in_channels: int, width: float) -> ShuffleNetV2:
    """Size multiplier `width` in {0.2, 0.3, 0.5, 1, 1.5, 2}."""
    return ShuffleNetV2(num_classes, in_channels, width)
