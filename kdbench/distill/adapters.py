"""Shape plumbing for feature methods: probing shapes, pairing stages, adapters.

A feature method between two architectures rarely sees equal shapes. Its
adapters are built once in `__init__` from a dry forward of a couple of
training inputs, so a pairing that cannot work fails at start with both model
names and the reason, not mid-training with a shape error.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from kdbench.errors import KdbenchError
from kdbench.models import FeatureModel, ModelOutput


def probe(model: FeatureModel, sample: torch.Tensor) -> ModelOutput:
    """Features of `sample` without touching the model's state (eval mode, no grad)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model.forward_features(sample)
    finally:
        model.train(was_training)


def model_name(model: nn.Module) -> str:
    return type(model).__name__


def pair_error(method: str, student: nn.Module, teacher: nn.Module, reason: str) -> KdbenchError:
    return KdbenchError(
        f"{method} cannot pair student {model_name(student)} with teacher "
        f"{model_name(teacher)}: {reason}; pick another method or model"
    )


def paired_stages(n_student: int, n_teacher: int) -> list[tuple[int, int]]:
    """Stage pairs (student, teacher) at the same relative depth, ending at both last stages."""
    k = min(n_student, n_teacher)

    def spread(n: int) -> list[int]:
        if k == 1:
            return [n - 1]
        return [round(i * (n - 1) / (k - 1)) for i in range(k)]

    return list(zip(spread(n_student), spread(n_teacher)))


def relative_stage(i_student: int, n_student: int, n_teacher: int) -> int:
    """The teacher stage at the same relative depth as student stage `i_student`."""
    if n_student == 1:
        return n_teacher - 1
    return round(i_student * (n_teacher - 1) / (n_student - 1))


def match_spatial(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Average-pool the larger of two (N, C, H, W) maps down to the other's size."""
    ha, wa = a.shape[-2:]
    hb, wb = b.shape[-2:]
    if (ha, wa) == (hb, wb):
        return a, b
    size = (min(ha, hb), min(wa, wb))
    return F.adaptive_avg_pool2d(a, size), F.adaptive_avg_pool2d(b, size)


def require_maps(method: str, student: nn.Module, teacher: nn.Module, *maps: torch.Tensor) -> None:
    """Spatial methods need (N, C, H, W) feature maps on both sides."""
    for m in maps:
        if m.dim() != 4:
            raise pair_error(
                method,
                student,
                teacher,
                f"it needs spatial feature maps, got shape {tuple(m.shape[1:])}",
            )


class ChannelProjection(nn.Module):
    """1x1 conv + BN from the student's channels to the teacher's (FitNet's regressor)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x)
