"""Quantization-aware training (int8), alone or distilled from the fp32 teacher.

Why torch's own API (torch.ao.quantization, FX graph mode): it ships with the
pinned torch, needs no extra package, and gives exactly the scheme asked for:
symmetric per-channel int8 weights, per-tensor uint8 activations, observers that
can be frozen. Batch norm is folded into the convolutions before the fake
quantizers are inserted (torch.fx.experimental.optimization.fuse), so training
sees the weights the int8 model runs. brevitas and NNCF were not needed.

Deployment: torch's fake-quant graph does not export through the TorchScript
ONNX exporter on torch 2.13 (`fused_moving_avg_obs_fake_quant` has no symbolic;
with plain FakeQuantize the exporter fails on the observer branches) and the
reference-quantized model fails on its qscheme buffers. So the QAT student is
deployed as the float network with its QAT-trained, BN-folded weights
(`deployable`), and the profiler quantizes that file with the same ONNX Runtime
static QDQ quantizer as post-training int8, per-channel (the weight grid QAT
trained on: symmetric per-channel min-max), activations calibrated on the same
class-balanced set. PTQ and QAT int8 models are then the same graph (equal
latency); their accuracy differs by the weights (record: `efficiency.int8.mode`).

Observers (weight and activation ranges) update until `freeze_observers_epoch`,
then stay fixed while the weights keep adapting to the frozen grid.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from kdbench.config import KdbenchConfig, ModelConfig
from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec
from kdbench.models import FeatureModel, ModelOutput, build_model
from kdbench.stages.base import STAGES, Stage, StageContext, StageOutput, StageParams

#: layers int8 QAT here cannot quantize (recurrent cells, attention, embeddings)
UNSUPPORTED = (nn.RNNBase, nn.MultiheadAttention, nn.Embedding, nn.EmbeddingBag)


@dataclass
class QatParams(StageParams):
    name: str = "qat"
    epochs: int = 5
    lr: float = 0.01  # cosine schedule from it, as in training
    distill: bool = True  # with the cell's method and the fp32 teacher; false: labels only
    freeze_observers_epoch: int = 3  # quantization ranges fixed from this epoch (0-based) on

    def check(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"stages: qat epochs={self.epochs} is invalid: must be >= 1")
        if self.lr <= 0:
            raise ConfigError(f"stages: qat lr={self.lr} is invalid: must be > 0")
        if self.freeze_observers_epoch < 0:
            raise ConfigError(
                f"stages: qat freeze_observers_epoch={self.freeze_observers_epoch} is invalid: "
                "must be >= 0"
            )

    def uses_teacher(self) -> bool:
        return self.distill


def qconfig_mapping() -> Any:
    """int8: symmetric per-channel weights in [-127, 127], per-tensor uint8 activations."""
    from torch.ao.quantization import (
        FakeQuantize,
        MovingAverageMinMaxObserver,
        MovingAveragePerChannelMinMaxObserver,
        QConfig,
        QConfigMapping,
    )

    activation = FakeQuantize.with_args(
        observer=MovingAverageMinMaxObserver,
        quant_min=0,
        quant_max=255,
        dtype=torch.quint8,
        qscheme=torch.per_tensor_affine,
    )
    weight = FakeQuantize.with_args(
        observer=MovingAveragePerChannelMinMaxObserver,
        quant_min=-127,
        quant_max=127,
        dtype=torch.qint8,
        qscheme=torch.per_channel_symmetric,
    )
    return QConfigMapping().set_global(QConfig(activation=activation, weight=weight))


class _Outputs(nn.Module):
    """forward_features as a flat tuple (logits, embedding, *features): what FX traces."""

    def __init__(self, model: FeatureModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.model.forward_features(x)
        return (out.logits, out.embedding, *out.features)


class _Logits(nn.Module):
    def __init__(self, graph: nn.Module) -> None:
        super().__init__()
        self.graph = graph

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.graph(x)[0]


class QatStudent(FeatureModel):
    """A student with BN folded and fake quantizers inserted; trains like any student."""

    int8_mode = "qat"

    def __init__(self, graph: nn.Module, freeze_observers_epoch: int) -> None:
        super().__init__()
        self.graph = graph
        self.freeze_observers_epoch = freeze_observers_epoch

    def forward_features(self, x: torch.Tensor) -> ModelOutput:
        logits, embedding, *features = self.graph(x)
        return ModelOutput(logits, list(features), embedding)

    def on_train_epoch(self, epoch: int) -> None:
        """Called by the training module at each epoch start: freeze the ranges when due."""
        from torch.ao.quantization import disable_observer, enable_observer

        self.graph.apply(
            disable_observer if epoch >= self.freeze_observers_epoch else enable_observer
        )

    def deployable(self) -> nn.Module:
        """The float network the int8 model is made from: QAT weights, BN folded, no fake
        quantizers, logits only (see the module docstring)."""
        from torch.ao.quantization import FakeQuantizeBase

        graph = copy.deepcopy(self.graph).cpu().eval()
        for name, module in list(graph._modules.items()):
            if isinstance(module, FakeQuantizeBase):  # an activation's fake quantizer
                setattr(graph, name, nn.Identity())
        for name, module in list(graph.named_modules()):
            if name and hasattr(module, "to_float"):  # QAT conv/linear -> the float layer
                graph.set_submodule(name, module.to_float())
        return _Logits(graph).eval()


def prepare_qat(model: FeatureModel, spec: InputSpec, freeze_observers_epoch: int) -> QatStudent:
    """`model` (trained weights kept) with BN folded and int8 fake quantizers inserted."""
    from torch.ao.quantization.quantize_fx import prepare_qat_fx
    from torch.fx.experimental.optimization import fuse

    base = copy.deepcopy(model).cpu().eval()
    for param in base.parameters():
        param.requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization deprecation notices
        fused = fuse(_Outputs(base))
        graph = prepare_qat_fx(fused.train(), qconfig_mapping(), (spec.random(2, seed=0),))
    return QatStudent(graph, freeze_observers_epoch).train()


def _model_before(cfg: KdbenchConfig, position: int) -> ModelConfig:
    """The architecture the QAT stage receives: the teacher's when an earlier stage prunes it."""
    earlier = cfg.stages[:position]
    m = (
        cfg.teacher
        if any(getattr(s, "source", None) == "teacher" for s in earlier)
        else cfg.student
    )
    return ModelConfig(**{f: getattr(m, f) for f in ModelConfig.__dataclass_fields__})


@STAGES.register("qat")
class Qat(Stage):
    Params = QatParams

    def check_cell(self, cfg: KdbenchConfig, spec: Any, num_classes: int) -> None:
        """Unsupported layers or an untraceable model: one line before anything trains."""
        position = next(i for i, s in enumerate(cfg.stages) if s is self.params)
        m = _model_before(cfg, position)
        model = build_model(m, spec, num_classes)
        for name, module in model.named_modules():
            if isinstance(module, UNSUPPORTED):
                raise ConfigError(
                    f"stages: qat cannot quantize model {m.name!r}: its layer {name} "
                    f"({type(module).__name__}) is not supported by int8 QAT (convolutions, "
                    "linear layers, batch norm, activations are); use compress=none or another "
                    "student"
                )
        try:
            prepare_qat(model, spec, 0)
        except Exception as exc:  # noqa: BLE001 - a model FX cannot trace
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise ConfigError(
                f"stages: qat cannot trace model {m.name!r} for quantization ({line}); "
                "use another student"
            ) from None

    def run(self, student: FeatureModel, ctx: StageContext, workdir: Path) -> StageOutput:
        p: QatParams = self.params  # type: ignore[assignment]
        qat = prepare_qat(student, ctx.data.spec, p.freeze_observers_epoch)
        recipe = replace(
            ctx.cfg.train, epochs=p.epochs, optim=replace(ctx.cfg.train.optim, lr=p.lr)
        )
        fit = ctx.fit(qat, "cell" if p.distill else "none", recipe, workdir, "qat")
        return StageOutput(qat, fit, {"spec": ctx.data.spec.to_dict()})

    def rebuild(self, student: FeatureModel, info: dict[str, Any]) -> FeatureModel:
        p: QatParams = self.params  # type: ignore[assignment]
        return prepare_qat(student, InputSpec.from_dict(info["spec"]), p.freeze_observers_epoch)
