"""Probabilistic knowledge transfer (Passalis & Tefas, ECCV 2018).

Each side's embeddings define, through a cosine-similarity kernel
((cos + 1) / 2) normalised per row, a conditional distribution over the other
samples of the batch; the term is the KL divergence of the teacher's from the
student's, averaged over all entries (as in the authors' code). Embedding
sizes may differ.
"""

from __future__ import annotations

import torch

from kdbench.distill.base import METHODS, DistillMethod
from kdbench.models import ModelOutput


def _conditional(x: torch.Tensor, eps: float) -> torch.Tensor:
    x = x.float().flatten(1)
    x = x / (x.norm(dim=1, keepdim=True) + eps)
    sim = (x @ x.t() + 1.0) / 2.0
    return sim / sim.sum(dim=1, keepdim=True)


def pkt_loss(fs: torch.Tensor, ft: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    ps, pt = _conditional(fs, eps), _conditional(ft, eps)
    return (pt * torch.log((pt + eps) / (ps + eps))).mean()


@METHODS.register("pkt")
class PKT(DistillMethod):
    params = ("alpha", "w1", "w2")

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        return pkt_loss(student.embedding, teacher.embedding)  # type: ignore[union-attr]
