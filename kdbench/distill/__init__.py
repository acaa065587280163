"""Distillation losses. Importing this package registers every method."""

from kdbench.distill import (  # noqa: F401  (registration side effects)
    at,
    crd,
    dist,
    dkd,
    fitnet,
    kd,
    pkt,
    rkd,
    sp,
)
from kdbench.distill.base import METHODS, DistillMethod
from kdbench.distill.functional import (
    kd_loss,
    soft_cross_entropy,
    soft_kl,
    standardize,
    weighted_total,
)

__all__ = [
    "METHODS",
    "DistillMethod",
    "kd_loss",
    "soft_cross_entropy",
    "soft_kl",
    "standardize",
    "weighted_total",
]
