"""Decoupled knowledge distillation (Zhao et al., CVPR 2022).

KD's KL splits into a target-class part (TCKD: the binary distribution
[p_target, 1 - p_target]) and a non-target part (NCKD: the distribution over the
other classes, renormalised); DKD weights them independently,
`dkd_alpha * TCKD + dkd_beta * NCKD`, times T^2, ramped in over `warmup` epochs
(mdistiller's `min(epoch / warmup, 1)`, counted from epoch 1). Computed in log
space (`functional.dkd_parts`): exact at any logit scale, where the reference's
`1 - p_t` in float32 and its clamp-free `log` of it are not.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kdbench.distill.base import METHODS, DistillMethod, MethodParams
from kdbench.distill.functional import dkd_loss, standardize
from kdbench.models import ModelOutput


@dataclass
class DKDParams(MethodParams):
    name: str = "dkd"
    alpha: float | None = None
    w1: float | None = 1.0
    w2: float | None = 1.0
    dkd_alpha: float = 1.0  # weight of the target-class part (TCKD)
    dkd_beta: float = 8.0  # weight of the non-target part (NCKD); published per pair
    warmup: int = 20  # epochs over which the term ramps up linearly from 0
    logit_stand: bool = False  # z-score logits per sample before /T (Sun et al., 2024)


@METHODS.register("dkd")
class DKD(DistillMethod):
    Params = DKDParams
    needs_teacher_features = False

    def ramp(self) -> float:
        """Linear warm-up: (epoch + 1) / warmup, capped at 1 (epochs count from 0 here)."""
        w = self.cfg.warmup
        return 1.0 if w <= 0 else min((self.epoch + 1) / w, 1.0)

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        c, T = self.cfg, self.cfg.T
        s, t = student.logits, teacher.logits  # type: ignore[union-attr]
        if c.logit_stand:
            s, t = standardize(s), standardize(t)
        term = dkd_loss(s, t, labels, c.dkd_alpha, c.dkd_beta, T)
        if not c.t2_scaling:
            term = term / (T * T)
        return self.ramp() * term
