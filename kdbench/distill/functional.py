"""The loss formulas as plain functions of logits, natural logs throughout.

Kept apart from the method modules so tests can pin them against the source
documents' worked example and a direct implementation of the formula.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    """KL(teacher || student) of the distributions softened by `T`, batch mean, times T^2.

    Hinton et al. (2015) scale by T^2 so the soft term's gradients keep their
    magnitude as T changes; `soft_kl` gives the unscaled value.
    """
    return soft_kl(student_logits, teacher_logits, T) * T * T


def soft_kl(student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float) -> torch.Tensor:
    """KL(softmax(t/T) || softmax(s/T)), summed over classes, averaged over the batch."""
    log_p_student = F.log_softmax(student_logits.float() / T, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits.float() / T, dim=1)
    return F.kl_div(log_p_student, log_p_teacher, reduction="batchmean", log_target=True)


def soft_cross_entropy(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, T: float
) -> torch.Tensor:
    """Cross-entropy H(teacher, student) of the softened distributions, batch mean.

    Equals KL(teacher || student) plus the teacher's entropy, which does not
    depend on the student, so both give the student the same gradients.
    """
    p_teacher = F.softmax(teacher_logits.float() / T, dim=1)
    log_p_student = F.log_softmax(student_logits.float() / T, dim=1)
    return -(p_teacher * log_p_student).sum(dim=1).mean()


def weighted_total(hard: torch.Tensor, soft: torch.Tensor, w1: float, w2: float) -> torch.Tensor:
    """L = w1 * L_LL + w2 * L_KD, as the source documents write it."""
    return w1 * hard + w2 * soft


def standardize(logits: torch.Tensor, eps: float = 1e-7) -> torch.Tensor:
    """Z-score each sample's logits (Sun et al., 2024, "Logit Standardization in KD").

    The student then matches the teacher's logit *relations*, not their scale;
    the temperature is applied afterwards as usual.
    """
    mean = logits.mean(dim=1, keepdim=True)
    std = logits.std(dim=1, keepdim=True)
    return (logits - mean) / (std + eps)
