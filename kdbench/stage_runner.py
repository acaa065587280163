"""Run a cell's stages in order: training, then each stage of `cfg.stages` on the last student.

Training works in the cell folder as it always did (its `metrics.csv` beside the
record). When stages follow, each finished stage (training included) leaves
`stages/<i>-<name>/` with `student.pt` (weights only) and `done.json` (its
metrics and facts); a rerun after a kill restores those instead of repeating
them, and the stage that was cut resumes from its own `last.ckpt`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from kdbench.config import KdbenchConfig
from kdbench.efficiency.profiler import static_costs
from kdbench.fileio import write_atomic, write_json_atomic
from kdbench.models import FeatureModel
from kdbench.stages import STAGES, FitResult, StageContext, StageOutput

DONE = "done.json"


def stage_folder(directory: Path, position: int, name: str) -> Path:
    return directory / "stages" / f"{position}-{name}"


def _entry(name: str, params: dict[str, Any], out: StageOutput, spec: Any) -> dict[str, Any]:
    costs = static_costs(copy.deepcopy(out.student).cpu(), spec)  # the live one keeps training
    return {
        "name": name,
        "params": params,
        "metrics": out.fit.metrics,
        "training": out.fit.training,
        "info": out.info,
        "costs": {k: costs[k] for k in ("params", "macs", "flops", "size_bytes")},
    }


def _restore(folder: Path, stage: Any, student: FeatureModel) -> tuple[FeatureModel, dict] | None:
    """A finished stage's student and entry, or None when the stage has to run."""
    done, weights = folder / DONE, folder / "student.pt"
    if not (done.is_file() and weights.is_file()):
        return None
    try:
        entry = json.loads(done.read_text())
        state = torch.load(weights, map_location="cpu", weights_only=True)
        return stage.restore(student, state, entry.get("info") or {}), entry
    except Exception:  # noqa: BLE001 - an unreadable leftover means: run the stage again
        return None


def _keep(folder: Path, out: StageOutput, entry: dict[str, Any]) -> None:
    state = {k: v.detach().cpu().contiguous() for k, v in out.student.state_dict().items()}
    write_atomic(folder / "student.pt", lambda f: torch.save(state, f))
    write_json_atomic(folder / DONE, entry)


class _Train:
    """The first stage of every cell: the training `cfg.train` describes."""

    def replaces_student(self) -> bool:
        return False

    def restore(self, student: FeatureModel, state: dict, info: dict) -> FeatureModel:
        student.load_state_dict(state)
        return student

    def run(self, student: FeatureModel, ctx: StageContext, workdir: Path) -> StageOutput:
        fit: FitResult = ctx.fit(student, "cell", ctx.cfg.train, workdir, "train")
        return StageOutput(student, fit)


def _skipped_training(by: str) -> dict[str, Any]:
    """The training entry of a cell whose next stage starts from the teacher, not the student."""
    return {
        "name": "train",
        "params": {},
        "metrics": {},
        "training": {"epochs": 0, "skipped": f"stage {by} starts from the teacher"},
        "info": {},
        "costs": None,
    }


def run_stages(
    student: FeatureModel, cfg: KdbenchConfig, ctx: StageContext, directory: Path
) -> tuple[FeatureModel, list[dict[str, Any]]]:
    """The student after every stage, and one record entry per stage (training first)."""
    plan: list[tuple[str, dict[str, Any], Any]] = [("train", {}, _Train())]
    for params in cfg.stages:
        plan.append((params.name, asdict(params), STAGES.get(params.name)(params)))
    keep = len(plan) > 1  # a lone training needs no restore point: the record is its end
    entries = []
    for position, (name, params, stage) in enumerate(plan):
        folder = stage_folder(directory, position, name)
        if position == 0 and keep and plan[1][2].replaces_student():
            entries.append(_skipped_training(plan[1][0]))  # e.g. pruning the teacher
            continue
        restored = _restore(folder, stage, student) if keep else None
        if restored is not None:
            student, entry = restored
            entries.append(entry)
            continue
        workdir = directory if position == 0 else folder
        workdir.mkdir(parents=True, exist_ok=True)
        out = stage.run(student, ctx, workdir)
        student = out.student
        entry = _entry(name, params, out, ctx.data.spec)
        if keep:
            folder.mkdir(parents=True, exist_ok=True)
            _keep(folder, out, entry)
        entries.append(entry)
    return student, entries
