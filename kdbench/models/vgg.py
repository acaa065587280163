"""VGG with batch norm, CIFAR versions as in CRD/RepDistiller: vgg8, vgg11, vgg13.

Five conv blocks (the last conv of each without ReLU inside the block; the
ReLU follows as the block's output), max-pooling between the first four,
global average pooling and one linear layer. Parameter counts match the
published ones (vgg8: 3.965 M, vgg13: 9.462 M for 100 classes).

On 8x8 inputs the maps reach 1x1 after three pools; a pool on a map that is
already 1x1 is skipped (it has no parameters, so counts are unchanged).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kdbench.errors import ConfigError
from kdbench.models.base import FeatureModel, GlobalPool, scaled
from kdbench.models.registry import register_model

LAYOUTS = {
    8: [[64], [128], [256], [512], [512]],
    11: [[64], [128], [256, 256], [512, 512], [512, 512]],
    13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    16: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
}


class SafeMaxPool(nn.Module):
    """2x2 max-pool (ceil mode) that leaves a 1x1 map alone, so tiny inputs never collapse."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] <= 1 and x.shape[-2] <= 1:
            return x
        return F.max_pool2d(x, 2, 2, ceil_mode=True)


def vgg_block(c_in: int, widths: list[int], pool: bool) -> nn.Sequential:
    layers: list[nn.Module] = [SafeMaxPool()] if pool else []
    for c_out in widths:
        layers += [
            nn.Conv2d(c_in, c_out, 3, padding=1),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        ]
        c_in = c_out
    return nn.Sequential(*layers)


class VGG(FeatureModel):
    def __init__(self, num_classes: int, in_channels: int, depth: int, width: float) -> None:
        super().__init__()
        if depth not in LAYOUTS:
            raise ConfigError(
                f"VGG depth must be one of {', '.join(map(str, LAYOUTS))}, got {depth}"
            )
        layout = [[scaled(c, width) for c in block] for block in LAYOUTS[depth]]
        self.stem = nn.Identity()
        stages, c_in = [], in_channels
        for i, widths in enumerate(layout):
            # pools precede blocks 1-3 (the reference pools before block 4 only at 64x64)
            stages.append(vgg_block(c_in, widths, pool=i in (1, 2, 3)))
            c_in = widths[-1]
        self.stages = nn.ModuleList(stages)
        self.pool = GlobalPool()
        self.classifier = nn.Linear(c_in, num_classes)


def vgg(num_classes: int, in_channels: int, depth: int, width: float) -> VGG:
    """Depth 8, 11, 13 or 16; channels 64..512 times `width`."""
    return VGG(num_classes, in_channels, depth, width)


for _depth in (8, 11, 13):
    register_model(f"vgg{_depth}", depth=_depth, width=1.0)(vgg)
