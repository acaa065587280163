"""Similarity-preserving KD (Tung & Mori, ICCV 2019) on the last stage.

Inputs that the teacher represents alike should be represented alike by the
student: the batch Gram matrices of the last stage's (flattened) features,
row-normalised, are matched in squared Frobenius norm divided by B^2
(`functional.sp_loss`). The paper sums this over chosen layers; RepDistiller,
whose weight 3000 this uses, takes the last stage only, as here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from kdbench.distill.base import METHODS, NO_TEMPERATURE, DistillMethod, MethodParams
from kdbench.distill.functional import sp_loss
from kdbench.models import ModelOutput


@dataclass
class SPParams(MethodParams):
    name: str = "sp"
    alpha: float | None = None
    w1: float | None = 1.0
    w2: float | None = 3000.0
    ignored: ClassVar[tuple[str, ...]] = NO_TEMPERATURE


@METHODS.register("sp")
class SP(DistillMethod):
    Params = SPParams

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        return sp_loss(student.features[-1], teacher.features[-1])  # type: ignore[union-attr]
