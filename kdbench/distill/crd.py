"""Contrastive representation distillation (Tian et al., ICLR 2020), with its memory bank.

Both embeddings are projected (linear layer + L2 norm) to `crd_feat_dim`. Two
memory banks hold one vector per training sample (`index` gives the batch's
positions). For each sample the student's embedding is scored against the
teacher bank's entry of the same sample (positive) and of `crd_nce_k` negatives,
and vice versa; critic values exp(<u, v> / crd_nce_t) / Z (Z fixed on the first
batch, as the reference) enter the paper's NCE loss (`functional.crd_nce_loss`).
After each step the batch's bank entries move towards the new embeddings with
`crd_momentum` and are re-normalised.

Negatives (`crd_sampling`): `exact` (default, the paper's code: RepDistiller's
CIFAR sample dataset) draws them uniformly, with replacement, from the samples
of *other classes* than the anchor's, so a negative never shares its class;
`uniform` draws from the whole training set (the reference's fallback without a
sampling dataset). Departure: `crd_nce_k` is capped at num_train - 1, so the
noise constant N / M stays below 1 on small data sets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from kdbench.distill.adapters import probe
from kdbench.distill.base import METHODS, NO_TEMPERATURE, DistillMethod, MethodParams
from kdbench.distill.functional import crd_nce_loss
from kdbench.errors import ConfigError, KdbenchError
from kdbench.models import ModelOutput

SAMPLING = ("exact", "uniform")


@dataclass
class CRDParams(MethodParams):
    name: str = "crd"
    alpha: float | None = None
    w1: float | None = 1.0
    w2: float | None = 0.8
    crd_feat_dim: int = 128  # embedding size
    crd_nce_k: int = 16384  # negatives per positive (capped at the training set size)
    crd_nce_t: float = 0.07  # temperature of the critic
    crd_momentum: float = 0.5  # memory bank update momentum
    crd_sampling: str = "exact"  # exact: negatives from other classes | uniform: any sample
    ignored: ClassVar[tuple[str, ...]] = NO_TEMPERATURE

    def check(self) -> None:
        if self.crd_sampling not in SAMPLING:
            raise ConfigError(
                f"distill.crd_sampling={self.crd_sampling!r} is invalid: one of {', '.join(SAMPLING)}"
            )


class Embed(nn.Module):
    """Linear projection to the contrastive space, L2-normalised."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim_in, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.linear(x.flatten(1)), dim=1)


class ContrastMemory(nn.Module):
    """Two memory banks (student view, teacher view), the negative sampler and the critic.

    `labels` (the training split's labels, by position) enables `exact` sampling;
    without them only `uniform` is possible.
    """

    def __init__(
        self,
        dim: int,
        num_data: int,
        k: int,
        t: float,
        momentum: float,
        labels: torch.Tensor | None = None,
        sampling: str = "exact",
    ) -> None:
        super().__init__()
        self.num_data, self.k, self.t, self.momentum = num_data, k, t, momentum
        self.sampling = sampling
        stdv = 1.0 / math.sqrt(dim / 3)
        self.register_buffer("memory_s", torch.rand(num_data, dim).mul_(2 * stdv).add_(-stdv))
        self.register_buffer("memory_t", torch.rand(num_data, dim).mul_(2 * stdv).add_(-stdv))
        # normalising constants Z, fixed on the first batch as in the reference (-1 = unset)
        self.register_buffer("z", torch.tensor([-1.0, -1.0]))
        if sampling == "exact":
            if labels is None or len(labels) != num_data:
                raise KdbenchError(
                    "crd_sampling=exact needs the training labels (train_labels=...)"
                )
            labels = torch.as_tensor(labels).long()
            counts = torch.bincount(labels)
            if (num_data - counts[labels]).min() < 1:
                raise KdbenchError(
                    "crd_sampling=exact needs two classes or more in the training set; "
                    "use distill.crd_sampling=uniform"
                )
            # positions sorted by class: class c occupies order[start[c] : start[c] + counts[c]]
            self.register_buffer("labels", labels)
            self.register_buffer("order", torch.argsort(labels, stable=True))
            self.register_buffer("counts", counts)
            self.register_buffer("start", torch.cumsum(counts, 0) - counts)

    def sample(self, index: torch.Tensor) -> torch.Tensor:
        """(B, K+1) bank rows: the sample itself, then K negatives (with replacement)."""
        b = len(index)
        if self.sampling == "uniform":
            neg = torch.randint(0, self.num_data, (b, self.k), device=index.device)
        else:
            y = self.labels[index]
            n_y, start_y = self.counts[y][:, None], self.start[y][:, None]
            # a uniform position among the num_data - n_y samples of other classes, then
            # skip over the anchor's class block in the class-sorted order
            r = (torch.rand(b, self.k, device=index.device) * (self.num_data - n_y)).long()
            r = torch.minimum(r, self.num_data - n_y - 1)
            neg = self.order[r + (r >= start_y) * n_y]
        return torch.cat([index[:, None], neg], dim=1)

    def forward(
        self,
        vs: torch.Tensor,
        vt: torch.Tensor,
        index: torch.Tensor,
        idx: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if idx is None:
            idx = self.sample(index)
        b, d = vs.shape
        bank_t = self.memory_t[idx.flatten()].view(b, -1, d).detach()
        bank_s = self.memory_s[idx.flatten()].view(b, -1, d).detach()
        out_s = torch.exp(torch.bmm(bank_t, vs[:, :, None]).squeeze(2) / self.t)  # vs teacher bank
        out_t = torch.exp(torch.bmm(bank_s, vt[:, :, None]).squeeze(2) / self.t)  # vs student bank
        if self.z[0] < 0:
            self.z[0] = out_s.mean().detach() * self.num_data
            self.z[1] = out_t.mean().detach() * self.num_data
        out_s, out_t = out_s / self.z[0], out_t / self.z[1]
        with torch.no_grad():
            for bank, v in ((self.memory_s, vs), (self.memory_t, vt)):
                new = bank[index] * self.momentum + v.detach() * (1 - self.momentum)
                bank.index_copy_(0, index, F.normalize(new, dim=1))
        return out_s, out_t


@METHODS.register("crd")
class CRD(DistillMethod):
    Params = CRDParams

    def __init__(
        self, cfg, student, teacher, sample, num_train: int = 0, train_labels=None
    ) -> None:
        super().__init__(cfg, student, teacher, sample, num_train, train_labels)
        if train_labels is not None:
            num_train = len(train_labels)
        if num_train < 2:
            raise KdbenchError(
                f"crd needs the training set size for its memory bank (num_train={num_train}); "
                "construct it with train_labels=data.train[1]"
            )
        es, et = probe(student, sample).embedding, probe(teacher, sample).embedding
        self.embed_s = Embed(es.flatten(1).shape[1], cfg.crd_feat_dim)
        self.embed_t = Embed(et.flatten(1).shape[1], cfg.crd_feat_dim)
        k = min(cfg.crd_nce_k, num_train - 1)
        self.memory = ContrastMemory(
            cfg.crd_feat_dim,
            num_train,
            k,
            cfg.crd_nce_t,
            cfg.crd_momentum,
            labels=train_labels,
            sampling=cfg.crd_sampling,
        )

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        if index is None:
            raise KdbenchError(
                "crd needs the batch's sample indices (index=...) for its memory bank"
            )
        # float32 scores and bank updates, also under mixed precision
        vs = self.embed_s(student.embedding).float()
        vt = self.embed_t(teacher.embedding.detach()).float()  # type: ignore[union-attr]
        out_s, out_t = self.memory(vs, vt, index)
        n = self.memory.num_data
        return crd_nce_loss(out_s, n) + crd_nce_loss(out_t, n)
