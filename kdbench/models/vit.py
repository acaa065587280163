"""Vision transformers for small images: ViT (Lite) and the Compact Convolutional Transformer.

Both follow the authors' code for CIFAR (Hassani et al., 2021, "Escaping the
Big Data Paradigm with Compact Transformers", github SHI-Labs/Compact-Transformers,
`src/utils/transformers.py`, `src/utils/tokenizer.py`): a tokenizer turns the image
into a grid of tokens, a learnable (or sinusoidal) positional embedding is added,
pre-norm encoder blocks follow, a final LayerNorm, and a linear head reads

* `vit`: a class token (ViT-Lite: a patch convolution of stride = patch size, with bias);
* `cct`: sequence pooling, a softmax attention over the tokens (`attention_pool`),
  after a convolutional tokenizer of `conv_layers` x (k x k conv without bias, ReLU,
  3/2/1 max-pool), 64 channels between the first and last convolution.

Parameter counts equal the published ones (CCT-2/3x2 0.284 M, CCT-7/3x1 3.76 M,
ViT-Lite-7/4 3.717 M on CIFAR-10; tests/test_transformers.py). Departures from the
authors' code, none of which changes a parameter count: their block normalizes the
residual stream before the MLP (`src = norm1(src)`), ours is the standard pre-norm
block of ViT and DeiT (`x + mlp(norm2(x))`); no dropout or stochastic depth (CPU
scale, few epochs); attention is written as two matmuls and a softmax (not fused
scaled-dot-product attention) so that FLOP counting sees QK^T and AV and ONNX export
gives plain MatMul/Softmax nodes that int8 quantization understands.

A distillation token (DeiT, Touvron et al., 2021) is added on request by the method
that trains it (`enable_distillation_token`): a learned token and its own head; the
model's logits are then the mean of both heads' (DeiT at inference), and each head's
logits are in `ModelOutput.heads`. The token carries no positional embedding (the
token is itself free, so a position added to it would be redundant).

`features` are the patch tokens of every block laid out on the token grid,
`[B, D, h, w]`, so map-based feature methods (FitNet, AT) pair a transformer with
a CNN without a further adapter; `embedding` is the vector the class head reads.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec
from kdbench.models.base import FeatureModel, ModelOutput
from kdbench.models.registry import register_model

POSITIONAL = ("learnable", "sine")


class Attention(nn.Module):
    """Multi-head self-attention: qkv without bias (as timm and CCT), an output projection."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * self.scale, dim=-1)
        return self.proj(torch.matmul(attn, v).transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    """Pre-norm encoder block: x + attn(norm1(x)), then x + mlp(norm2(x)), GELU MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = int(dim * mlp_ratio)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


def sinusoidal(length: int, dim: int) -> torch.Tensor:
    """The fixed embedding of the CCT code: p / 10000^(2 floor(i/2) / dim), sin even, cos odd."""
    p = torch.arange(length, dtype=torch.float64)[:, None]
    i = torch.arange(dim, dtype=torch.float64)[None, :]
    pe = p / 10000 ** (2 * torch.div(i, 2, rounding_mode="floor") / dim)
    pe[:, 0::2] = torch.sin(pe[:, 0::2])
    pe[:, 1::2] = torch.cos(pe[:, 1::2])
    return pe.float()[None]


class VisionTransformer(FeatureModel):
    """Tokenizer (image -> [B, D, h, w]) + positional embedding + blocks + norm + head(s).

    `class_token=True`: the head reads a class token (ViT); False: sequence pooling (CCT).
    """

    def __init__(
        self,
        tokenizer: nn.Module,
        spec: InputSpec,
        num_classes: int,
        embed_dim: int,
        depth: int,
        heads: int,
        mlp_ratio: float,
        class_token: bool,
        positional: str,
    ) -> None:
        super().__init__()
        if embed_dim % heads:
            raise ConfigError(f"embed_dim={embed_dim} must be a multiple of heads={heads}")
        if positional not in POSITIONAL:
            raise ConfigError(f"positional={positional!r}; choose one of {', '.join(POSITIONAL)}")
        self.tokenizer = tokenizer
        with torch.no_grad():
            self.grid = tuple(tokenizer(torch.zeros(1, *spec.shape)).shape[-2:])
        length = self.grid[0] * self.grid[1] + int(class_token)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.attention_pool = None if class_token else nn.Linear(embed_dim, 1)
        if positional == "learnable":
            self.pos_embed = nn.Parameter(
                nn.init.trunc_normal_(torch.zeros(1, length, embed_dim), std=0.2)
            )
        else:
            self.register_buffer("pos_embed", sinusoidal(length, embed_dim), persistent=False)
        self.blocks = nn.ModuleList(Block(embed_dim, heads, mlp_ratio) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)
        self.head = nn.Linear(embed_dim, num_classes)
        self.dist_token: nn.Parameter | None = None
        self.head_dist: nn.Linear | None = None
        self.apply(_init_weights)

    # -- the distillation token (DeiT) ---------------------------------------------------
    @property
    def distilled(self) -> bool:
        return self.dist_token is not None

    def enable_distillation_token(self) -> None:
        """Add DeiT's distillation token and head (idempotent); call before building the optimizer."""
        if self.distilled:
            return
        ref = self.head.weight
        dim, classes = ref.shape[1], ref.shape[0]
        token = torch.zeros(1, 1, dim, device=ref.device, dtype=ref.dtype)
        self.dist_token = nn.Parameter(nn.init.trunc_normal_(token, std=0.02))
        self.head_dist = nn.Linear(dim, classes).to(ref.device, ref.dtype)
        _init_weights(self.head_dist)

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ):
        """A state with a distillation token brings its head: a kept DeiT student reloads as one."""
        if "dist_token" in state_dict:
            self.enable_distillation_token()
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def no_weight_decay(self) -> set[str]:
        """Parameters the transformer recipe exempts from weight decay besides norms and biases."""
        return {"cls_token", "dist_token", "pos_embed"}

    # -- forward ---------------------------------------------------------------------------
    @property
    def prefix(self) -> int:
        """Tokens before the patch tokens: class and distillation tokens."""
        return int(self.cls_token is not None) + int(self.distilled)

    def _encode(self, x: torch.Tensor, features: list[torch.Tensor] | None) -> torch.Tensor:
        t = self.tokenizer(x).flatten(2).transpose(1, 2)  # [B, h*w, D]
        b = t.shape[0]
        if self.cls_token is not None:
            t = torch.cat([self.cls_token.expand(b, -1, -1), t], dim=1)
        t = t + self.pos_embed
        if self.dist_token is not None:
            at = int(self.cls_token is not None)
            t = torch.cat([t[:, :at], self.dist_token.expand(b, -1, -1), t[:, at:]], dim=1)
        for block in self.blocks:
            t = block(t)
            if features is not None:
                features.append(self._as_map(t))
        return self.norm(t)

    def _as_map(self, t: torch.Tensor) -> torch.Tensor:
        patches = t[:, self.prefix :]
        return patches.transpose(1, 2).reshape(t.shape[0], t.shape[2], *self.grid)

    def _heads(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict | None]:
        if self.attention_pool is not None:
            patches = t[:, self.prefix :]
            weights = torch.softmax(self.attention_pool(patches), dim=1)  # [B, N, 1]
            embedding = torch.matmul(weights.transpose(1, 2), patches).squeeze(1)
        else:
            embedding = t[:, 0]
        logits = self.head(embedding)
        if self.head_dist is None:
            return logits, embedding, None
        dist = self.head_dist(t[:, self.prefix - 1])  # the distillation token's output
        return (logits + dist) / 2, embedding, {"cls": logits, "dist": dist}

    def forward_features(self, x: torch.Tensor) -> ModelOutput:
        features: list[torch.Tensor] = []
        logits, embedding, heads = self._heads(self._encode(x, features))
        return ModelOutput(logits, features, embedding, heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._heads(self._encode(x, None))[0]


def _init_weights(m: nn.Module) -> None:
    """The CCT code's initialisation: trunc-normal(0.02) linears, kaiming convs."""
    if isinstance(m, nn.Linear):
        nn.init.trunc_normal_(m.weight, std=0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)
    elif isinstance(m, nn.Conv2d):
        nn.init.kaiming_normal_(m.weight)


def _check_side(spec: InputSpec, patch_size: int) -> None:
    _, h, w = spec.shape
    if h % patch_size or w % patch_size:
        raise ConfigError(
            f"patch_size={patch_size} does not divide the {h}x{w} images; "
            f"pick a divisor of {math.gcd(h, w)}"
        )


@register_model(
    "vit",
    hooks=("distillation_token",),
    depth=7,
    embed_dim=256,
    heads=4,
    mlp_ratio=2.0,
    patch_size=4,
    positional="learnable",
)
def vit(
    num_classes: int,
    spec: InputSpec,
    depth: int,
    embed_dim: int,
    heads: int,
    mlp_ratio: float,
    patch_size: int,
    positional: str,
) -> VisionTransformer:
    """ViT-Lite (Hassani et al., 2021): patch convolution, class token; defaults: ViT-Lite-7/4."""
    _check_side(spec, patch_size)
    patches = nn.Conv2d(spec.channels, embed_dim, patch_size, stride=patch_size)
    return VisionTransformer(
        patches, spec, num_classes, embed_dim, depth, heads, mlp_ratio, True, positional
    )


def conv_tokenizer(c_in: int, dim: int, layers: int, kernel: int) -> nn.Sequential:
    """CCT's tokenizer: `layers` x (conv k x k, no bias; ReLU; max-pool 3/2/1), 64 channels between.

    Stride max(1, k // 2 - 1) and padding max(1, k // 2), as in the authors' code."""
    channels = [c_in] + [64] * (layers - 1) + [dim]
    stride, padding = max(1, kernel // 2 - 1), max(1, kernel // 2)
    modules: list[nn.Module] = []
    for a, b in zip(channels[:-1], channels[1:]):
        modules += [
            nn.Conv2d(a, b, kernel, stride=stride, padding=padding, bias=False),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        ]
    return nn.Sequential(*modules)


@register_model(
    "cct",
    hooks=("distillation_token",),
    depth=7,
    embed_dim=256,
    heads=4,
    mlp_ratio=2.0,
    kernel_size=3,
    conv_layers=1,
    positional="learnable",
)
def cct(
    num_classes: int,
    spec: InputSpec,
    depth: int,
    embed_dim: int,
    heads: int,
    mlp_ratio: float,
    kernel_size: int,
    conv_layers: int,
    positional: str,
) -> VisionTransformer:
    """Compact Convolutional Transformer: conv tokenizer + sequence pooling; defaults: CCT-7/3x1."""
    if conv_layers < 1:
        raise ConfigError(f"cct needs conv_layers >= 1, got {conv_layers}")
    side = min(spec.shape[1:])
    if side < 2**conv_layers:
        raise ConfigError(
            f"cct with conv_layers={conv_layers} pools {side}x{side} images below one token; "
            f"use conv_layers <= {max(1, int(math.log2(side)))}"
        )
    tokenizer = conv_tokenizer(spec.channels, embed_dim, conv_layers, kernel_size)
    return VisionTransformer(
        tokenizer, spec, num_classes, embed_dim, depth, heads, mlp_ratio, False, positional
    )
