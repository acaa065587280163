"""What a distillation method is: the named terms of its loss, their weights, and its parameters.

A method owns its objective: `loss_terms` returns named, unweighted terms and
`weights` their weights; the training module minimises `sum_k w_k * term_k`
(`functional.weighted_sum`) and logs every term (`train/<term>`, a column of
`metrics.csv`). The default shape is the source documents' `w1 * CE(student,
labels) + w2 * term`, with the term named after the method (`ce` + `kd`), so
the hard/soft weighting means the same thing for every method that keeps it.
A method with two heads (DeiT) or several terms overrides `loss_terms` and
`weights`. A method may own parameters (regressors, embeddings, a head); they
are trained with the student and are never part of the student's reported size.

Each method declares its settings as a dataclass next to its loss, subclassing
`MethodParams` (the fields every method shares). The yaml in `conf/distill/` is
validated against that dataclass (`kdbench.distill.params.parse_params`), and a
cell's identity is the dataclass's fields, so adding a method never touches a
shared config.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from kdbench.models import FeatureModel, ModelOutput
from kdbench.registry import Registry


@dataclass
class MethodParams:
    """Loss = w1 * CE(student, label) + w2 * method term.

    Give either `alpha` (w1 = 1 - alpha, w2 = alpha) or both `w1` and `w2`.
    """

    name: str = "kd"
    T: float = 4.0  # temperature of the softened distributions (logit methods)
    alpha: float | None = 0.9
    w1: float | None = None
    w2: float | None = None
    t2_scaling: bool = True  # multiply the soft term by T^2 (Hinton et al.)
    # What reports call this method: the `distill=` option when its yaml is a variant of
    # another method (conf/distill/kd_ls.yaml: `name: kd`, `label: kd_ls`); None = `name`.
    label: str | None = None

    #: Shared fields this method does not read: left out of the cell key and the report, so a
    #: grid crossing them with this method runs it once.
    ignored: ClassVar[tuple[str, ...]] = ()

    def check(self) -> None:
        """Raise ConfigError for values the field types cannot rule out (choices, ranges)."""

    def loss_weights(self) -> tuple[float, float]:
        """(w1, w2) from either form; `validate` has already checked the form is complete."""
        if self.w1 is not None and self.w2 is not None:
            return float(self.w1), float(self.w2)
        return 1.0 - float(self.alpha), float(self.alpha)  # type: ignore[arg-type]


#: What feature methods ignore: the temperature only softens logits.
NO_TEMPERATURE = ("T", "t2_scaling")


def identity(params: MethodParams) -> dict[str, Any]:
    """The settings that identify a cell of this method: every field it reads, by name."""
    return {k: v for k, v in asdict(params).items() if k not in type(params).ignored}


class DistillMethod(nn.Module):
    """Base class. Subclasses implement `forward(student_out, teacher_out, labels, index=None)`,
    the method's term; or override `loss_terms` and `weights` for another objective.

    `index` holds the training samples' positions in the training split, for
    methods that keep per-sample state (CRD's memory bank); it is None elsewhere.
    """

    #: The method's parameters (a `MethodParams` subclass declared in the method's module).
    Params: ClassVar[type[MethodParams]] = MethodParams
    #: False for the student trained alone: no teacher is built or run.
    uses_teacher: ClassVar[bool] = True
    #: False when only the teacher's logits are read: they then come from the shared
    #: teacher stream (kdbench/teacher_stream.py) instead of a live teacher forward.
    needs_teacher_features: ClassVar[bool] = True
    #: Model hooks the student must offer (`kdbench.models.register_model(hooks=...)`),
    #: checked by `validate` before anything trains: DeiT's `distillation_token`.
    student_hooks: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        cfg: MethodParams,
        student: FeatureModel,
        teacher: FeatureModel | None,
        sample: torch.Tensor,
        num_train: int = 0,
        train_labels: torch.Tensor | None = None,
    ) -> None:
        """`sample`: a few training inputs for a dry forward that sizes adapters;
        `num_train`: the training split's size, and `train_labels` its labels by
        position, for per-sample state (CRD's memory bank and class-aware negatives)."""
        super().__init__()
        self.cfg = cfg
        self.epoch = 0  # set by the training module each epoch (warm-ups)
        self.label_smoothing = 0.0  # the recipe's, set by the training module

    def ce(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy with the labels, smoothed as the recipe says (`train.label_smoothing`)."""
        return F.cross_entropy(logits, labels, label_smoothing=self.label_smoothing)

    @property
    def term(self) -> str:
        """The name of the method's own term in logs and `metrics.csv` (`kd`, `dkd`, ...)."""
        return self.cfg.name

    @property
    def weights(self) -> dict[str, float]:
        """Each term's weight: `ce` at w1 and the method's term at w2 (the student alone: CE)."""
        if not self.uses_teacher:
            return {"ce": 1.0}
        w1, w2 = self.cfg.loss_weights()
        return {"ce": w1, self.term: w2}

    @property
    def reads_teacher(self) -> bool:
        """True when a term that reads the teacher has a weight: else the teacher never runs."""
        return self.uses_teacher and any(w > 0 for k, w in self.weights.items() if k != "ce")

    def loss_terms(
        self,
        student: ModelOutput,
        teacher: ModelOutput | None,
        labels: torch.Tensor,
        index: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Named, unweighted terms: CE on the labels, and the method's term when it counts."""
        terms = {"ce": self.ce(student.logits, labels)}
        if self.reads_teacher:
            terms[self.term] = self(student, teacher, labels, index=index)
        return terms

    def forward(
        self,
        student: ModelOutput,
        teacher: ModelOutput | None,
        labels: torch.Tensor,
        index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError


METHODS: Registry[type[DistillMethod]] = Registry("distillation method")
