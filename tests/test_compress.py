"""Compressed students: structured pruning (Torch-Pruning) and int8 QAT as cell stages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from kdbench.errors import ConfigError
from kdbench.models import FeatureModel
from kdbench.models.base import GlobalPool, conv_bn_relu
from kdbench.models.registry import MODELS, register_model
from kdbench.profile import main as profile_main
from kdbench.records import cell_key
from kdbench.remeasure import load_student
from kdbench.runner import run_cell

# Torch-Pruning removes whole channels: with the plain CNN's 32/64/128 channels one channel
# of the narrowest layer moves the MACs by about 1/32 of a layer's share, and the bisection
# keeps the most MACs at or under the budget, so the achieved reduction is in
# [ratio, ratio + GRANULARITY]; parameters fall by the same factor within 2 * GRANULARITY.
GRANULARITY = 0.05


def _cell(record: dict, results: Path) -> Path:
    (cell,) = (results / record["experiment"] / "cells").iterdir()
    return cell


@pytest.mark.parametrize("ratio", [0.5, 0.75])
def test_pruning_removes_the_requested_share_of_macs_and_params(smoke_config, ratio):
    cfg = smoke_config("compress=prune", f"stages.0.ratio={ratio}", "student=cnn", "name=p")
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    train, prune = record["stages"]
    before, after = train["costs"], prune["costs"]
    assert after == {k: record["efficiency"][k] for k in after}  # the shipped student
    macs_removed = 1 - after["macs"] / before["macs"]
    params_removed = 1 - after["params"] / before["params"]
    assert ratio <= macs_removed <= ratio + GRANULARITY
    assert abs(params_removed - ratio) <= 2 * GRANULARITY
    assert prune["info"]["macs_removed"] == pytest.approx(macs_removed)
    assert prune["metrics"]["top1"] == record["metrics"]["top1"]  # pruned, not fine-tuned


def test_a_pruned_student_is_rebuilt_and_remeasured_from_its_kept_files(smoke_config):
    cfg = smoke_config("compress=prune_ft", "distill=kd", "student=cnn", "name=pr")
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    cell = _cell(record, Path(cfg.results_dir))
    model = load_student(json.loads((cell / "record.json").read_text()), cell)
    assert sum(p.numel() for p in model.parameters()) == record["efficiency"]["params"]
    x = torch.load(cell / "inputs.pt", weights_only=True)["inputs"]
    assert model(x).shape == (len(x), 10)
    profile_main([str(cell.parent.parent)])
    again = json.loads((cell / "record.json").read_text())
    assert again["efficiency"]["params"] == record["efficiency"]["params"]


def test_pruning_the_teacher_skips_student_training_and_names_the_teacher(smoke_config):
    cfg = smoke_config("compress=prune", "stages.0.source=teacher", "distill=none", "name=t")
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    train, prune = record["stages"]
    assert train["training"]["skipped"] and prune["info"]["source"] == "teacher"
    assert record["config"]["student"] == record["config"]["teacher"] == "cnn_x2"
    assert record["config"]["compress"] == "prune(ratio=0.5,source=teacher)"
    assert prune["info"]["params_before"] > prune["info"]["params_after"]
    # the cell's student setting is unused, so it does not make another cell
    other = smoke_config("compress=prune", "stages.0.source=teacher", "distill=none", "student=mlp")
    assert cell_key(other) == record["key"]


def test_qat_runs_end_to_end_and_is_measured_as_int8(smoke_config):
    cfg = smoke_config("compress=qat", "distill=kd", "student=cnn_tiny", "name=q")
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    assert [s["name"] for s in record["stages"]] == ["train", "qat"]
    assert record["efficiency"]["int8"]["mode"] == "qat"
    assert record["efficiency"]["int8"]["top1"] is not None
    assert record["config"]["compress"] == "qat(epochs=5)"
    cell = _cell(record, Path(cfg.results_dir))
    model = load_student(json.loads((cell / "record.json").read_text()), cell)
    assert type(model).__name__ == "QatStudent"
    profile_main([str(cell.parent.parent)])
    again = json.loads((cell / "record.json").read_text())
    assert again["efficiency"]["latency"]["torch_fp32"]


def test_ptq_records_its_mode(smoke_config):
    record = run_cell(smoke_config("distill=none", "student=cnn_tiny", "name=ptq"))
    assert record["efficiency"]["int8"]["mode"] == "ptq"


@pytest.mark.parametrize("ratio", ["0", "1", "1.5", "-0.2"])
def test_a_ratio_out_of_range_is_one_line(smoke_config, ratio):
    with pytest.raises(ConfigError, match=rf"prune ratio={ratio}.* must be in \(0, 1\)"):
        smoke_config("compress=prune", f"stages.0.ratio={ratio}")


class _Recurrent(FeatureModel):
    """A model int8 QAT here cannot quantize (an LSTM over the image rows)."""

    def __init__(self, num_classes: int, in_channels: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8 * in_channels, 16, batch_first=True)
        self.classifier = nn.Linear(16, num_classes)

    def forward_features(self, x):
        from kdbench.models import ModelOutput

        h, _ = self.lstm(x.permute(0, 2, 1, 3).flatten(2))
        emb = h[:, -1]
        return ModelOutput(self.classifier(emb), [h], emb)


class _HardWired(FeatureModel):
    """Its forward hard-codes a channel count: a pruned copy cannot run (untraceable)."""

    def __init__(self, num_classes: int, in_channels: int) -> None:
        super().__init__()
        self.stem = nn.Identity()
        self.stages = nn.ModuleList([conv_bn_relu(in_channels, 16)])
        self.pool = GlobalPool()
        self.classifier = nn.Linear(16, num_classes)

    def forward_features(self, x):
        from kdbench.models import ModelOutput

        h = self.stages[0](x)
        emb = self.pool(h).reshape(-1, 16)
        return ModelOutput(self.classifier(emb), [h], emb)


@pytest.fixture
def odd_models(monkeypatch):
    monkeypatch.setattr(MODELS, "_entries", dict(MODELS._entries))
    register_model("recurrent_test")(
        lambda num_classes, in_channels: _Recurrent(num_classes, in_channels)
    )
    register_model("hardwired_test")(
        lambda num_classes, in_channels: _HardWired(num_classes, in_channels)
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            ["compress=qat", "student.name=recurrent_test"],
            r"qat cannot quantize model 'recurrent_test': its layer lstm \(LSTM\)",
        ),
        (
            ["compress=prune", "student.name=hardwired_test"],
            r"prune cannot prune model 'hardwired_test'",
        ),
    ],
)
def test_unsupported_models_fail_in_one_line_before_training(
    smoke_config, odd_models, overrides, message
):
    cfg = smoke_config(*overrides, "student.width=null", "distill=none", "name=bad")
    record = run_cell(cfg)
    assert record["status"] == "failed" and record["error"]["user_error"]
    assert "\n" not in record["error"]["message"]
    assert re.search(message, record["error"]["message"]), record["error"]["message"]
    cell = _cell(record, Path(cfg.results_dir))
    assert not (cell / "metrics.csv").exists()  # nothing trained
