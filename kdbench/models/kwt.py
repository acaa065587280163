"""A transformer encoder over frames with a class token, as the Keyword Transformer
(KWT; Berg et al., Interspeech 2021).

Frames [B, T, F] -> linear embedding to `embed_dim` -> a learned class token in
front -> learned position embeddings (T + 1) -> `depth` pre-norm encoder blocks
(LayerNorm, multi-head self-attention with `heads` heads, LayerNorm, MLP of
`mlp_ratio * embed_dim` hidden units with GELU; residual around both) -> final
LayerNorm -> the class token's vector (or the mean of all positions,
`pooling=mean`) -> linear classifier.

Attention is `F.scaled_dot_product_attention` (fused on CPU; exported to ONNX as
MatMul/Softmax). Its FLOPs are counted by formula (kdbench.efficiency.formulas):
FlopCounterMode misses the CPU flash-attention kernel. Stage features are each
block's output [B, T + 1, embed_dim].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec
from kdbench.models.base import FeatureModel, ModelOutput
from kdbench.models.registry import register_model

POOLINGS = ("cls", "mean")


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        p = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
        return self.proj(out.transpose(1, 2).reshape(b, n, d))


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop(self.attn(self.norm1(x)))
        return x + self.drop(self.mlp(self.norm2(x)))


class FrameTransformer(FeatureModel):
    def __init__(
        self,
        num_classes: int,
        spec: InputSpec,
        depth: int,
        embed_dim: int,
        heads: int,
        mlp_ratio: float,
        pooling: str,
        dropout: float,
    ) -> None:
        super().__init__()
        if embed_dim % heads:
            raise ConfigError(
                f"transformer: embed_dim={embed_dim} is not divisible by heads={heads}"
            )
        if pooling not in POOLINGS:
            raise ConfigError(f"transformer: pooling={pooling!r} is invalid; use cls or mean")
        self.pooling = pooling
        frames = spec.length or 1
        self.embed = nn.Linear(spec.channels, embed_dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos = nn.Parameter(torch.zeros(1, frames + 1, embed_dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        nn.init.trunc_normal_(self.cls, std=0.02)
        hidden = max(1, round(mlp_ratio * embed_dim))
        self.blocks = nn.ModuleList(
            EncoderBlock(embed_dim, heads, hidden, dropout) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.classifier = nn.Linear(embed_dim, num_classes)

    def forward_features(self, x: torch.Tensor) -> ModelOutput:
        h = self.embed(x)
        h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], dim=1) + self.pos
        features = []
        for block in self.blocks:
            h = block(h)
            features.append(h)
        h = self.norm(h)
        embedding = h[:, 0] if self.pooling == "cls" else h.mean(dim=1)
        return ModelOutput(self.classifier(embedding), features, embedding)


@register_model("transformer", kinds=("sequence",), depth=2, embed_dim=64, heads=4, mlp_ratio=2.0)
def transformer(
    num_classes: int,
    spec: InputSpec,
    depth: int,
    embed_dim: int,
    heads: int,
    mlp_ratio: float,
    pooling: str = "cls",
    dropout: float = 0.0,
) -> FrameTransformer:
    """KWT-style encoder: `depth` blocks of width `embed_dim`, `heads` heads."""
    return FrameTransformer(num_classes, spec, depth, embed_dim, heads, mlp_ratio, pooling, dropout)
