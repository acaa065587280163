"""DIST: knowledge distillation from a stronger teacher (Huang et al., NeurIPS 2022).

Replaces KL's exact match with correlation: the inter-class relation is
1 - Pearson(student, teacher) over classes for each sample, the intra-class
relation the same over the batch for each class, on the softened
distributions; `dist_beta * inter + dist_gamma * intra`, times T^2.
"""

from __future__ import annotations

import torch

from kdbench.distill.base import METHODS, DistillMethod
from kdbench.models import ModelOutput


def pearson_rows(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Pearson correlation of each row of `a` with the same row of `b`."""
    a = a - a.mean(dim=1, keepdim=True)
    b = b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1) + eps)


def dist_parts(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inter, intra) relation losses, without T^2."""
    ps = torch.softmax(student_logits.float() / T, dim=1)
    pt = torch.softmax(teacher_logits.float() / T, dim=1)
    inter = 1 - pearson_rows(ps, pt).mean()
    intra = 1 - pearson_rows(ps.t(), pt.t()).mean()
    return inter, intra


@METHODS.register("dist")
class DIST(DistillMethod):
    params = ("T", "alpha", "w1", "w2", "t2_scaling", "dist_beta", "dist_gamma")
    needs_teacher_features = False

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        c, T = self.cfg, self.cfg.T
        inter, intra = dist_parts(student.logits, teacher.logits, T)  # type: ignore[union-attr]
        scale = T * T if c.t2_scaling else 1.0
        return scale * (c.dist_beta * inter + c.dist_gamma * intra)
