"""FLOP formulas for aten ops that `FlopCounterMode` does not count (torch 2.13, CPU).

FlopCounterMode counts matmuls and convolutions it has formulas for. Two kernels
that sequence models hit on CPU have none and would count as zero:

* `aten.mkldnn_rnn_layer`: one LSTM layer and direction (oneDNN), used by
  `nn.LSTM` in inference. Per time step and sample it computes the gate
  pre-activations `W_ih x_t + W_hh h_(t-1)`, with `W_ih` [G*H, I] and `W_hh`
  [G*H, H] (G = 4 gates for LSTM): `2 * (G*H*I + G*H*H)` FLOPs (2 per MAC), times
  T * B steps. Biases and the gate nonlinearities are elementwise and, as for
  every other layer, not counted. (`nn.GRU` runs as addmm ops on CPU and is
  counted by FlopCounterMode itself, by the same rule.)
* `aten._scaled_dot_product_flash_attention_for_cpu`: attention with q [B, h, L, E],
  k [B, h, S, E], v [B, h, S, Ev]: `Q K^T` is `2 * B*h*L*S*E`, `softmax(.) V` is
  `2 * B*h*L*S*Ev` (softmax and scaling are elementwise, not counted).

The table maps each op to its formula in FlopCounterMode's `custom_mapping`
form (argument shapes in, FLOPs out); a new uncounted op is one more entry.
"""

from __future__ import annotations

import math
from typing import Any

import torch

Shape = tuple[int, ...]


def rnn_layer_flops(input_shape: Shape, w_ih: Shape, w_hh: Shape) -> int:
    """2 * steps * (G*H*I + G*H*H), steps = all time steps of all samples in the input."""
    gates_hidden, features = w_ih
    hidden = w_hh[1]
    steps = math.prod(input_shape) // features
    return 2 * steps * (gates_hidden * features + gates_hidden * hidden)


def attention_flops(q: Shape, k: Shape, v: Shape) -> int:
    """2*B*h*L*S*E (scores) + 2*B*h*L*S*Ev (weighted values)."""
    *batch, length, e = q
    source = k[-2]
    ev = v[-1]
    b = math.prod(batch)
    return 2 * b * length * source * e + 2 * b * length * source * ev


def _mkldnn_rnn_layer(input, weight0, weight1, *args: Any, out_shape=None, **kwargs: Any) -> int:  # noqa: A002
    return rnn_layer_flops(tuple(input), tuple(weight0), tuple(weight1))


def _sdpa_cpu(query, key, value, *args: Any, out_shape=None, **kwargs: Any) -> int:
    return attention_flops(tuple(query), tuple(key), tuple(value))


#: aten op (overload packet, as FlopCounterMode keys them) -> formula(argument shapes..., out_shape=...) for FlopCounterMode(custom_mapping=...).
EXTRA_FLOP_FORMULAS: dict[Any, Any] = {
    torch.ops.aten.mkldnn_rnn_layer: _mkldnn_rnn_layer,
    torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: _sdpa_cpu,
}
