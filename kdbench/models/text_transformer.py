"""A small transformer encoder for tokens, trained from scratch (`text_transformer`).

Embedding + learned positions -> `depth` pre-norm blocks (multi-head
self-attention, MLP of `mlp_ratio` * `embed_dim`) -> final LayerNorm -> pooled
-> linear. `pooling`: "cls" (a learned [CLS] vector put before the tokens; its
output is the sentence) or "mean" (over the real tokens). Padded keys are
masked out of every attention, so padding changes no real token's output.

Named `text_transformer`, not `transformer`: the speech models' `transformer`
takes frame sequences (kind "sequence"); one name per input kind keeps each
builder simple. Attention is written out (two matmuls and a softmax) rather
than `nn.MultiheadAttention`, whose fused inference path neither exports to
ONNX nor shows its matmuls to the FLOP counter.

Int8: dynamic (int8 weights of every linear layer; activations quantized per
batch at run time): the masked attention scores and softmax outputs have no
range that a static calibration would serve well.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec
from kdbench.models.base import FeatureModel, ModelOutput
from kdbench.models.registry import register_model
from kdbench.models.tokens import embedding, masked_mean, token_spec

POOLINGS = ("cls", "mean")
MASKED = -1e4  # added to padded keys' scores: exp(-1e4) is 0 in float32, and finite in ONNX


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: float, dropout: float) -> None:
        super().__init__()
        if dim % heads:
            raise ConfigError(
                f"text_transformer: embed_dim={dim} is not divisible by heads={heads}"
            )
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        hidden = int(round(dim * mlp_ratio))
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.dropout = nn.Dropout(dropout)

    def forward(self, h: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        n, length, dim = h.shape
        q, k, v = (
            self.qkv(self.norm1(h))
            .view(n, length, 3, self.heads, dim // self.heads)
            .permute(2, 0, 3, 1, 4)
        )  # each (N, heads, L, d)
        scores = q @ k.transpose(-2, -1) / math.sqrt(dim // self.heads) + key_bias
        attn = self.dropout(scores.softmax(dim=-1)) @ v  # (N, heads, L, d)
        h = h + self.dropout(self.proj(attn.transpose(1, 2).reshape(n, length, dim)))
        return h + self.dropout(self.mlp(self.norm2(h)))


class TextTransformer(FeatureModel):
    int8_quantizer = "dynamic"

    def __init__(
        self,
        num_classes: int,
        spec: InputSpec,
        embed_dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float,
        pooling: str,
        dropout: float,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ConfigError(
                f"text_transformer pooling={pooling!r} is invalid: one of {', '.join(POOLINGS)}"
            )
        self.pad_index, self.pooling = spec.pad_index, pooling
        extra = 1 if pooling == "cls" else 0
        self.embed = embedding(spec, embed_dim)
        self.positions = nn.Parameter(torch.zeros(1, spec.shape[0] + extra, embed_dim))
        self.cls = nn.Parameter(torch.zeros(1, 1, embed_dim)) if extra else None
        nn.init.trunc_normal_(self.positions, std=0.02)
        if self.cls is not None:
            nn.init.trunc_normal_(self.cls, std=0.02)
        self.blocks = nn.ModuleList(
            Block(embed_dim, heads, mlp_ratio, dropout) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(embed_dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> ModelOutput:
        mask = x != self.pad_index  # (N, L)
        h = self.embed(x)
        if self.cls is not None:
            h = torch.cat([self.cls.expand(x.shape[0], -1, -1), h], dim=1)
            mask = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        h = self.dropout(h + self.positions[:, : h.shape[1]])
        key_bias = (~mask).to(h.dtype)[:, None, None, :] * MASKED  # (N, 1, 1, L)
        features = []
        for block in self.blocks:
            h = block(h, key_bias)
            features.append(masked_mean(h, mask))
        h = self.norm(h)
        pooled = h[:, 0] if self.cls is not None else masked_mean(h, mask)
        return ModelOutput(self.classifier(pooled), features, pooled)


@register_model(
    "text_transformer",
    kinds=("tokens",),
    embed_dim=128,
    depth=2,
    heads=4,
    mlp_ratio=2.0,
    pooling="cls",
    dropout=0.1,
)
def text_transformer(
    num_classes: int,
    spec: InputSpec,
    embed_dim: int,
    depth: int,
    heads: int,
    mlp_ratio: float,
    pooling: str,
    dropout: float,
) -> TextTransformer:
    """`depth` pre-norm blocks of width `embed_dim`; [CLS] or mean pooling."""
    return TextTransformer(
        num_classes,
        token_spec(spec, "text_transformer"),
        embed_dim,
        depth,
        heads,
        mlp_ratio,
        pooling,
        dropout,
    )
