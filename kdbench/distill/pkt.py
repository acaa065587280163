"""Probabilistic knowledge transfer (Passalis & Tefas, ECCV 2018) on the embeddings.

Each side's embeddings define, through the cosine kernel ((cos + 1) / 2)
normalised per row, a conditional distribution over the samples of the batch;
the term is KL(teacher || student) averaged over all B^2 entries
(`functional.pkt_loss`). Embedding sizes may differ.

`pkt_form` picks the eps: `authors` (default) is the authors' code, eps = 1e-7 in the
normalisation and in the log, which the published weight (30000) and results belong to;
`paper` is the same formula without eps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from kdbench.distill.base import METHODS, NO_TEMPERATURE, DistillMethod, MethodParams
from kdbench.distill.functional import PKT_EPS, pkt_loss
from kdbench.errors import ConfigError
from kdbench.models import ModelOutput

#: `pkt_form` -> eps of the normalisation and the log.
FORMS = {"authors": PKT_EPS, "paper": 0.0}


@dataclass
class PKTParams(MethodParams):
    name: str = "pkt"
    alpha: float | None = None
    w1: float | None = 1.0
    w2: float | None = 30000.0
    pkt_form: str = "authors"  # authors: eps 1e-7 as their code | paper: no eps
    ignored: ClassVar[tuple[str, ...]] = NO_TEMPERATURE

    def check(self) -> None:
        if self.pkt_form not in FORMS:
            raise ConfigError(
                f"distill.pkt_form={self.pkt_form!r} is invalid: one of {', '.join(FORMS)}"
            )


@METHODS.register("pkt")
class PKT(DistillMethod):
    Params = PKTParams

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        eps = FORMS[self.cfg.pkt_form]
        return pkt_loss(student.embedding, teacher.embedding, eps)  # type: ignore[union-attr]
