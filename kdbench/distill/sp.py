"""Similarity-preserving KD (Tung & Mori, ICCV 2019).

Inputs that the teacher represents alike should be represented alike by the
student: the batch Gram matrices of the last stage's (flattened) features,
row-normalised, are matched in squared Frobenius norm divided by B^2. Any
shapes pair (the Gram matrix is B x B), so no adapter is needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdbench.distill.base import METHODS, DistillMethod
from kdbench.models import ModelOutput


def sp_loss(fs: torch.Tensor, ft: torch.Tensor) -> torch.Tensor:
    b = fs.shape[0]
    fs, ft = fs.float().flatten(1), ft.float().flatten(1)
    gs = F.normalize(fs @ fs.t(), dim=1)
    gt = F.normalize(ft @ ft.t(), dim=1)
    return (gs - gt).pow(2).sum() / (b * b)


@METHODS.register("sp")
class SP(DistillMethod):
    params = ("alpha", "w1", "w2")

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        return sp_loss(student.features[-1], teacher.features[-1])  # type: ignore[union-attr]
