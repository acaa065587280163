"""A multilayer perceptron: the smallest student on the ladder, and Hinton et al.'s MNIST nets.

Size keys: `depth` hidden layers of `hidden` units (default: 256 * `width`);
`input_side`: inputs are average-pooled to this side first, so one MLP fits
8x8 and 32x32 images (default 8; 28 on MNIST keeps all 784 pixels, as the
paper's nets see them); `input_dropout`, `dropout` (on every hidden layer) and
`max_norm` (Srivastava et al. 2014: after every optimizer step each hidden
unit's incoming weight vector is rescaled to L2 norm <= max_norm), the
regularizers of the paper's 2 x 1200 teacher. With the defaults the network
(and its weights, for a seed) is the one kdbench always built.
"""

from __future__ import annotations

import torch
from torch import nn

from kdbench.models.base import FeatureModel, scaled
from kdbench.models.registry import register_model

# Inputs are average-pooled to this side first unless `input_side` says otherwise.
POOLED_SIDE = 8


class MLP(FeatureModel):
    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        depth: int,
        hidden: int,
        input_side: int = POOLED_SIDE,
        input_dropout: float = 0.0,
        dropout: float = 0.0,
        max_norm: float | None = None,
    ) -> None:
        super().__init__()
        stem: list[nn.Module] = [nn.AdaptiveAvgPool2d(input_side), nn.Flatten()]
        if input_dropout > 0:
            stem.append(nn.Dropout(input_dropout))
        self.stem = nn.Sequential(*stem)
        sizes = [in_channels * input_side**2] + [hidden] * depth

        def layer(a: int, b: int) -> nn.Sequential:
            parts: list[nn.Module] = [nn.Linear(a, b), nn.ReLU(inplace=True)]
            if dropout > 0:
                parts.append(nn.Dropout(dropout))
            return nn.Sequential(*parts)

        self.stages = nn.ModuleList(layer(a, b) for a, b in zip(sizes, sizes[1:]))
        self.pool = nn.Identity()
        self.classifier = nn.Linear(sizes[-1], num_classes)
        self.max_norm = max_norm

    def after_step(self) -> None:
        """Max-norm: each hidden unit's incoming weights (a row of its layer's weight) are
        scaled down to L2 norm `max_norm` where they exceed it; biases are not constrained."""
        if self.max_norm is None:
            return
        with torch.no_grad():
            for stage in self.stages:
                w = stage[0].weight
                w.copy_(torch.renorm(w, p=2, dim=0, maxnorm=self.max_norm))


@register_model("mlp", depth=2, width=1.0)
def mlp(
    num_classes: int,
    in_channels: int,
    depth: int,
    width: float,
    hidden: int | None = None,
    input_side: int | None = None,
    input_dropout: float | None = None,
    dropout: float | None = None,
    max_norm: float | None = None,
) -> MLP:
    """`depth` hidden layers of `hidden` units (default 256*width) on `input_side`^2 pixels."""
    return MLP(
        num_classes,
        in_channels,
        depth,
        hidden if hidden is not None else scaled(256, width),
        input_side if input_side is not None else POOLED_SIDE,
        input_dropout or 0.0,
        dropout or 0.0,
        max_norm,
    )
