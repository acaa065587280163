"""Relational knowledge distillation (Park et al., CVPR 2019): distance and angle.

Distance: pairwise Euclidean distances of the embeddings, each side divided by
its mean non-zero distance, matched with the Huber (smooth L1) loss. Angle: the
cosines of the angles each triplet forms, matched the same way. Term =
`rkd_distance * distance + rkd_angle * angle`. Embedding sizes may differ.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdbench.distill.base import METHODS, DistillMethod
from kdbench.models import ModelOutput


def pairwise_distance(e: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    sq = e.pow(2).sum(dim=1)
    d = (sq[:, None] + sq[None, :] - 2 * e @ e.t()).clamp(min=eps).sqrt()
    return d * (1 - torch.eye(len(e), device=e.device, dtype=e.dtype))


def rkd_distance(fs: torch.Tensor, ft: torch.Tensor) -> torch.Tensor:
    ds, dt = pairwise_distance(fs.float().flatten(1)), pairwise_distance(ft.float().flatten(1))
    ds = ds / ds[ds > 0].mean()
    dt = dt / dt[dt > 0].mean()
    return F.smooth_l1_loss(ds, dt)


def _angles(e: torch.Tensor) -> torch.Tensor:
    diff = F.normalize(e[None, :, :] - e[:, None, :], p=2, dim=2)
    return torch.bmm(diff, diff.transpose(1, 2)).flatten()


def rkd_angle(fs: torch.Tensor, ft: torch.Tensor) -> torch.Tensor:
    return F.smooth_l1_loss(_angles(fs.float().flatten(1)), _angles(ft.float().flatten(1)))


@METHODS.register("rkd")
class RKD(DistillMethod):
    params = ("alpha", "w1", "w2", "rkd_distance", "rkd_angle")

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        fs, ft = student.embedding, teacher.embedding.detach()  # type: ignore[union-attr]
        c = self.cfg
        return c.rkd_distance * rkd_distance(fs, ft) + c.rkd_angle * rkd_angle(fs, ft)
