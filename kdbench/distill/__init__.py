"""Distillation losses. Importing this package registers every method."""

from kdbench.distill import kd  # noqa: F401  (registration side effects)
from kdbench.distill.base import METHODS, DistillMethod
from kdbench.distill.functional import kd_loss, soft_cross_entropy, soft_kl, weighted_total

__all__ = [
    "METHODS",
    "DistillMethod",
    "kd_loss",
    "soft_cross_entropy",
    "soft_kl",
    "weighted_total",
]
