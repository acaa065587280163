"""FitNets (Romero et al., ICLR 2015): a hint on a middle stage, learned jointly.

Hint stage: the student's middle stage (`hint_layer`; null = stage n // 2) and
the teacher's stage at the same relative depth. For the CIFAR ResNets, WRNs and
VGGs this is RepDistiller's and mdistiller's `hint_layer=2` on both sides (their
feature lists start with the stem's output; ours start at the first stage).

Regressor: `ConvReg` as in those references (conv sized to map the student's
hint onto the teacher's channels and spatial size, BN, and a final ReLU when the
teacher's hint is a post-ReLU map, found from the dry forward: all values >= 0).
Loss: `functional.fitnet_loss`, the mean squared error of the two maps.

Sequence features ([B, T, C] from recurrent, 1-D conv and transformer models) get a
linear regressor per step (`SeqReg`) onto the teacher's channels, the teacher's hint
resampled to the student's length where they differ. A sequence hint cannot pair with
a spatial map (a DS-CNN with an LSTM): that pair is refused at start, in one line.

Departures: the paper trains in two stages (hint first, then KD); like the
references, kdbench adds the hint term to CE from the start. Where no
ConvReg shape exists (the student's map smaller than the teacher's, not by 2x),
the teacher's hint is average-pooled to the student's size and a 1x1 ConvReg is
used (the references would refuse the pair).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from kdbench.distill.adapters import (
    ConvReg,
    SeqReg,
    match_length,
    pair_error,
    probe,
    relative_stage,
    require_maps,
)
from kdbench.distill.base import METHODS, NO_TEMPERATURE, DistillMethod, MethodParams
from kdbench.distill.functional import fitnet_loss
from kdbench.models import ModelOutput


@dataclass
class FitNetParams(MethodParams):
    name: str = "fitnet"
    alpha: float | None = None
    w1: float | None = 1.0
    w2: float | None = 100.0
    hint_layer: int | None = None  # student stage of the hint; None = the middle one
    ignored: ClassVar[tuple[str, ...]] = NO_TEMPERATURE


def _has_conv_reg(s: tuple[int, ...], t: tuple[int, ...]) -> bool:
    (hs, ws), (ht, wt) = s[-2:], t[-2:]
    return (hs, ws) == (2 * ht, 2 * wt) or (2 * hs, 2 * ws) == (ht, wt) or (hs >= ht and ws >= wt)


@METHODS.register("fitnet")
class FitNet(DistillMethod):
    Params = FitNetParams

    def __init__(self, cfg, student, teacher, sample, num_train=0, train_labels=None) -> None:
        super().__init__(cfg, student, teacher, sample, num_train, train_labels)
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
        hs, ht = fs[self.s_index], ft[self.t_index]
        self.pool_to: tuple[int, int] | None = None
        self.seq_length: int | None = None
        if hs.dim() == 3 and ht.dim() == 3:  # sequences [B, T, C]
            self.seq_length = hs.shape[1]
            self.regressor: torch.nn.Module = SeqReg(hs.shape[2], ht.shape[2])
            return
        require_maps("fitnet", student, teacher, hs, ht)
        s_shape, t_shape = tuple(hs.shape), tuple(ht.shape)
        if not _has_conv_reg(s_shape, t_shape):
            self.pool_to = (s_shape[-2], s_shape[-1])
            t_shape = (*t_shape[:-2], *self.pool_to)
        self.regressor = ConvReg(s_shape, t_shape, relu=bool((ht >= 0).all()))

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        hint = teacher.features[self.t_index]  # type: ignore[union-attr]
        if self.seq_length is not None:
            hint = match_length(hint, self.seq_length)
        elif self.pool_to is not None:
            hint = F.adaptive_avg_pool2d(hint, self.pool_to)
        return fitnet_loss(self.regressor(student.features[self.s_index]), hint)
