"""DistillationModule: frozen teacher, student-only optimizer and checkpoint."""

import torch

from kdbench.config import RecipeConfig
from kdbench.distill import METHODS
from kdbench.models import create_model
from kdbench.module import DistillationModule


def make_module():
    student = create_model("cnn", 10, 1, width=0.25)
    teacher = create_model("cnn", 10, 1, width=0.5)
    method = METHODS.get("kd")(
        METHODS.get("kd").Params(), student, teacher, torch.zeros(2, 1, 8, 8)
    )
    return DistillationModule(student, teacher, method, RecipeConfig(), 10), teacher


def test_teacher_is_frozen_in_eval_mode_and_not_a_child():
    module, teacher = make_module()
    assert not teacher.training
    assert not any(p.requires_grad for p in teacher.parameters())
    assert not any(k.startswith("teacher") for k in module.state_dict())
    student_ids = {id(p) for p in module.student.parameters()}
    assert {id(p) for p in module.parameters()} == student_ids


def test_training_step_updates_student_and_leaves_teacher_untouched():
    module, teacher = make_module()
    before = [p.clone() for p in teacher.parameters()]
    opt = torch.optim.SGD(module.parameters(), lr=0.1)
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    student_before = [p.clone() for p in module.student.parameters()]
    loss = module.training_step((x, y, torch.arange(8)), 0)
    loss.backward()
    opt.step()
    assert all(torch.equal(a, b) for a, b in zip(before, teacher.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(student_before, module.student.parameters()))
    assert not teacher.training
