"""Decoupled knowledge distillation (Zhao et al., CVPR 2022).

KD's KL splits into a target-class part (TCKD: the binary distribution
[p_target, 1 - p_target]) and a non-target part (NCKD: the distribution over the
other classes, renormalised); DKD weights them independently,
`dkd_alpha * TCKD + dkd_beta * NCKD`, times T^2, ramped in over `warmup` epochs.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdbench.distill.base import METHODS, DistillMethod
from kdbench.distill.functional import standardize
from kdbench.models import ModelOutput


def _binary(p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    pt = p.gather(1, target[:, None])
    return torch.cat([pt, 1 - pt], dim=1)


def _non_target(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The logits of the other classes, (B, C-1), in class order."""
    keep = torch.ones_like(z, dtype=torch.bool).scatter_(1, target[:, None], False)
    return z[keep].view(z.shape[0], z.shape[1] - 1)


def dkd_parts(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, target: torch.Tensor, T: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(TCKD, NCKD), each a KL(teacher || student) averaged over the batch, without T^2."""
    s, t = student_logits.float() / T, teacher_logits.float() / T
    bs, bt = _binary(F.softmax(s, 1), target), _binary(F.softmax(t, 1), target)
    tckd = (bt * (bt.clamp_min(1e-12).log() - bs.clamp_min(1e-12).log())).sum(1).mean()
    ns, nt = _non_target(s, target), _non_target(t, target)
    nckd = F.kl_div(
        F.log_softmax(ns, 1), F.log_softmax(nt, 1), reduction="batchmean", log_target=True
    )
    return tckd, nckd


@METHODS.register("dkd")
class DKD(DistillMethod):
    needs_teacher_features = False
    params = (
        "T",
        "alpha",
        "w1",
        "w2",
        "t2_scaling",
        "logit_stand",
        "dkd_alpha",
        "dkd_beta",
        "warmup",
    )

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
        tckd, nckd = dkd_parts(s, t, labels, T)
        scale = T * T if c.t2_scaling else 1.0
        return self.ramp() * scale * (c.dkd_alpha * tckd + c.dkd_beta * nckd)
