"""Attention transfer (Zagoruyko & Komodakis, ICLR 2017).

The attention map of a stage is the channel mean of |f|^p, flattened and
L2-normalised; the term sums, over paired stages, the mean squared difference
of the student's and teacher's maps (as in RepDistiller). Stages are paired at
equal relative depth; the larger map is average-pooled to the smaller's size.
Channels need no adapter (they are averaged away).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdbench.distill.adapters import match_spatial, paired_stages, probe, require_maps
from kdbench.distill.base import METHODS, DistillMethod
from kdbench.models import ModelOutput


def attention_map(f: torch.Tensor, p: float) -> torch.Tensor:
    return F.normalize(f.float().pow(p).mean(dim=1).flatten(1), dim=1)


def at_loss(fs: torch.Tensor, ft: torch.Tensor, p: float = 2.0) -> torch.Tensor:
    fs, ft = match_spatial(fs, ft)
    return (attention_map(fs, p) - attention_map(ft, p)).pow(2).mean()


@METHODS.register("at")
class AT(DistillMethod):
    params = ("alpha", "w1", "w2", "at_p")

    def __init__(self, cfg, student, teacher, sample, num_train: int = 0) -> None:
        super().__init__(cfg, student, teacher, sample, num_train)
        fs, ft = probe(student, sample).features, probe(teacher, sample).features
        self.pairs = paired_stages(len(fs), len(ft))
        for i, j in self.pairs:
            require_maps("at", student, teacher, fs[i], ft[j])

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        ft = teacher.features  # type: ignore[union-attr]
        return sum(at_loss(student.features[i], ft[j], self.cfg.at_p) for i, j in self.pairs)
