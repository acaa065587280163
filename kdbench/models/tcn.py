"""A temporal convolutional network: dilated 1-D convolutions over frames.

Input [B, T, F] is read as F channels over T steps. `depth` blocks of a
`kernel_size` convolution (dilation 2^i for block i, "same" padding, no bias) +
BN + ReLU, with `64 * width` channels and an identity shortcut wherever input and
output channels agree (every block but the first), then the mean over time and a
linear classifier. Receptive field: 1 + (kernel_size - 1) * (2^depth - 1) frames.
Stage features are [B, T, C], like the recurrent and transformer models.
"""

from __future__ import annotations

import torch
from torch import nn

from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec
from kdbench.models.base import FeatureModel, ModelOutput, scaled
from kdbench.models.registry import register_model

BASE_CHANNELS = 64


class TCNBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(
            c_in, c_out, kernel, padding=dilation * (kernel - 1) // 2, dilation=dilation, bias=False
        )
        self.bn = nn.BatchNorm1d(c_out)
        self.residual = c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn(self.conv(x)))
        return out + x if self.residual else out


class TCN(FeatureModel):
    def __init__(
        self, num_classes: int, channels: int, depth: int, width: float, kernel: int
    ) -> None:
        super().__init__()
        if kernel % 2 == 0:
            raise ConfigError(f"tcn: kernel_size={kernel} must be odd (same-length output)")
        c = scaled(BASE_CHANNELS, width)
        sizes = [channels] + [c] * depth
        self.blocks = nn.ModuleList(
            TCNBlock(a, b, kernel, 2**i) for i, (a, b) in enumerate(zip(sizes, sizes[1:]))
        )
        self.classifier = nn.Linear(c, num_classes)

    def forward_features(self, x: torch.Tensor) -> ModelOutput:
        h = x.transpose(1, 2)  # [B, F, T]
        features = []
        for block in self.blocks:
            h = block(h)
            features.append(h.transpose(1, 2))
        embedding = h.mean(dim=2)
        return ModelOutput(self.classifier(embedding), features, embedding)


@register_model("tcn", kinds=("sequence",), depth=4, width=1.0, kernel_size=3)
def tcn(num_classes: int, spec: InputSpec, depth: int, width: float, kernel_size: int) -> TCN:
    """`depth` dilated conv blocks of 64*width channels."""
    return TCN(num_classes, spec.channels, depth, width, kernel_size)
