"""DIST: knowledge distillation from a stronger teacher (Huang et al., NeurIPS 2022).

Replaces KL's exact match with correlation: the inter-class relation is
1 - Pearson(student, teacher) over classes for each sample, the intra-class
relation the same over the batch for each class, on the softened
distributions; `dist_beta * inter + dist_gamma * intra`, times T^2
(`functional.dist_loss`).

`dist_form` picks the correlation: `authors` (default) is the authors' code, eps = 1e-8
in the Pearson denominator; their published settings and numbers (T = 1 on ImageNet)
belong to it, and at T = 1 with confident logits it differs from the paper's formula
(classes that no sample predicts correlate noise-level probabilities there, which eps
zeroes). `paper` is the paper's formula, no eps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kdbench.distill.base import METHODS, DistillMethod, MethodParams
from kdbench.distill.functional import DIST_EPS, dist_parts
from kdbench.errors import ConfigError
from kdbench.models import ModelOutput

#: `dist_form` -> eps of the Pearson denominator.
FORMS = {"authors": DIST_EPS, "paper": 0.0}


@dataclass
class DISTParams(MethodParams):
    name: str = "dist"
    alpha: float | None = None
    w1: float | None = 1.0
    w2: float | None = 1.0
    dist_beta: float = 2.0  # weight of the inter-class (per-sample) relation
    dist_gamma: float = 2.0  # weight of the intra-class (per-class) relation
    dist_form: str = "authors"  # authors: eps 1e-8 as their code | paper: no eps

    def check(self) -> None:
        if self.dist_form not in FORMS:
            raise ConfigError(
                f"distill.dist_form={self.dist_form!r} is invalid: one of {', '.join(FORMS)}"
            )


@METHODS.register("dist")
class DIST(DistillMethod):
    Params = DISTParams
    needs_teacher_features = False

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        c, T = self.cfg, self.cfg.T
        eps = FORMS[c.dist_form]
        inter, intra = dist_parts(student.logits, teacher.logits, T, eps)  # type: ignore[union-attr]
        scale = T * T if c.t2_scaling else 1.0
        return scale * (c.dist_beta * inter + c.dist_gamma * intra)
