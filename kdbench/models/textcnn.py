"""TextCNN (Kim, 2014, "Convolutional Neural Networks for Sentence Classification").

Embedding -> parallel 1-D convolutions of widths 3, 4, 5 (`kernel_size` sets the
smallest; 100 * `width` filters each) -> ReLU -> max over time -> dropout (0.5,
as Kim) -> linear. Kim's static/non-static word2vec channels are left out: no
pretrained vectors here, the table is learned from scratch (his "CNN-rand").

Only windows that start on a real token take part in the max: after the ReLU
every value is >= 0, so zeroing the other windows leaves the max of the valid
ones (every sample has at least one token). The sequence is extended by k - 1
zero vectors (the padding embedding), so the result does not depend on how much
padding `max_length` adds. Int8: static QDQ (convolutions and the
linear layer quantize well with calibrated ranges).
"""

from __future__ import annotations

import torch
from torch import nn

from kdbench.inputs import InputSpec
from kdbench.models.base import FeatureModel, ModelOutput, scaled
from kdbench.models.registry import register_model
from kdbench.models.tokens import embedding, token_spec

WIDTHS = 3  # parallel convolutions: kernel_size, kernel_size + 1, kernel_size + 2


class TextCNN(FeatureModel):
    int8_quantizer = "static"

    def __init__(
        self,
        num_classes: int,
        spec: InputSpec,
        embed_dim: int,
        width: float,
        kernel_size: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.pad_index = spec.pad_index
        filters = scaled(100, width)
        self.kernels = [kernel_size + i for i in range(WIDTHS)]
        self.length = spec.shape[0]
        self.embed = embedding(spec, embed_dim)
        self.convs = nn.ModuleList(nn.Conv1d(embed_dim, filters, k) for k in self.kernels)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(filters * WIDTHS, num_classes)

    def forward_features(self, x: torch.Tensor) -> ModelOutput:
        valid = (x != self.pad_index).unsqueeze(1)  # (N, 1, L)
        h = self.embed(x).transpose(1, 2)  # (N, E, L)
        pooled = []
        for k, conv in zip(self.kernels, self.convs):
            # k - 1 zero vectors (what the padding embedding is) after the last position: a
            # window starts at every position, so a sentence cut at max_length keeps the
            # windows it would have with more padding
            a = torch.relu(conv(nn.functional.pad(h, (0, k - 1))))  # (N, F, L)
            a = a * valid.to(a.dtype)
            pooled.append(a.amax(dim=-1))
        embedding_ = torch.cat(pooled, dim=1)
        return ModelOutput(self.classifier(self.dropout(embedding_)), pooled, embedding_)


@register_model("textcnn", kinds=("tokens",), embed_dim=128, width=1.0, kernel_size=3, dropout=0.5)
def textcnn(
    num_classes: int,
    spec: InputSpec,
    embed_dim: int,
    width: float,
    kernel_size: int,
    dropout: float,
) -> TextCNN:
    """Kim's CNN-rand: widths kernel_size..kernel_size+2, 100*width filters each."""
    return TextCNN(num_classes, token_spec(spec, "textcnn"), embed_dim, width, kernel_size, dropout)
