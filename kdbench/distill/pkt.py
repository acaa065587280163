"""Probabilistic knowledge transfer (Passalis & Tefas, ECCV 2018) on the embeddings.

Each side's embeddings define, through the cosine kernel ((cos + 1) / 2)
normalised per row, a conditional distribution over the samples of the batch;
the term is KL(teacher || student) averaged over all B^2 entries
(`functional.pkt_loss`, the authors' form). Embedding sizes may differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from kdbench.distill.base import METHODS, NO_TEMPERATURE, DistillMethod, MethodParams
from kdbench.distill.functional import pkt_loss
from kdbench.models import ModelOutput


@dataclass
class PKTParams(MethodParams):
    name: str = "pkt"
    alpha: float | None = None
    w1: float | None = 1.0
    w2: float | None = 30000.0
    ignored: ClassVar[tuple[str, ...]] = NO_TEMPERATURE


@METHODS.register("pkt")
class PKT(DistillMethod):
    Params = PKTParams

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        return pkt_loss(student.embedding, teacher.embedding)  # type: ignore[union-attr]
