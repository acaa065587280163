"""The student alone (`none`) and Hinton et al.'s knowledge distillation (`kd`)."""

from __future__ import annotations

import torch

from kdbench.distill.base import METHODS, DistillMethod
from kdbench.distill.functional import soft_kl
from kdbench.models import ModelOutput


@METHODS.register("none")
class NoDistill(DistillMethod):
    """The student trained on labels alone: the baseline every method is compared to."""

    uses_teacher = False

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        return student.logits.new_zeros(())


@METHODS.register("kd")
class KD(DistillMethod):
    """KL(teacher || student) at temperature T, times T^2 unless `t2_scaling` is off."""

    params = ("T", "alpha", "w1", "w2", "t2_scaling")

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        T = self.cfg.T
        scale = T * T if self.cfg.t2_scaling else 1.0
        return soft_kl(student.logits, teacher.logits, T) * scale  # type: ignore[union-attr]
