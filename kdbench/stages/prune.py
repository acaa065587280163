"""Structured pruning with Torch-Pruning: remove whole channels until the MACs fall by `ratio`.

`torch.nn.utils.prune` only masks weights (the network stays as large and as
slow); Torch-Pruning's dependency graph removes coupled channels together
(a conv's outputs, its batch norm, the next layer's inputs, residual partners),
so the pruned model really has fewer parameters and MACs.

`ratio` is the fraction of MACs to remove (0.5: 2x fewer, 0.75: 4x fewer).
Torch-Pruning takes a per-layer *channel* ratio, so the stage searches it by
bisection, each trial pruning a copy the whole way (all `iterative_steps`), and
keeps the trial with the most MACs at or under the budget: the achieved
reduction is at least `ratio` and above it by at most one bisection step's
channel granularity (recorded: `info.macs_removed`).

`source: teacher` prunes a copy of the cell's trained teacher instead of the
trained student ("prune the teacher into a student"): the cell's student
architecture is then unused (its training is skipped), the record keeps the
teacher's model config in `info.base`, and the report names the student
`<teacher>-pruned`. The stage only prunes: chain `finetune` after it (alone or
distilled from the unpruned teacher), as conf/compress/prune_ft.yaml does.

The pruned shapes are recorded as plain numbers (`info.shapes`: each changed
tensor's shape), so `rebuild` makes the pruned architecture from the registry
without unpickling code (kdbench.models.shapes.fit_shapes).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdbench.config import KdbenchConfig, ModelConfig
from kdbench.efficiency.counts import count_flops, count_params
from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec
from kdbench.models import FeatureModel, build_model
from kdbench.models.shapes import changed_shapes, fit_shapes
from kdbench.registry import Registry
from kdbench.stages.base import STAGES, FitResult, Stage, StageContext, StageOutput, StageParams

SEARCH_STEPS = 12  # bisection steps on the channel ratio (2^-12 of the channel range)
MAX_CHANNEL_RATIO = 0.9  # never remove every channel of a layer
TAYLOR_SAMPLES = 128  # training inputs whose loss gradient scores channels (taylor)

IMPORTANCES: Registry[Callable[[], Any]] = Registry("pruning importance")


def _tp() -> Any:
    import torch_pruning

    return torch_pruning


IMPORTANCES.add("l1", lambda: _tp().importance.GroupMagnitudeImportance(p=1))  # group L1 norm
IMPORTANCES.add("bn", lambda: _tp().importance.BNScaleImportance())  # |gamma| of batch norms
IMPORTANCES.add("taylor", lambda: _tp().importance.GroupTaylorImportance())  # |w * dL/dw|


@dataclass
class PruneParams(StageParams):
    name: str = "prune"
    ratio: float = 0.5  # fraction of MACs removed: 0.5 = 2x fewer MACs, 0.75 = 4x fewer
    importance: str = "l1"  # l1 | bn | taylor
    global_pruning: bool = False  # rank channels across layers (uneven widths) or per layer
    iterative_steps: int = 1  # prune in this many steps, importance re-scored between them
    source: str = "student"  # student: the trained student; teacher: a copy of the teacher

    def check(self) -> None:
        if not 0 < self.ratio < 1:
            raise ConfigError(
                f"stages: prune ratio={self.ratio} is invalid: the fraction of MACs to remove "
                "must be in (0, 1), e.g. 0.5 for 2x fewer MACs"
            )
        if self.importance not in IMPORTANCES:
            raise ConfigError(
                f"stages: prune importance={self.importance!r} is invalid: "
                f"choose one of {', '.join(IMPORTANCES.names())}"
            )
        if self.iterative_steps < 1:
            raise ConfigError(
                f"stages: prune iterative_steps={self.iterative_steps} is invalid: must be >= 1"
            )
        if self.source not in ("student", "teacher"):
            raise ConfigError(
                f"stages: prune source={self.source!r} is invalid: choose student or teacher"
            )

    def uses_teacher(self) -> bool:
        return self.source == "teacher"


def _macs(model: nn.Module, spec: InputSpec) -> int:
    return count_flops(model, (1, *spec.shape), spec.random(1, seed=0)) // 2


def _classifier(model: nn.Module) -> list[nn.Module]:
    """The layer that makes the logits: its outputs are the classes, never pruned."""
    head = getattr(model, "classifier", None)
    if head is not None:
        return [head]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    return linears[-1:]


def prune_copy(
    model: nn.Module,
    p: PruneParams,
    channel_ratio: float,
    example: torch.Tensor,
    batch: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> nn.Module:
    """A copy of `model` with `channel_ratio` of its channels removed (Torch-Pruning)."""
    tp = _tp()
    pruned = copy.deepcopy(model).cpu().eval()
    for param in pruned.parameters():
        param.requires_grad_(True)  # a frozen teacher's copy: Taylor scores and fine-tuning
    pruner = tp.pruner.MetaPruner(
        pruned,
        example,
        importance=IMPORTANCES.get(p.importance)(),
        global_pruning=p.global_pruning,
        pruning_ratio=channel_ratio,
        iterative_steps=p.iterative_steps,
        ignored_layers=_classifier(pruned),
    )
    for _ in range(p.iterative_steps):
        if p.importance == "taylor":
            x, y = batch if batch is not None else (example, torch.zeros(len(example)).long())
            pruned.zero_grad()
            nn.functional.cross_entropy(pruned(x), y).backward()
        pruner.step()
    pruned.zero_grad(set_to_none=True)
    return pruned


def prune_to_budget(
    model: nn.Module,
    p: PruneParams,
    spec: InputSpec,
    example: torch.Tensor,
    batch: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> tuple[nn.Module, float]:
    """The pruned copy with the most MACs at or under (1 - ratio) of `model`'s, and its channel
    ratio; bisection on the channel ratio (MACs fall as it grows)."""
    budget = (1.0 - p.ratio) * _macs(model, spec)
    lo, hi = 0.0, MAX_CHANNEL_RATIO
    best, best_ratio = None, hi
    for _ in range(SEARCH_STEPS):
        mid = (lo + hi) / 2
        trial = prune_copy(model, p, mid, example, batch)
        if _macs(trial, spec) <= budget:
            best, best_ratio, hi = trial, mid, mid
        else:
            lo = mid
    if best is None:
        best = prune_copy(model, p, MAX_CHANNEL_RATIO, example, batch)
        left = _macs(best, spec) / _macs(model, spec)
        if left > 1.0 - p.ratio:
            raise ConfigError(
                f"stages: prune ratio={p.ratio} is out of reach for this model: removing "
                f"{MAX_CHANNEL_RATIO:.0%} of the channels leaves {left:.0%} of the MACs; "
                "lower the ratio"
            )
    return best, best_ratio


def _source_config(cfg: KdbenchConfig, p: PruneParams) -> ModelConfig:
    m = cfg.teacher if p.source == "teacher" else cfg.student
    return ModelConfig(**{f: getattr(m, f) for f in ModelConfig.__dataclass_fields__})


@STAGES.register("prune")
class Prune(Stage):
    Params = PruneParams

    def replaces_student(self) -> bool:
        return self.params.source == "teacher"  # type: ignore[attr-defined]

    def check_cell(self, cfg: KdbenchConfig, spec: Any, num_classes: int) -> None:
        """A trial prune of the untrained model: Torch-Pruning must trace it and the pruned
        model must still give one logit per class (one line, exit 2, before training)."""
        p: PruneParams = self.params  # type: ignore[assignment]
        if p.source == "teacher" and cfg.teacher.ensemble:
            raise ConfigError(
                "stages: prune source=teacher cannot prune an ensemble teacher; "
                "use a single teacher or source=student"
            )
        m = _source_config(cfg, p)
        model = build_model(m, spec, num_classes)
        example = spec.random(2, seed=0)
        quick = PruneParams(ratio=p.ratio, importance="l1", global_pruning=p.global_pruning)
        try:
            pruned = prune_copy(model, quick, min(p.ratio, 0.5), example)
            with torch.no_grad():
                shape = tuple(pruned(example).shape)
        except ConfigError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure means Torch-Pruning cannot do it
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise ConfigError(
                f"stages: prune cannot prune model {m.name!r} (Torch-Pruning could not trace "
                f"or prune it: {line}); prune another model"
            ) from None
        if shape != (2, num_classes) or _macs(pruned, spec) >= _macs(model, spec):
            raise ConfigError(
                f"stages: prune found no prunable channels in model {m.name!r}; prune another model"
            )

    def run(self, student: FeatureModel, ctx: StageContext, workdir: Path) -> StageOutput:
        p: PruneParams = self.params  # type: ignore[assignment]
        spec = ctx.data.spec
        if p.source == "teacher":
            if ctx.teacher is None:
                raise ConfigError("stages: prune source=teacher needs the cell's teacher")
            base = ctx.teacher
        else:
            base = student
        base = copy.deepcopy(base).cpu().eval()
        g = torch.Generator().manual_seed(ctx.cfg.seed)
        index = torch.randperm(len(ctx.data.train[1]), generator=g)[:TAYLOR_SAMPLES]
        batch = (ctx.data.prepare(ctx.data.train[0][index]), ctx.data.train[1][index].long())
        pruned, channel_ratio = prune_to_budget(base, p, spec, ctx.data.example(2), batch)
        macs_before, macs_after = _macs(base, spec), _macs(pruned, spec)
        info: dict[str, Any] = {
            "source": p.source,
            "channel_ratio": channel_ratio,
            "macs_before": macs_before,
            "macs_after": macs_after,
            "macs_removed": 1.0 - macs_after / macs_before,
            "params_before": count_params(base),
            "params_after": count_params(pruned),
            "shapes": changed_shapes(pruned, base),
        }
        if p.source == "teacher":
            info["base"] = {
                "model": asdict(_source_config(ctx.cfg, p)),
                "num_classes": ctx.data.num_classes,
                "spec": spec.to_dict(),
            }
        metrics = ctx.evaluate(pruned) if ctx.evaluate is not None else {}
        training = {"epochs": 0, "tested": bool(metrics)}
        return StageOutput(pruned.train(), FitResult(metrics, training), info)  # type: ignore[arg-type]

    def rebuild(self, student: FeatureModel, info: dict[str, Any]) -> FeatureModel:
        base = info.get("base")
        if base:
            model = ModelConfig(**base["model"])
            spec = InputSpec.from_dict(base["spec"])
            student = build_model(model, spec, int(base["num_classes"]))
        return fit_shapes(student, info.get("shapes") or {})  # type: ignore[return-value]
