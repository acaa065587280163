"""Optimizers and learning-rate schedules by name (`train.optim.name`, `train.optim.schedule`).

Registries, so the config's allowed values and the training code read one list.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch

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
