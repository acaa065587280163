"""Fit a model's layers to the tensor shapes of a state dict: rebuild a pruned network.

Structured pruning removes whole channels, so a pruned student no longer has the
shapes its builder makes. Instead of pickling the pruned module (code in the
file), its record keeps the shape of every tensor that changed
(`changed_shapes`); `fit_shapes` gives a freshly built model those shapes again,
so re-measuring and deployment rebuild it from the registry and plain tensors.
The layers' size attributes (channels, features) are kept consistent with their
new weights, which is all the forward passes of Conv/BatchNorm/Linear/LayerNorm read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn


def changed_shapes(model: nn.Module, reference: nn.Module) -> dict[str, list[int]]:
    """Tensor name -> shape for every parameter/buffer of `model` whose shape differs in `reference`."""
    before = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    return {
        k: list(v.shape)
        for k, v in model.state_dict().items()
        if torch.is_tensor(v) and before.get(k) != tuple(v.shape)
    }


def fit_shapes(model: nn.Module, shapes: Mapping[str, Sequence[int]]) -> nn.Module:
    """`model` with each named parameter/buffer resized (uninitialised) to `shapes`; in place."""
    modules = dict(model.named_modules())
    touched: dict[str, nn.Module] = {}
    for name, shape in shapes.items():
        owner, _, leaf = name.rpartition(".")
        module = modules[owner]
        old = getattr(module, leaf)
        new = torch.empty(tuple(shape), dtype=old.dtype, device=old.device)
        if isinstance(old, nn.Parameter):
            setattr(module, leaf, nn.Parameter(new, requires_grad=old.requires_grad))
        else:
            module._buffers[leaf] = new
        touched[owner] = module
    for module in touched.values():
        _sync_sizes(module)
    return model


def _sync_sizes(module: nn.Module) -> None:
    """Make a layer's size attributes agree with its (resized) weight."""
    if isinstance(module, nn.modules.conv._ConvNd):
        out_c, in_per_group = module.weight.shape[:2]
        depthwise = module.groups > 1 and module.groups == module.in_channels
        module.out_channels = out_c
        module.groups = out_c if depthwise else module.groups
        module.in_channels = in_per_group * module.groups
    elif isinstance(module, nn.Linear):
        module.out_features, module.in_features = module.weight.shape
    elif isinstance(module, nn.modules.batchnorm._NormBase):
        module.num_features = (
            module.running_mean.shape[0]
            if module.running_mean is not None
            else module.weight.shape[0]
        )
    elif isinstance(module, nn.LayerNorm):
        module.normalized_shape = tuple(module.weight.shape)
    elif isinstance(module, nn.GroupNorm):
        module.num_channels = module.weight.shape[0]
