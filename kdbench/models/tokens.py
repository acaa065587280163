"""What every token model shares: the embedding table and the padding mask.

A token model takes one int64 tensor (N, L); padding is `spec.pad_index`, and
the mask is derived from it (`x != pad_index`), so the deployed model has a
single input (kdbench/inputs.py). The embedding's parameters count in the
model's parameters and size; its lookups count as 0 FLOPs: a lookup is memory
traffic, not arithmetic, and `torch.utils.flop_counter.FlopCounterMode` counts
none for `aten.embedding` either.
"""

from __future__ import annotations

import torch
from torch import nn

from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec


def token_spec(spec: InputSpec, model: str) -> InputSpec:
    if spec.kind != "tokens" or spec.vocab_size is None:
        raise ConfigError(f"model {model!r} takes token inputs, got {spec.kind}")
    return spec


def embedding(spec: InputSpec, dim: int) -> nn.Embedding:
    """The token table; the padding row stays zero and gets no gradient."""
    assert spec.vocab_size is not None
    return nn.Embedding(spec.vocab_size, dim, padding_idx=spec.pad_index)


def masked_mean(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the positions where `mask` (N, L) holds, of h (N, L, D)."""
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp_min(1.0)
