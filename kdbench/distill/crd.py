"""Contrastive representation distillation (Tian et al., ICLR 2020), with its memory bank.

Both embeddings are projected (linear layer + L2 norm) to `crd_feat_dim`. Two
memory banks hold one vector per training sample (`index` gives the batch's
positions; the bank is sized by `num_train`). For each sample the student's
embedding is scored against the teacher bank's entry of the same sample
(positive) and of `crd_nce_k` random samples (negatives), and vice versa;
scores exp(<u, v> / crd_nce_t) / Z are turned into the NCE loss of the paper.
After each step the bank entries of the batch move towards the new embeddings
with `crd_momentum`. Negatives are drawn uniformly over the training set (the
reference's default, `nce_k` capped at num_train - 1 on small data sets).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from kdbench.distill.adapters import probe
from kdbench.distill.base import METHODS, DistillMethod
from kdbench.errors import KdbenchError
from kdbench.models import ModelOutput


class Embed(nn.Module):
    """Linear projection to the contrastive space, L2-normalised."""

    def __init__(self, dim_in: int, dim_out: int) -> None:
        super().__init__()
        self.linear = nn.Linear(dim_in, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.linear(x.flatten(1)), dim=1)


def nce_loss(scores: torch.Tensor, num_data: int, eps: float = 1e-7) -> torch.Tensor:
    """NCE loss on (B, K+1) scores, column 0 the positive; noise probability 1/num_data.

    -E[log h(pos)] - K * E[log(1 - h(neg))] with h(x) = x / (x + K/num_data), summed
    over the K negatives and averaged over the batch.
    """
    b, k = scores.shape[0], scores.shape[1] - 1
    noise = k / float(num_data)
    pos = scores[:, 0]
    neg = scores[:, 1:]
    log_d1 = torch.log(pos / (pos + noise + eps))
    log_d0 = torch.log(noise / (neg + noise + eps))
    return -(log_d1.sum() + log_d0.sum()) / b


class ContrastMemory(nn.Module):
    """Two memory banks (student view, teacher view) and the exp-score critic."""

    def __init__(self, dim: int, num_data: int, k: int, t: float, momentum: float) -> None:
        super().__init__()
        self.num_data, self.k, self.t, self.momentum = num_data, k, t, momentum
        stdv = 1.0 / math.sqrt(dim / 3)
        self.register_buffer("memory_s", torch.rand(num_data, dim).mul_(2 * stdv).add_(-stdv))
        self.register_buffer("memory_t", torch.rand(num_data, dim).mul_(2 * stdv).add_(-stdv))
        # normalising constants Z, fixed on the first batch as in the reference (-1 = unset)
        self.register_buffer("z", torch.tensor([-1.0, -1.0]))

    def sample(self, index: torch.Tensor) -> torch.Tensor:
        """(B, K+1) bank rows: the sample itself, then K uniform random samples."""
        idx = torch.randint(0, self.num_data, (len(index), self.k + 1), device=index.device)
        idx[:, 0] = index
        return idx

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
        out_s = torch.exp(
            torch.bmm(bank_t, vs[:, :, None]).squeeze(2) / self.t
        )  # student vs teacher bank
        out_t = torch.exp(
            torch.bmm(bank_s, vt[:, :, None]).squeeze(2) / self.t
        )  # teacher vs student bank
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
    params = ("alpha", "w1", "w2", "crd_feat_dim", "crd_nce_k", "crd_nce_t", "crd_momentum")

    def __init__(self, cfg, student, teacher, sample, num_train: int = 0) -> None:
        super().__init__(cfg, student, teacher, sample, num_train)
        if num_train < 2:
            raise KdbenchError(
                f"crd needs the training set size for its memory bank (num_train={num_train}); "
                "construct it with num_train=len(data.train[1])"
            )
        es, et = probe(student, sample).embedding, probe(teacher, sample).embedding
        self.embed_s = Embed(es.flatten(1).shape[1], cfg.crd_feat_dim)
        self.embed_t = Embed(et.flatten(1).shape[1], cfg.crd_feat_dim)
        k = min(cfg.crd_nce_k, num_train - 1)
        self.memory = ContrastMemory(
            cfg.crd_feat_dim, num_train, k, cfg.crd_nce_t, cfg.crd_momentum
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
        return nce_loss(out_s, n) + nce_loss(out_t, n)
