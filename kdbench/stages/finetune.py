"""Fine-tuning: more epochs for the student at a lower learning rate, alone or with the teacher.

The stage that follows pruning (recover the accuracy the removed channels took)
or that continues a distilled student on labels alone; with `distill: true` it
trains with the cell's distillation method and teacher (kdbench.distill).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from kdbench.errors import ConfigError
from kdbench.models import FeatureModel
from kdbench.stages.base import STAGES, Stage, StageContext, StageOutput, StageParams


@dataclass
class FineTuneParams(StageParams):
    name: str = "finetune"
    epochs: int = 5
    lr: float = 0.01  # the fine-tuning learning rate (cosine schedule from it, as in training)
    distill: bool = True  # with the cell's method and teacher; false: labels only

    def check(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"stages: finetune epochs={self.epochs} is invalid: must be >= 1")
        if self.lr <= 0:
            raise ConfigError(f"stages: finetune lr={self.lr} is invalid: must be > 0")

    def uses_teacher(self) -> bool:
        return self.distill


@STAGES.register("finetune")
class FineTune(Stage):
    Params = FineTuneParams

    def run(self, student: FeatureModel, ctx: StageContext, workdir: Path) -> StageOutput:
        p: FineTuneParams = self.params  # type: ignore[assignment]
        recipe = replace(
            ctx.cfg.train, epochs=p.epochs, optim=replace(ctx.cfg.train.optim, lr=p.lr)
        )
        method = "cell" if p.distill else "none"
        fit = ctx.fit(student, method, recipe, workdir, "finetune")
        return StageOutput(student, fit)
