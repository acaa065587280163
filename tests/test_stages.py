"""A cell is a list of stages: training, then registered stages on the last stage's student."""

from __future__ import annotations

import shutil
import sys
from dataclasses import fields
from pathlib import Path

import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

import kdbench.stages
from kdbench import stage_runner
from kdbench.config import CONF_DIR, register_configs
from kdbench.errors import ConfigError
from kdbench.records import cell_key
from kdbench.runner import run_cell
from kdbench.stages import STAGES
from kdbench.validate import validate

from .conftest import SMOKE

FINETUNE = ["compress=finetune", "distill=kd"]


def test_a_finetune_stage_runs_after_training_and_is_recorded(smoke_config):
    cfg = smoke_config(*FINETUNE, "name=ft")
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    names = [s["name"] for s in record["stages"]]
    assert names == ["train", "finetune"]
    finetune = record["stages"][1]
    assert finetune["params"] == {"name": "finetune", "epochs": 5, "lr": 0.01, "distill": True}
    assert finetune["metrics"]["top1"] == record["metrics"]["top1"]  # the shipped student
    assert finetune["costs"]["params"] == record["efficiency"]["params"]
    folder = Path(cfg.results_dir) / "ft" / "cells"
    (cell,) = folder.iterdir()
    assert (cell / "stages" / "1-finetune" / "metrics.csv").is_file()
    assert (cell / "stages" / "0-train" / "student.pt").is_file()


def test_stage_settings_are_part_of_the_cell_identity(smoke_config):
    plain = cell_key(smoke_config("distill=kd"))
    tuned = cell_key(smoke_config(*FINETUNE))
    longer = cell_key(smoke_config(*FINETUNE, "stages.0.epochs=7"))
    assert len({plain, tuned, longer}) == 3


def test_a_finished_stage_is_restored_not_repeated(smoke_config, monkeypatch):
    cfg = smoke_config(*FINETUNE, "name=resume")
    calls: list[str] = []
    real = stage_runner._Train.run

    def counting(self, student, ctx, workdir):
        calls.append("train")
        return real(self, student, ctx, workdir)

    monkeypatch.setattr(stage_runner._Train, "run", counting)
    original = STAGES.get("finetune").run

    def killed(self, student, ctx, workdir):
        raise KeyboardInterrupt  # a kill during the second stage

    monkeypatch.setattr(STAGES.get("finetune"), "run", killed)
    with pytest.raises(KeyboardInterrupt):
        run_cell(cfg)
    monkeypatch.setattr(STAGES.get("finetune"), "run", original)
    record = run_cell(cfg)
    assert record["status"] == "ok" and calls == ["train"]  # training ran once
    assert [s["name"] for s in record["stages"]] == ["train", "finetune"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("stages=[{name: prune_it}]", r"stages\[0\].name='prune_it' is invalid: known stages"),
        ("stages=[{name: finetune, epoch: 3}]", r"stages\[0\].epoch is not a parameter of stage"),
        ("stages=[{name: finetune, epochs: 0}]", "finetune epochs=0 is invalid"),
        ("stages=[{name: finetune, lr: fast}]", r"stages\[0\].lr='fast' is invalid for stage"),
    ],
)
def test_bad_stage_settings_are_one_line_errors(smoke_config, override, message):
    with pytest.raises(ConfigError, match=message):
        smoke_config(override)


def test_every_compress_yaml_lists_its_stage_defaults():
    """The stage's dataclass holds the defaults; each yaml restates them, checked here."""
    for path in sorted(Path(CONF_DIR, "compress").glob("*.yaml")):
        for entry in yaml.safe_load(path.read_text())["stages"]:
            params = STAGES.get(entry["name"]).Params()
            assert set(entry) == {f.name for f in fields(params)}, path.name
            assert all(entry[f.name] == getattr(params, f.name) for f in fields(params)), path.name


NEW_STAGE = """
from dataclasses import dataclass

import torch

from kdbench.stages.base import STAGES, FitResult, Stage, StageOutput, StageParams


@dataclass
class ShrinkParams(StageParams):
    name: str = "shrink"
    factor: float = 0.5


@STAGES.register("shrink")
class Shrink(Stage):
    Params = ShrinkParams

    def run(self, student, ctx, workdir):
        with torch.no_grad():
            for p in student.parameters():
                p.mul_(self.params.factor)
        return StageOutput(student, FitResult({"top1": -1.0}, {}), {"factor": self.params.factor})
"""


def test_a_new_stage_is_one_file_and_one_yaml(tmp_path, monkeypatch):
    package = tmp_path / "extra"
    package.mkdir()
    (package / "shrink.py").write_text(NEW_STAGE)
    conf = tmp_path / "conf"
    shutil.copytree(CONF_DIR, conf)
    (conf / "compress" / "shrink.yaml").write_text(
        "# @package _global_\nstages:\n  - name: shrink\n    factor: 0.25\n"
    )
    monkeypatch.setattr(kdbench.stages, "__path__", [*kdbench.stages.__path__, str(package)])
    monkeypatch.setattr(STAGES, "_entries", dict(STAGES._entries))
    try:
        kdbench.stages.import_stages()
        register_configs()
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
            composed = compose(
                config_name="config",
                overrides=[*SMOKE, "compress=shrink", f"results_dir={tmp_path / 'results'}"],
            )
        cfg = validate(composed)
        record = run_cell(cfg)
        assert record["status"] == "ok", record.get("error")
        assert record["stages"][1] == {
            **record["stages"][1],
            "name": "shrink",
            "params": {"name": "shrink", "factor": 0.25},
            "info": {"factor": 0.25},
        }
        assert record["metrics"] == {"top1": -1.0}  # the last stage's student is the result
    finally:
        sys.modules.pop("kdbench.stages.shrink", None)
