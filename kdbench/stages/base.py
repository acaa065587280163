"""A cell is a list of stages: training first, then registered stages, each on the last one's student.

A stage is one file in this package: its settings as a `StageParams` dataclass
and a `Stage` subclass registered with `@STAGES.register("name")`; a cell lists
the stages to run after the first training in `stages: [{name: ..., ...}]`
(conf/compress/<option>.yaml names a ready-made list). Each stage's settings are
part of the cell's identity (the list is in the resolved config).

Stages say *what* to do with the student (prune it, fine-tune it with or without
the teacher, train it quantization-aware); *how* to train is handed to them by
the runner through `StageContext.fit`, so this package imports no training code
and the config checks (`kdbench.validate`) can parse stage settings.

Per stage the runner keeps a folder `stages/<i>-<name>/` with the stage's
checkpoint (a kill mid-stage resumes that stage from its `last.ckpt`), its
`metrics.csv`, its test metrics and the student it ended with (`student.pt`):
a rerun restores finished stages instead of repeating them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from kdbench.config import KdbenchConfig, RecipeConfig
from kdbench.errors import ConfigError
from kdbench.models import FeatureModel
from kdbench.registry import Registry
from kdbench.typed import as_dict, parse_dataclass


@dataclass
class StageParams:
    """The settings every stage has; a stage subclasses this with its own."""

    name: str = ""

    def check(self) -> None:
        """Raise ConfigError for values the field types cannot rule out (choices, ranges)."""

    def uses_teacher(self) -> bool:
        """True when the stage needs the cell's trained teacher (distils from it, prunes it)."""
        return False


@dataclass
class FitResult:
    """What one training run of a stage gave: test metrics (percent) and training facts."""

    metrics: dict[str, float]
    training: dict[str, Any]


#: fit(student, method, recipe, workdir, label) -> FitResult. `method`: "cell" (the cell's
#: distillation method and teacher) or "none" (labels only). Trains `student` in place.
Fit = Callable[[FeatureModel, str, RecipeConfig, Path, str], FitResult]


@dataclass
class StageContext:
    """What a stage works with; the runner builds it."""

    cfg: KdbenchConfig
    data: Any  # kdbench.data.TensorData
    teacher: FeatureModel | None
    fit: Fit
    extra: dict[str, Any] = field(default_factory=dict)
    #: test metrics (percent) of a model as it is, no training ({} when the cell is not tested)
    evaluate: Callable[[FeatureModel], dict[str, float]] | None = None


@dataclass
class StageOutput:
    """A stage's result: the student it ends with, its metrics, and what to record."""

    student: FeatureModel
    fit: FitResult
    info: dict[str, Any] = field(default_factory=dict)  # stage-specific facts for the record


class Stage:
    """Base class. Subclasses set `Params` and implement `run`."""

    Params: ClassVar[type[StageParams]] = StageParams

    def __init__(self, params: StageParams) -> None:
        self.params = params

    def replaces_student(self) -> bool:
        """True when the stage starts from something else than the trained student (the
        teacher): training the cell's student first would be wasted, so it is skipped."""
        return False

    def check_cell(self, cfg: KdbenchConfig, spec: Any, num_classes: int) -> None:
        """Raise ConfigError when this stage cannot work on the cell's models (before training)."""

    def run(self, student: FeatureModel, ctx: StageContext, workdir: Path) -> StageOutput:
        raise NotImplementedError

    def restore(
        self, student: FeatureModel, state: dict[str, torch.Tensor], info: dict[str, Any]
    ) -> FeatureModel:
        """The student a finished stage ended with, from its kept state dict and `info`.

        Stages that change the architecture (pruning, QAT) rebuild it from `info` first.
        """
        student = self.rebuild(student, info)
        student.load_state_dict(state)
        return student

    def rebuild(self, student: FeatureModel, info: dict[str, Any]) -> FeatureModel:
        """The architecture this stage ends with (weights not meaningful), from the one it got
        and its recorded `info`: how re-measuring rebuilds a kept student without pickles."""
        return student


STAGES: Registry[type[Stage]] = Registry("stage")


def parse_stage(node: Any, position: int) -> StageParams:
    """One entry of `stages` -> its stage's `Params`, or ConfigError naming `stages[i]`."""
    where = f"stages[{position}]"
    data = {"name": node} if isinstance(node, str) else as_dict(node, where)
    name = data.get("name")
    if not isinstance(name, str) or name not in STAGES:
        raise ConfigError(
            f"{where}.name={name!r} is invalid: known stages: {', '.join(STAGES.names())}"
        )
    params = parse_dataclass(STAGES.get(name).Params, data, where, f"stage {name!r}")
    params.check()
    return params


def stage_identity(params: StageParams) -> dict[str, Any]:
    return asdict(params)
