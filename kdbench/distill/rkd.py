"""Relational knowledge distillation (Park et al., CVPR 2019): distance and angle.

Distance: pairwise Euclidean distances of the embeddings, each side divided by
its mean distance over pairs, matched with the Huber (smooth L1) loss. Angle:
the cosines of the angles each triplet forms, matched the same way. Term =
`rkd_distance * distance + rkd_angle * angle` (`functional.rkd_loss`). The
teacher's embeddings are detached; embedding sizes may differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from kdbench.distill.base import METHODS, NO_TEMPERATURE, DistillMethod, MethodParams
from kdbench.distill.functional import rkd_loss
from kdbench.models import ModelOutput


@dataclass
class RKDParams(MethodParams):
    name: str = "rkd"
    alpha: float | None = None
    w1: float | None = 1.0
    w2: float | None = 1.0
    rkd_distance: float = 25.0  # weight of the distance term
    rkd_angle: float = 50.0  # weight of the angle term
    ignored: ClassVar[tuple[str, ...]] = NO_TEMPERATURE


@METHODS.register("rkd")
class RKD(DistillMethod):
    Params = RKDParams

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        fs, ft = student.embedding, teacher.embedding.detach()  # type: ignore[union-attr]
        return rkd_loss(fs, ft, self.cfg.rkd_distance, self.cfg.rkd_angle)
