"""Wide ResNets (Zagoruyko & Komodakis, 2016) for CIFAR: `wrn_<depth>_<width>`.

Depth 6n+4, three stages of 16k, 32k, 64k channels with pre-activation blocks,
as in the WRN code that RepDistiller and mdistiller use (no dropout), so
parameter counts match the published ones (wrn_40_2: 2.255 M for 100 classes).
"""

from __future__ import annotations

import torch
from torch import nn

from kdbench.errors import ConfigError
from kdbench.models.base import FeatureModel, GlobalPool
from kdbench.models.registry import register_model


class PreActBlock(nn.Module):
    """BN-ReLU-conv-BN-ReLU-conv; a 1x1 shortcut where the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.equal = c_in == c_out and stride == 1
        self.shortcut = None if self.equal else nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        act = torch.relu(self.bn1(x))
        out = self.conv2(torch.relu(self.bn2(self.conv1(act))))
        # as in the reference code: a projection shortcut reads the activated input
        return out + (x if self.shortcut is None else self.shortcut(act))


class WideResNet(FeatureModel):
    def __init__(self, num_classes: int, in_channels: int, depth: int, width: float) -> None:
        super().__init__()
        if (depth - 4) % 6 != 0 or depth < 10:
            raise ConfigError(
                f"WRN depth must be 6n+4 with n >= 1 (10, 16, 22, 28, 40, ...), got {depth}"
            )
        n = (depth - 4) // 6
        channels = [max(1, int(round(c * width))) for c in (16, 32, 64)]
        self.stem = nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False)
        stages, c_in = [], 16
        for i, c_out in enumerate(channels):
            blocks = [
                PreActBlock(c_in if b == 0 else c_out, c_out, 2 if (i and b == 0) else 1)
                for b in range(n)
            ]
            c_in = c_out
            if i == len(channels) - 1:  # the final BN-ReLU belongs to the last stage's output
                blocks += [nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.ModuleList(stages)
        self.pool = GlobalPool()
        self.classifier = nn.Linear(c_in, num_classes)


def wrn(num_classes: int, in_channels: int, depth: int, width: float) -> WideResNet:
    """Depth 6n+4; stages of 16, 32, 64 channels times the widening factor `width`."""
    return WideResNet(num_classes, in_channels, depth, width)


for _depth in (16, 28, 40):
    for _width in (1, 2, 4):
        register_model(f"wrn_{_depth}_{_width}", depth=_depth, width=float(_width))(wrn)
