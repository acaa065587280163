"""The method zoo wired into training: gradients, cell keys, ensembles, a smoke sweep."""

import json
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from kdbench.config import RecipeConfig
from kdbench.distill import METHODS
from kdbench.inputs import InputSpec
from kdbench.models import create_model
from kdbench.models.ensemble import EnsembleTeacher
from kdbench.module import DistillationModule
from kdbench.records import cell_key, find_records
from kdbench.runner import run_cell

from .conftest import SMOKE

# every registered method that distills (the registry, not a hand-kept list)
ZOO = [name for name in METHODS if METHODS.get(name).uses_teacher]
# Methods that add to their student (DeiT's distillation token) train a transformer student;
# the CNN-student multirun below runs the others (DeiT end to end: tests/test_transformers.py).
CNN_ZOO = [name for name in ZOO if not METHODS.get(name).student_hooks]
SMALL_VIT = {"patch_size": 4, "depth": 1, "embed_dim": 16, "heads": 2}


@pytest.mark.parametrize("name", ZOO)
def test_only_student_and_adapter_parameters_get_gradients(name):
    torch.manual_seed(0)
    if METHODS.get(name).student_hooks:  # DeiT adds a token: a transformer student
        student = create_model("vit", 10, spec=InputSpec("image", (1, 8, 8)), **SMALL_VIT)
    else:
        student = create_model("resnet8", 10, 1)
    teacher = create_model("cnn", 10, 1, width=0.5)
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    labels = torch.arange(32) % 10
    # w1 = 0: the soft term alone must reach the student
    params = replace(METHODS.get(name).Params(), alpha=None, w1=0.0, w2=1.0)
    method = METHODS.get(name)(params, student, teacher, x[:2], 32, labels)
    module = DistillationModule(student, teacher, method, RecipeConfig(), 10)
    module.training_step((x, y, torch.arange(8)), 0).backward()
    assert all(p.grad is None for p in teacher.parameters())
    student_grads = [p.grad for p in student.parameters() if p.grad is not None]
    assert student_grads and any(g.abs().sum() > 0 for g in student_grads)
    method_params = list(method.parameters())
    assert all(p.grad is not None for p in method_params)
    # the optimizer covers adapters; the student's own parameter list does not include them
    ids = {id(p) for p in module.parameters()}
    assert {id(p) for p in method_params} <= ids
    assert not {id(p) for p in method_params} & {id(p) for p in student.parameters()}


def test_irrelevant_keys_do_not_split_cells(smoke_config):
    dkd = [cell_key(smoke_config("distill=dkd", f"distill.warmup={w}")) for w in (0, 5)]
    assert dkd[0] != dkd[1]
    fit = [cell_key(smoke_config("distill=fitnet", f"distill.T={t}")) for t in (2, 4)]
    assert fit[0] == fit[1]  # feature methods ignore the temperature
    alone = [cell_key(smoke_config("distill=none", f"distill.T={t}")) for t in (2, 4)]
    assert alone[0] == alone[1]


def test_ensemble_logits_soften_to_the_mean_distribution():
    torch.manual_seed(0)
    members = [create_model("cnn", 5, 1, width=w) for w in (0.25, 0.5)]
    T = 3.0
    ensemble = EnsembleTeacher(members, T).eval()
    x = torch.randn(4, 1, 8, 8)
    mean = torch.stack([torch.softmax(m(x) / T, dim=1) for m in members]).mean(0)
    out = ensemble.forward_features(x)
    assert torch.allclose(torch.softmax(out.logits / T, dim=1), mean, atol=1e-6)
    first = members[0].forward_features(x)
    assert all(torch.equal(a, b) for a, b in zip(out.features, first.features))
    single = EnsembleTeacher(members[:1], T)(x)
    assert torch.allclose(torch.softmax(single / T, 1), torch.softmax(members[0](x) / T, 1))


def test_ensemble_teacher_runs_a_cell(smoke_config):
    record = run_cell(smoke_config("teacher=ensemble_digits", "name=ens"))
    assert record["status"] == "ok", record.get("error")
    assert record["config"]["teacher"] == "cnn_x2+resnet8"
    assert len(record["teacher"]) and record["teacher_metrics"]["top1"] >= 0
    # members are stored like single teachers: a second cell reuses them
    again = run_cell(smoke_config("teacher=ensemble_digits", "name=ens", "seed=1"))
    assert again["teacher"]["cached"] is True


def test_every_method_trains_through_the_real_config(tmp_path):
    """One multirun over the whole zoo: every cell ok, method terms not counted as student."""
    grid = ["-m", *SMOKE, "name=zoo", "distill=" + ",".join(CNN_ZOO)]
    run = subprocess.run(
        [sys.executable, "-c", "from kdbench.cli import main; main()", *grid],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    records = [json.loads(p.read_text()) for p in find_records(tmp_path / "results/zoo")]
    assert sorted(r["config"]["method"] for r in records) == sorted(CNN_ZOO)
    assert all(r["status"] == "ok" for r in records)
    student_params = sum(p.numel() for p in create_model("cnn", 10, 1, width=0.25).parameters())
    assert {r["efficiency"]["params"] for r in records} == {student_params}
