"""The student alone (`none`) and Hinton et al.'s knowledge distillation (`kd`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import ClassVar

import torch

from kdbench.distill.base import METHODS, DistillMethod, MethodParams
from kdbench.distill.functional import soft_kl, standardize
from kdbench.models import ModelOutput


@dataclass
class NoneParams(MethodParams):
    name: str = "none"
    # the baseline reads nothing: w1 = 1, w2 = 0 always, so no setting splits its cells
    ignored: ClassVar[tuple[str, ...]] = tuple(f.name for f in fields(MethodParams))[1:]


@METHODS.register("none")
class NoDistill(DistillMethod):
    """The student trained on labels alone: the baseline every method is compared to."""

    Params = NoneParams
    uses_teacher = False

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        return student.logits.new_zeros(())


@dataclass
class KDParams(MethodParams):
    name: str = "kd"
    # z-score both sides' logits per sample before /T (Sun et al., 2024): `distill=kd_ls`
    logit_stand: bool = False


@METHODS.register("kd")
class KD(DistillMethod):
    """KL(teacher || student) at temperature T, times T^2 unless `t2_scaling` is off.

    `logit_stand=true` z-scores both sides' logits per sample first (Sun et al., 2024),
    as the authors' code does (`kdbench.distill.functional.standardize`).
    """

    Params = KDParams
    needs_teacher_features = False

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        T = self.cfg.T
        scale = T * T if self.cfg.t2_scaling else 1.0
        s, t = student.logits, teacher.logits  # type: ignore[union-attr]
        if self.cfg.logit_stand:
            s, t = standardize(s), standardize(t)
        return soft_kl(s, t, T) * scale
