"""Recurrent classifiers over frames: `gru` and `lstm` (uni- or bidirectional).

Input [B, T, F] (MFCC frames, sensor windows). `depth` recurrent layers of
`hidden = round(100 * width)` units per direction (`width` is hidden units / 100:
width=0.64 is 64 units), each layer its own module so every layer's output
[B, T, hidden * directions] is a stage feature (FitNet's hint); the parameters
equal those of one stacked `nn.GRU`/`nn.LSTM(num_layers=depth)`. The sequence
becomes one vector by `pooling`: `mean` over time of the last layer's output
(default: end-padded clips end in silence), or `last`: the final hidden state
of each direction (forward after step T, backward after step 1), concatenated.

Exported to ONNX as GRU/LSTM ops; ONNX Runtime's static QDQ leaves those ops
in float, so recurrent students are quantized dynamically (`int8_quantizer`).
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec
from kdbench.models.base import FeatureModel, ModelOutput
from kdbench.models.registry import register_model

POOLINGS = ("mean", "last")
_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


class RecurrentNet(FeatureModel):
    int8_quantizer: ClassVar[str] = "dynamic"

    def __init__(
        self,
        cell: str,
        num_classes: int,
        spec: InputSpec,
        depth: int,
        width: float,
        bidirectional: bool,
        pooling: str,
        dropout: float,
    ) -> None:
        super().__init__()
        if depth < 1 or width <= 0:
            raise ConfigError(f"{cell}: need depth >= 1 and width > 0, got {depth}, {width}")
        if pooling not in POOLINGS:
            raise ConfigError(
                f"{cell}: pooling={pooling!r} is invalid; use {' or '.join(POOLINGS)}"
            )
        self.hidden = max(1, round(100 * width))
        self.directions = 2 if bidirectional else 1
        self.pooling = pooling
        rnn = _CELLS[cell]
        sizes = [spec.channels] + [self.hidden * self.directions] * depth
        self.layers = nn.ModuleList(
            rnn(a, self.hidden, batch_first=True, bidirectional=bidirectional) for a in sizes[:-1]
        )
        self.drop = nn.Dropout(dropout)
        self.classifier = nn.Linear(sizes[-1], num_classes)

    def forward_features(self, x: torch.Tensor) -> ModelOutput:
        features = []
        h = x
        final = None
        for i, layer in enumerate(self.layers):
            h, state = layer(self.drop(h) if i else h)
            final = state[0] if isinstance(state, tuple) else state  # LSTM: (h_n, c_n)
            features.append(h)
        if self.pooling == "mean":
            embedding = h.mean(dim=1)
        else:  # h_n: [directions, B, hidden] -> [B, directions * hidden]
            embedding = final.transpose(0, 1).reshape(x.shape[0], -1)
        return ModelOutput(self.classifier(self.drop(embedding)), features, embedding)


@register_model("gru", kinds=("sequence",), depth=1, width=0.64, bidirectional=False)
def gru(
    num_classes: int,
    spec: InputSpec,
    depth: int,
    width: float,
    bidirectional: bool,
    pooling: str = "mean",
    dropout: float = 0.0,
) -> RecurrentNet:
    """`depth` GRU layers of 100*width units (per direction)."""
    return RecurrentNet("gru", num_classes, spec, depth, width, bidirectional, pooling, dropout)


@register_model("lstm", kinds=("sequence",), depth=1, width=1.28, bidirectional=True)
def lstm(
    num_classes: int,
    spec: InputSpec,
    depth: int,
    width: float,
    bidirectional: bool,
    pooling: str = "mean",
    dropout: float = 0.0,
) -> RecurrentNet:
    """`depth` LSTM layers of 100*width units (per direction); bidirectional by default."""
    return RecurrentNet("lstm", num_classes, spec, depth, width, bidirectional, pooling, dropout)
