"""The BiLSTM student of Tang et al. (2019, "Distilling Task-Specific Knowledge from BERT
into Simple Neural Networks"): embedding -> BiLSTM -> pooled -> MLP head (ReLU).

Sizes: `embed_dim` (Tang: 300-d word2vec; here a table learned from scratch,
128 by default), hidden units per direction = 100 * `width` (150 by default),
`depth` stacked layers, `pooling` "max" (over time, default) or "last" (the
forward direction's state at the last token with the backward direction's at
the first: Tang's concatenated final states), `bidirectional`.

Padding never reaches a real token's state. The forward LSTM reads each
sequence left to right, so padding (on the right) comes after every real
token. The backward direction runs a second LSTM on each sequence reversed
*within its own length* (a gather), not on the padded tensor reversed, which
would feed it the padding first. The gather keeps one exportable graph (no
packed sequences, which ONNX export does not take). Parameters equal those of
`nn.LSTM(bidirectional=True)`: per direction and layer 4H(in + H) + 8H.

Int8: dynamic (ONNX Runtime's DynamicQuantizeLSTM and int8 MatMul): static
QDQ does not quantize the LSTM op.
"""

from __future__ import annotations

import torch
from torch import nn

from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec
from kdbench.models.base import FeatureModel, ModelOutput, scaled
from kdbench.models.registry import register_model
from kdbench.models.tokens import embedding, token_spec

POOLINGS = ("max", "last")


def reverse_within(h: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """h (N, L, D) with each row's first lengths[i] steps reversed, the rest in place."""
    steps = torch.arange(h.shape[1], device=h.device).unsqueeze(0)  # (1, L)
    last = (lengths - 1).unsqueeze(1)  # (N, 1)
    index = torch.where(steps <= last, last - steps, steps)  # an involution
    return h.gather(1, index.unsqueeze(-1).expand_as(h))


class BiLSTM(FeatureModel):
    int8_quantizer = "dynamic"

    def __init__(
        self,
        num_classes: int,
        spec: InputSpec,
        embed_dim: int,
        width: float,
        depth: int,
        pooling: str,
        bidirectional: bool,
        dropout: float,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError(
                f"bilstm pooling={pooling!r} is invalid: one of {', '.join(POOLINGS)}"
            )
        self.pad_index, self.pooling, self.bidirectional = spec.pad_index, pooling, bidirectional
        hidden = scaled(100, width)
        dirs = 2 if bidirectional else 1
        self.embed = embedding(spec, embed_dim)
        sizes = [embed_dim] + [hidden * dirs] * (depth - 1)
        self.forward_lstms = nn.ModuleList(nn.LSTM(s, hidden, batch_first=True) for s in sizes)
        self.backward_lstms = nn.ModuleList(
            nn.LSTM(s, hidden, batch_first=True) for s in (sizes if bidirectional else [])
        )
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Sequential(nn.Linear(hidden * dirs, hidden), nn.ReLU(inplace=True))
        self.classifier = nn.Linear(hidden, num_classes)

    def _pool(self, h: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.pooling == "max":
            # LSTM outputs lie in (-1, 1): -1 at padding leaves the max of the real tokens
            return h.masked_fill(~mask.unsqueeze(-1), -1.0).amax(dim=1)
        hidden = self.forward_lstms[0].hidden_size
        last = (lengths - 1).view(-1, 1, 1).expand(-1, 1, hidden)
        fwd = h[..., :hidden].gather(1, last).squeeze(1)
        return torch.cat([fwd, h[:, 0, hidden:]], dim=1) if self.bidirectional else fwd

    def forward_features(self, x: torch.Tensor) -> ModelOutput:
        mask = x != self.pad_index
        lengths = mask.sum(1)
        h = self.embed(x)
        features = []
        for i, fwd in enumerate(self.forward_lstms):
            out, _ = fwd(h)
            if self.bidirectional:
                back, _ = self.backward_lstms[i](reverse_within(h, lengths))
                out = torch.cat([out, reverse_within(back, lengths)], dim=-1)
            h = self.dropout(out)
            features.append(self._pool(out, mask, lengths))
        embedding_ = self.head(features[-1])
        return ModelOutput(self.classifier(self.dropout(embedding_)), features, embedding_)


@register_model(
    "bilstm",
    kinds=("tokens",),
    embed_dim=128,
    width=1.5,
    depth=1,
    pooling="max",
    bidirectional=True,
    dropout=0.1,
)
def bilstm(
    num_classes: int,
    spec: InputSpec,
    embed_dim: int,
    width: float,
    depth: int,
    pooling: str,
    bidirectional: bool,
    dropout: float,
) -> BiLSTM:
    """Tang et al.'s student: hidden 100*width per direction, `depth` layers, MLP head."""
    return BiLSTM(
        num_classes,
        token_spec(spec, "bilstm"),
        embed_dim,
        width,
        depth,
        pooling,
        bidirectional,
        dropout,
    )
