"""Speed options: teacher logits cached per split, channels_last, fp32 KD losses under bf16."""

from __future__ import annotations

import torch

from kdbench.config import RecipeConfig
from kdbench.distill import METHODS, kd_loss, soft_cross_entropy
from kdbench.models import create_model
from kdbench.module import DistillationModule


def _module(channels_last: bool = False):
    torch.manual_seed(0)
    student = create_model("cnn", 4, 3, width=0.25)
    teacher = create_model("cnn", 4, 3, width=0.5)
    method = METHODS.get("kd")(
        METHODS.get("kd").Params(), student, teacher, torch.zeros(2, 3, 8, 8)
    )
    module = DistillationModule(student, teacher, method, RecipeConfig(), 4)
    module.apply_speed_options(channels_last=channels_last)
    return module, teacher


def test_teacher_runs_once_per_sample_of_a_split():
    module, teacher = _module()
    calls = []
    teacher.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    x = torch.randn(10, 3, 8, 8)
    index = torch.arange(10)
    first = module.teacher_logits("test", x[:6], index[:6])
    again = module.teacher_logits("test", x[:6], index[:6])
    assert calls == [6] and torch.equal(first, again)
    both = module.teacher_logits("test", x, index)  # only the 4 new samples run
    assert calls == [6, 4]
    with torch.no_grad():
        assert torch.allclose(both, teacher(x), atol=1e-6)
    module.teacher_logits("val", x[:3], index[:3])  # another split has its own cache
    assert calls[-1] == 3 and len(calls) == 4  # the direct teacher(x) call above counted too


def test_channels_last_converts_models_and_inputs():
    module, teacher = _module(channels_last=True)
    conv = next(m for m in module.student.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    x = module._input(torch.randn(2, 3, 8, 8))
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert module.student(x).shape == (2, 4)


def test_kd_losses_are_float32_under_bf16_autocast():
    s = torch.randn(8, 10).bfloat16()
    t = torch.randn(8, 10).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert kd_loss(s, t, 4.0).dtype == torch.float32
        assert soft_cross_entropy(s, t, 4.0).dtype == torch.float32
        ce = torch.nn.functional.cross_entropy(s, torch.zeros(8, dtype=torch.long))
        assert ce.dtype == torch.float32
    exact = kd_loss(s.float(), t.float(), 4.0)
    assert torch.allclose(kd_loss(s, t, 4.0), exact)
