"""What a distillation method is: a module that returns the soft (method) term.

The total loss is always `w1 * CE(student, labels) + w2 * term`, so switching
method is a config change and the hard/soft weighting means the same thing for
every method. A method may own parameters (regressors, embeddings); they are
trained with the student and are never part of the student's reported size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from kdbench.config import DistillConfig
from kdbench.models import FeatureModel, ModelOutput
from kdbench.registry import Registry


class DistillMethod(nn.Module):
    """Base class. Subclasses implement `forward(student_out, teacher_out, labels, index=None)`.

    `index` holds the training samples' positions in the training split, for
    methods that keep per-sample state (CRD's memory bank); it is None elsewhere.
    """

    #: Config keys of `DistillConfig` this method reads; only these identify a cell.
    params: tuple[str, ...] = ()
    #: False for the student trained alone: no teacher is built or run.
    uses_teacher: bool = True
    #: False when only the teacher's logits are read: they then come from the shared
    #: teacher stream (kdbench/teacher_stream.py) instead of a live teacher forward.
    needs_teacher_features: bool = True

    def __init__(
        self,
        cfg: DistillConfig,
        student: FeatureModel,
        teacher: FeatureModel | None,
        sample: torch.Tensor,
        num_train: int = 0,
    ) -> None:
        """`sample`: a few training inputs for a dry forward that sizes adapters;
        `num_train`: the training split's size, for per-sample state (CRD)."""
        super().__init__()
        self.cfg = cfg
        self.epoch = 0  # set by the training module each epoch (warm-ups)

    def forward(
        self,
        student: ModelOutput,
        teacher: ModelOutput | None,
        labels: torch.Tensor,
        index: torch.Tensor | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError


MethodFactory = Callable[..., DistillMethod]
METHODS: Registry[type[DistillMethod]] = Registry("distillation method")
