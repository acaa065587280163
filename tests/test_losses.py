"""The loss formulas against the source documents and direct implementations."""

import math

import pytest
import torch
import torch.nn.functional as F

from kdbench.distill import kd_loss, soft_cross_entropy, soft_kl, weighted_sum


def direct_kd(s: torch.Tensor, t: torch.Tensor, T: float) -> torch.Tensor:
    """KL(p_t || p_s) written out term by term, averaged over the batch, times T^2."""
    p_t = torch.softmax(t / T, dim=1)
    p_s = torch.softmax(s / T, dim=1)
    return (p_t * (p_t.log() - p_s.log())).sum(dim=1).mean() * T * T


@pytest.mark.parametrize("T", [1.0, 2.0, 4.0, 8.0])
def test_kd_loss_matches_direct_formula(T):
    g = torch.Generator().manual_seed(0)
    s, t = torch.randn(16, 10, generator=g), torch.randn(16, 10, generator=g)
    assert kd_loss(s, t, T).item() == pytest.approx(direct_kd(s, t, T).item(), rel=1e-5)


def test_kd_loss_is_zero_when_student_equals_teacher():
    z = torch.randn(8, 5)
    assert kd_loss(z, z.clone(), 4.0).item() == pytest.approx(0.0, abs=1e-6)


def test_kd_loss_carries_the_t_squared_factor():
    s, t = torch.randn(8, 5), torch.randn(8, 5)
    assert kd_loss(s, t, 3.0).item() == pytest.approx(9.0 * soft_kl(s, t, 3.0).item(), rel=1e-6)


def test_kd_gradient_reaches_the_student_only():
    s = torch.randn(8, 5, requires_grad=True)
    t = torch.randn(8, 5, requires_grad=True)
    kd_loss(s, t.detach(), 2.0).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t.grad is None


def test_source_worked_example_corrected():
    """DESIGN.md: hard label [1, 0], student [0.75, 0.25], teacher soft [0.8, 0.2]."""
    student = torch.tensor([[0.75, 0.25]]).log()  # logits whose softmax is the student
    teacher = torch.tensor([[0.8, 0.2]]).log()
    label = torch.tensor([0])
    hard = F.cross_entropy(student, label)
    soft_ce = soft_cross_entropy(student, teacher, T=1.0)
    kl = soft_kl(student, teacher, T=1.0)
    assert hard.item() == pytest.approx(-math.log(0.75), abs=1e-6)
    assert round(hard.item(), 4) == 0.2877
    assert round(soft_ce.item(), 4) == 0.5074
    assert round(kl.item(), 4) == 0.0070
    assert (
        round(weighted_sum({"ce": hard, "kd": soft_ce}, {"ce": 0.6, "kd": 0.4}).item(), 4) == 0.3756
    )
    assert pytest.approx(0.3756, abs=1e-4) == 0.6 * 0.2877 + 0.4 * 0.5074  # by hand
    # the cross-entropy and KL forms differ by the teacher's entropy only
    entropy = -(0.8 * math.log(0.8) + 0.2 * math.log(0.2))
    assert soft_ce.item() - kl.item() == pytest.approx(entropy, abs=1e-6)
