"""Optimizers and learning-rate schedules by name (`train.optim.name`, `train.optim.schedule`).

Registries, so the config's allowed values and the training code read one list.
Two recipe options apply to every optimizer and schedule: a linear warm-up
(`warmup_epochs`, then the schedule over the remaining steps) and weight-decay
groups (`decay_exempt`: no decay on norms, biases, tokens and positional
embeddings, as DeiT's and CCT's transformer recipes train).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from kdbench.config import OptimConfig
from kdbench.registry import Registry

OptimizerFactory = Callable[[Iterable[torch.nn.Parameter], OptimConfig], torch.optim.Optimizer]
OPTIMIZERS: Registry[OptimizerFactory] = Registry("optimizer")
# name -> (step, total steps) -> learning-rate factor
SCHEDULES: Registry[Callable[[int, int], float]] = Registry("schedule")


@OPTIMIZERS.register("sgd")
def sgd(params: Iterable[torch.nn.Parameter], o: OptimConfig) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum, as the CIFAR distillation papers train."""
    return torch.optim.SGD(
        params, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay, nesterov=True
    )


@OPTIMIZERS.register("adamw")
def adamw(params: Iterable[torch.nn.Parameter], o: OptimConfig) -> torch.optim.Optimizer:
    return torch.optim.AdamW(params, lr=o.lr, weight_decay=o.weight_decay)


@SCHEDULES.register("cosine")
def cosine(step: int, total: int) -> float:
    """Cosine decay to 0 over the whole run, stepped per batch."""
    return 0.5 * (1 + math.cos(math.pi * min(step, total) / max(1, total)))


@SCHEDULES.register("constant")
def constant(step: int, total: int) -> float:
    return 1.0


def with_warmup(factor: Callable[[int, int], float], warmup: int) -> Callable[[int, int], float]:
    """`factor` after a linear warm-up of `warmup` steps ((step + 1) / warmup of the rate)."""
    if warmup <= 0:
        return factor

    def warmed(step: int, total: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return factor(step - warmup, max(1, total - warmup))

    return warmed


def decay_exempt_names(model: nn.Module) -> set[str]:
    """Parameters that get no weight decay: every 1-d one (norm scales and shifts, biases)
    and those a module names in its `no_weight_decay()` (tokens, positional embeddings)."""
    names = {n for n, p in model.named_parameters() if p.ndim <= 1}
    for prefix, module in model.named_modules():
        if hasattr(module, "no_weight_decay"):
            for leaf in module.no_weight_decay():
                names.add(f"{prefix}.{leaf}" if prefix else leaf)
    return names


def param_groups(model: nn.Module, o: OptimConfig) -> list[dict[str, Any]] | list[nn.Parameter]:
    """The trainable parameters, split into a decayed and an exempt group when `decay_exempt`."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not o.decay_exempt:
        return [p for _, p in named]
    exempt = decay_exempt_names(model)
    return [
        {"params": [p for n, p in named if n not in exempt]},
        {"params": [p for n, p in named if n in exempt], "weight_decay": 0.0},
    ]
