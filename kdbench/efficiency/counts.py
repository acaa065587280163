"""Static costs of a network: parameters, forward FLOPs, size of its fp32 weights."""

from __future__ import annotations

import io
import warnings

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from kdbench.efficiency.formulas import EXTRA_FLOP_FORMULAS


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (all, or only those with `requires_grad`)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(
    model: nn.Module, input_shape: tuple[int, ...], example: torch.Tensor | None = None
) -> int:
    """Forward FLOPs for one input of `input_shape` (with batch dim), 2 per MAC.

    `example`: a real input of that shape (token ids, a padded sequence) to count
    on instead of zeros; models whose work depends on the values (padding masks)
    are then counted as they run on data.

    FlopCounterMode counts the aten ops that run (conv, matmul, addmm, ...), so
    the figure follows the executed graph rather than a per-layer formula;
    elementwise ops (BN, ReLU, adds) are not counted, as in the published counts.
    oneDNN is off while counting: its fused RNN kernel (`mkldnn_rnn`) is one op the
    counter has no formula for (an LSTM counted 0), while the native path runs the
    LSTM's matmuls as counted ops (2 * 4H(in + H) per step and direction, as by hand).
    Embedding lookups count 0 (memory traffic, no arithmetic).
    Other ops it has no formula for (the CPU LSTM and attention kernels) are counted by
    the formulas in `kdbench.efficiency.formulas`.
    """
    x = torch.zeros(input_shape) if example is None else example
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False, custom_mapping=EXTRA_FLOP_FORMULAS)
    try:
        with warnings.catch_warnings():  # the flags toggle warns about Intel GPUs' TF32
            warnings.simplefilter("ignore")
            with torch.backends.mkldnn.flags(enabled=False), counter, torch.no_grad():
                model(x)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def state_dict_bytes(model: nn.Module) -> int:
    """Size of the fp32 state dict as `torch.save` writes it."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes
