"""A teacher ensemble that looks like one teacher to every method.

Its logits are `T * log(mean_i softmax(z_i / T))`, so softmax(logits / T) is
exactly the mean of the members' softened distributions: KD and every logit
method distil from the averaged soft targets without knowing about ensembles.
Feature methods see the first member's features and embedding. Not registered
as a model: ensembles come from `teacher.ensemble` (kdbench/teachers.py).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from kdbench.models.base import FeatureModel, ModelOutput


class EnsembleTeacher(FeatureModel):
    def __init__(self, members: list[FeatureModel], T: float) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.T = T

    def forward_features(self, x: torch.Tensor) -> ModelOutput:
        outs = [m.forward_features(x) for m in self.members]
        log_p = torch.stack([F.log_softmax(o.logits.float() / self.T, dim=1) for o in outs])
        # log of the mean probability, computed stably in log space
        log_mean = torch.logsumexp(log_p, dim=0) - math.log(len(outs))
        return ModelOutput(self.T * log_mean, outs[0].features, outs[0].embedding)
