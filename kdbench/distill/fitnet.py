"""FitNets (Romero et al., ICLR 2015): a hint on a middle stage.

A learned regressor (1x1 conv + BN, the channel projection) maps the student's
hint stage to the teacher's channels; the larger map is average-pooled to the
smaller one's size; the term is the mean squared error. The regressor is part
of the method (trained with the student, never counted in its size).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdbench.distill.adapters import (
    ChannelProjection,
    match_spatial,
    pair_error,
    probe,
    relative_stage,
    require_maps,
)
from kdbench.distill.base import METHODS, DistillMethod
from kdbench.models import ModelOutput


@METHODS.register("fitnet")
class FitNet(DistillMethod):
    params = ("alpha", "w1", "w2", "hint_layer")

    def __init__(self, cfg, student, teacher, sample, num_train: int = 0) -> None:
        super().__init__(cfg, student, teacher, sample, num_train)
        fs, ft = probe(student, sample).features, probe(teacher, sample).features
        ns, nt = len(fs), len(ft)
        self.s_index = ns // 2 if cfg.hint_layer is None else cfg.hint_layer
        if not -ns <= self.s_index < ns:
            raise pair_error(
                "fitnet",
                student,
                teacher,
                f"hint_layer={cfg.hint_layer} but the student has {ns} stages",
            )
        self.s_index %= ns
        self.t_index = relative_stage(self.s_index, ns, nt)
        require_maps("fitnet", student, teacher, fs[self.s_index], ft[self.t_index])
        self.regressor = ChannelProjection(fs[self.s_index].shape[1], ft[self.t_index].shape[1])

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        s = self.regressor(student.features[self.s_index])
        s, t = match_spatial(s, teacher.features[self.t_index])  # type: ignore[union-attr]
        return F.mse_loss(s, t)
