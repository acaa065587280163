"""DIST: knowledge distillation from a stronger teacher (Huang et al., NeurIPS 2022).

Replaces KL's exact match with correlation: the inter-class relation is
1 - Pearson(student, teacher) over classes for each sample, the intra-class
relation the same over the batch for each class, on the softened
distributions; `dist_beta * inter + dist_gamma * intra`, times T^2
(`functional.dist_loss`; unlike the authors' code, no eps in the correlation).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kdbench.distill.base import METHODS, DistillMethod, MethodParams
from kdbench.distill.functional import dist_parts
from kdbench.models import ModelOutput


@dataclass
class DISTParams(MethodParams):
    name: str = "dist"
    alpha: float | None = None
    w1: float | None = 1.0
    w2: float | None = 1.0
    dist_beta: float = 2.0  # weight of the inter-class (per-sample) relation
    dist_gamma: float = 2.0  # weight of the intra-class (per-class) relation


@METHODS.register("dist")
class DIST(DistillMethod):
    Params = DISTParams
    needs_teacher_features = False

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        c, T = self.cfg, self.cfg.T
        inter, intra = dist_parts(student.logits, teacher.logits, T)  # type: ignore[union-attr]
        scale = T * T if c.t2_scaling else 1.0
        return scale * (c.dist_beta * inter + c.dist_gamma * intra)
