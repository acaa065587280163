"""Shape plumbing for feature methods: probing shapes, pairing stages, adapters.

A feature method between two architectures rarely sees equal shapes. Its
adapters are built once in `__init__` from a dry forward of a couple of
training inputs, so a pairing that cannot work fails at start with both model
names and the reason, not mid-training with a shape error.
"""

from __future__ import annotations

import torch
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


class ConvReg(nn.Module):
    """FitNet's regressor as RepDistiller's and mdistiller's `ConvReg`: conv + BN (+ ReLU).

    The conv maps the student's hint map to the teacher's channels *and* size:
    a 3x3 stride-2 conv when the student's map is twice the teacher's, a 4x4
    stride-2 transposed conv when it is half, else a valid conv of kernel
    (1 + Hs - Ht, 1 + Ws - Wt) (a 1x1 conv for equal sizes). The final ReLU is
    there when the teacher's hint is a post-ReLU map (`relu=True`): the
    regressed map must be able to equal a non-negative target, and every
    reference applies it (RepDistiller's `use_relu=True` default).
    """

    def __init__(
        self, s_shape: tuple[int, ...], t_shape: tuple[int, ...], relu: bool = True
    ) -> None:
        super().__init__()
        (c_s, h_s, w_s), (c_t, h_t, w_t) = s_shape[-3:], t_shape[-3:]
        if h_s == 2 * h_t and w_s == 2 * w_t:
            self.conv: nn.Module = nn.Conv2d(c_s, c_t, kernel_size=3, stride=2, padding=1)
        elif 2 * h_s == h_t and 2 * w_s == w_t:
            self.conv = nn.ConvTranspose2d(c_s, c_t, kernel_size=4, stride=2, padding=1)
        elif h_s >= h_t and w_s >= w_t:
            self.conv = nn.Conv2d(c_s, c_t, kernel_size=(1 + h_s - h_t, 1 + w_s - w_t))
        else:
            raise ValueError(f"no ConvReg from {tuple(s_shape[-3:])} to {tuple(t_shape[-3:])}")
        self.bn = nn.BatchNorm2d(c_t)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return torch.relu(x) if self.relu else x


class SeqReg(nn.Module):
    """FitNet's regressor for sequence features [B, T, C]: a linear map C_s -> C_t per step.

    The 1-D analogue of a 1x1 ConvReg, without BN: recurrent and transformer hints are
    not post-ReLU maps, so no final ReLU either. When the two sequences differ in
    length (a class token, a strided stem), the teacher's hint is resampled to the
    student's length (`match_length`).
    """

    def __init__(self, c_student: int, c_teacher: int) -> None:
        super().__init__()
        self.linear = nn.Linear(c_student, c_teacher)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def match_length(hint: torch.Tensor, length: int) -> torch.Tensor:
    """A [B, T, C] sequence linearly resampled along time to `length` steps."""
    if hint.shape[1] == length:
        return hint
    out = torch.nn.functional.interpolate(
        hint.transpose(1, 2), size=length, mode="linear", align_corners=True
    )
    return out.transpose(1, 2)
