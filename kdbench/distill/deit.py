"""DeiT: distillation through attention (Touvron et al., ICML 2021).

The student gets a distillation token and a second head (the transformer models'
`enable_distillation_token`, called here before the optimizer is built, so the
token and head train with the student and are part of its state). The class head
learns from the labels, the distillation head from the teacher:

    L = w1 * CE(class head, y) + w2 * term(distillation head, teacher),

term = T^2 KL at temperature T (`deit_type: soft`, eq. 2) or CE with the teacher's
argmax (`hard`, eq. 3; the paper's choice, weights 1/2 and 1/2)
(`functional.deit_distill_term`, `functional.deit_loss`). At evaluation and in the
exported model the student's logits are the mean of the two heads' logits (DeiT at
inference). Only the teacher's logits are read, so the grid-shared teacher stream
serves it. Label smoothing of the recipe applies to the class head's CE only.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kdbench.distill.adapters import model_name
from kdbench.distill.base import METHODS, DistillMethod, MethodParams
from kdbench.distill.functional import deit_distill_term
from kdbench.errors import ConfigError, KdbenchError
from kdbench.models import ModelOutput

KINDS = ("soft", "hard")


@dataclass
class DeiTParams(MethodParams):
    name: str = "deit"
    T: float = 1.0  # deit main.py --distillation-tau 1.0 (soft only)
    alpha: float | None = 0.5  # deit main.py --distillation-alpha 0.5
    deit_type: str = "hard"  # soft | hard (deit main.py --distillation-type)

    def check(self) -> None:
        if self.deit_type not in KINDS:
            raise ConfigError(
                f"distill.deit_type={self.deit_type!r} is invalid: one of {', '.join(KINDS)}"
            )


@METHODS.register("deit")
class DeiT(DistillMethod):
    Params = DeiTParams
    needs_teacher_features = False
    student_hooks = ("distillation_token",)

    def __init__(self, cfg, student, teacher, sample, num_train=0, train_labels=None) -> None:
        super().__init__(cfg, student, teacher, sample, num_train, train_labels)
        enable = getattr(student, "enable_distillation_token", None)
        if enable is None:
            raise KdbenchError(
                f"deit needs a student with a distillation token (vit, cct); "
                f"{model_name(student)} has none: pick a transformer student or another method"
            )
        enable()

    def loss_terms(
        self,
        student: ModelOutput,
        teacher: ModelOutput | None,
        labels: torch.Tensor,
        index: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """`ce` on the class head and `deit` on the distillation head, unweighted."""
        heads = student.heads
        assert heads is not None, "the student's distillation token is not enabled"
        terms = {"ce": self.ce(heads["cls"], labels)}
        if self.reads_teacher:
            terms[self.term] = self(student, teacher, labels, index=index)
        return terms

    def forward(
        self, student: ModelOutput, teacher: ModelOutput | None, labels: torch.Tensor, index=None
    ):
        c = self.cfg
        dist = student.heads["dist"]  # type: ignore[index]
        term = deit_distill_term(dist, teacher.logits, c.deit_type, c.T)  # type: ignore[union-attr]
        if c.deit_type == "soft" and not c.t2_scaling:
            term = term / (c.T * c.T)
        return term
