"""Attention transfer (Zagoruyko & Komodakis, ICLR 2017).

The attention map of a stage is the channel mean of |f|^p, flattened and
L2-normalised; the term sums, over paired stages, the mean squared difference
of the student's and teacher's maps (`functional.at_loss`, the authors' and
RepDistiller's form). Stages are paired at equal relative depth; the larger map
is average-pooled to the smaller's size. Channels need no adapter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from kdbench.distill.adapters import paired_stages, probe, require_maps
from kdbench.distill.base import METHODS, NO_TEMPERATURE, DistillMethod, MethodParams
from kdbench.distill.functional import at_loss
from kdbench.models import ModelOutput


@dataclass
class ATParams(MethodParams):
    name: str = "at"
    alpha: float | None = None
    w1: float | None = 1.0
    w2: float | None = 1000.0
    at_p: float = 2.0  # power of the activation map
    ignored: ClassVar[tuple[str, ...]] = NO_TEMPERATURE


@METHODS.register("at")
class AT(DistillMethod):
    Params = ATParams

    def __init__(self, cfg, student, teacher, sample, num_train=0, train_labels=None) -> None:
        super().__init__(cfg, student, teacher, sample, num_train, train_labels)
        fs, ft = probe(student, sample).features, probe(teacher, sample).features
        self.pairs = paired_stages(len(fs), len(ft))
        for i, j in self.pairs:
            require_maps("at", student, teacher, fs[i], ft[j])

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        ft = teacher.features  # type: ignore[union-attr]
        return sum(at_loss(student.features[i], ft[j], self.cfg.at_p) for i, j in self.pairs)
