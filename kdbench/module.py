"""DistillationModule: a student trained on its method's weighted sum of named loss terms.

The method owns the objective (`DistillMethod.loss_terms`, `.weights`; by
default `w1 * CE + w2 * method term`); the module sums, logs each term as
`train/<term>` and stops a diverged run. The teacher is frozen and kept out of
the module's registered children, so the optimizer, the checkpoint and the
student's size never include it.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassCalibrationError,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from kdbench.config import RecipeConfig
from kdbench.data.base import Batch
from kdbench.distill import DistillMethod, weighted_sum
from kdbench.errors import Diverged
from kdbench.models import FeatureModel, ModelOutput
from kdbench.models.precomputed import PrecomputedTeacher
from kdbench.optim import OPTIMIZERS, SCHEDULES, param_groups, with_warmup
from kdbench.teacher_stream import TeacherStream


def biased_logits(logits: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Logits with a per-class bias added (a (classes,) vector, broadcast over the batch)."""
    return logits + bias


def test_metrics(num_classes: int) -> MetricCollection:
    """Top-1 is the micro average: torchmetrics' default (macro) is not top-1."""
    metrics = {
        "top1": MulticlassAccuracy(num_classes, average="micro"),
        "precision_macro": MulticlassPrecision(num_classes, average="macro"),
        "recall_macro": MulticlassRecall(num_classes, average="macro"),
        "f1_macro": MulticlassF1Score(num_classes, average="macro"),
        "ece": MulticlassCalibrationError(num_classes, n_bins=15),
    }
    if num_classes > 5:
        metrics["top5"] = MulticlassAccuracy(num_classes, top_k=5, average="micro")
    return MetricCollection(metrics)


@torch.no_grad()
def test_split_metrics(model: nn.Module, data: Any, batch_size: int) -> dict[str, float]:
    """The test metrics (percent) of `model` as it is, without training: what a stage that
    only transforms the student (pruning) reports; the same metrics as a trained run's test."""
    metrics = test_metrics(data.num_classes)
    was_training = model.training
    model.eval()
    x, y = data.test
    for i in range(0, len(y), batch_size):
        metrics.update(model(data.prepare(x[i : i + batch_size])), y[i : i + batch_size])
    model.train(was_training)
    return {k: 100.0 * float(v) for k, v in metrics.compute().items()}


class DistillationModule(L.LightningModule):
    def __init__(
        self,
        student: FeatureModel,
        teacher: FeatureModel | None,
        method: DistillMethod,
        recipe: RecipeConfig,
        num_classes: int,
        teacher_stream: TeacherStream | None = None,
        class_bias: dict[int, float] | None = None,
        count_classes: tuple[int, ...] = (),
    ) -> None:
        """`teacher_stream`: where a logit-only method reads the teacher's training logits.

        `class_bias`: class -> logit bias; the test metrics are also computed on the
        biased logits (`biased_*`). `count_classes`: classes whose test errors are
        counted by name (`errors_class<k>`) beside the total.
        """
        super().__init__()
        self.student = student
        self.method = method
        method.label_smoothing = recipe.label_smoothing  # every method's `ce` term reads it
        # Not a registered child: excluded from parameters(), state_dict() and checkpoints.
        object.__setattr__(self, "teacher", teacher)
        if teacher is not None:
            teacher.requires_grad_(False).eval()
        self.num_classes = num_classes
        self.recipe = recipe
        self.val_top1 = MulticlassAccuracy(num_classes, average="micro")
        self.test_metrics = test_metrics(num_classes)
        self.agreement = MulticlassAccuracy(num_classes, average="micro")
        bias = torch.zeros(num_classes)
        for c, b in (class_bias or {}).items():
            bias[int(c)] = float(b)
        self.class_bias = bias if class_bias else None
        self.biased_metrics = test_metrics(num_classes) if class_bias else None
        self.count_classes = tuple(int(c) for c in count_classes)
        # Test errors per true class (counts, never percentages), per variant ("", "biased_").
        self._errors: dict[str, torch.Tensor] = {}
        self.test_counts: dict[str, Any] = {}
        self.channels_last = False
        # Teacher logits of un-augmented passes, per split: (logits, filled) by sample index.
        self._teacher_cache: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.teacher_stream = teacher_stream
        self._stream_logits: torch.Tensor | None = None  # this epoch's, by sample index

    def apply_speed_options(self, channels_last: bool = False, compile: bool = False) -> None:
        """NHWC memory format for models and batches; `torch.compile` of student and teacher.

        `nn.Module.compile` compiles in place, so parameter names (and the
        checkpoint, and the stored teacher) stay those of the eager model.
        """
        self.channels_last = channels_last
        models = [m for m in (self.student, self.teacher) if m is not None]
        for m in models:
            if channels_last:
                m.to(memory_format=torch.channels_last)
            if compile:
                m.compile()

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    # The teacher is not a child module, so device moves must be done by hand.
    def _teacher_to_device(self) -> None:
        if self.teacher is not None:
            self.teacher.to(self.device).eval()

    def on_fit_start(self) -> None:
        self._teacher_to_device()

    def on_test_start(self) -> None:
        self._teacher_to_device()

    def on_train_epoch_start(self) -> None:
        self.method.epoch = self.current_epoch  # for methods with a warm-up (DKD)
        hook = getattr(self.student, "on_train_epoch", None)
        if callable(hook):  # students that change with the epoch (QAT freezes its observers)
            hook(self.current_epoch)
        self._stream_logits = None
        if isinstance(self.teacher, PrecomputedTeacher) and self.method.reads_teacher:
            # a logits file: the same logits every epoch (no augmentation), by sample index
            self._stream_logits = self.teacher.train_logits.to(self.device)
        elif (
            self.teacher_stream is not None
            and self.teacher is not None
            and self.method.reads_teacher
        ):
            epoch = self.current_epoch
            logits = self.teacher_stream.logits(epoch, lambda: self._teacher_pass(epoch))
            self._stream_logits = None if logits is None else logits.to(self.device)

    def _teacher_pass(self, epoch: int) -> torch.Tensor:
        """The teacher's logits of every training view of `epoch`, in large chunks.

        Run exactly as the live teacher runs in `training_step` (memory format,
        precision context), so the stream holds the same numbers.
        """
        assert self.teacher is not None
        dm = self.trainer.datamodule
        out = torch.empty(len(dm.data.train[1]), self.num_classes)
        with torch.no_grad(), self.trainer.precision_plugin.forward_context():
            for index, x in dm.epoch_views(epoch):
                out[index.cpu()] = self.teacher(self._input(x)).float().cpu()
        return out

    def _teacher_out(self, x: torch.Tensor, index: torch.Tensor) -> ModelOutput | None:
        if self.teacher is None or not self.method.reads_teacher:
            return None
        if self._stream_logits is not None:
            logits = self._stream_logits[index]
            return ModelOutput(logits, [], logits.new_empty(0))
        with torch.no_grad():
            return self.teacher.forward_features(x)

    def teacher_logits(self, split: str, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """The teacher's logits for un-augmented samples of `split`, computed once per sample.

        Validation, test agreement and calibration see the same images every
        time, so the frozen teacher runs on each split once, not once per pass.
        """
        assert self.teacher is not None
        if isinstance(self.teacher, PrecomputedTeacher):
            assert split == "test" and self.teacher.test_logits is not None
            return self.teacher.test_logits.to(x.device)[index]
        logits, filled = self._teacher_cache.get(split, (None, None))
        size = int(index.max()) + 1
        if logits is None or len(filled) < size or logits.device != x.device:
            grown = max(size, 0 if filled is None else len(filled))
            new_logits = torch.zeros(grown, self.num_classes, device=x.device)
            new_filled = torch.zeros(grown, dtype=torch.bool, device=x.device)
            if logits is not None:
                new_logits[: len(filled)] = logits.to(x.device)
                new_filled[: len(filled)] = filled.to(x.device)
            logits, filled = new_logits, new_filled
            self._teacher_cache[split] = (logits, filled)
        missing = ~filled[index]
        if bool(missing.any()):
            with torch.no_grad():
                logits[index[missing]] = self.teacher(x[missing]).float()
            filled[index[missing]] = True
        return logits[index]

    def training_step(self, batch: Batch, batch_idx: int):
        x, y, index = batch
        x = self._input(x)
        student_out = self.student.forward_features(x)
        terms = self.method.loss_terms(student_out, self._teacher_out(x, index), y, index=index)
        # w2 = 0 leaves the hard term at its weight w1, not at 1
        loss = weighted_sum(terms, self.method.weights)
        if not torch.isfinite(loss.detach()):
            # Stop at once: a NaN run would otherwise finish and report a chance-level result.
            raise Diverged(self.current_epoch + 1, batch_idx + 1)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        for name, value in terms.items():  # unweighted, one metrics.csv column each
            self.log(f"train/{name}", value.detach(), on_step=False, on_epoch=True)
        return loss

    def on_train_batch_end(self, outputs, batch: Batch, batch_idx: int) -> None:
        """After the optimizer step: the student's weight constraints (max-norm)."""
        self.student.after_step()

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        x, y, _ = batch
        self.val_top1.update(self.student(self._input(x)), y)
        self.log("val/top1", self.val_top1, on_step=False, on_epoch=True, prog_bar=True)

    def on_test_epoch_start(self) -> None:
        self._errors = {}

    def _count_errors(self, variant: str, logits: torch.Tensor, y: torch.Tensor) -> None:
        wrong = y[logits.argmax(dim=1) != y]
        counts = torch.bincount(wrong.cpu(), minlength=self.num_classes)
        self._errors[variant] = self._errors.get(variant, 0) + counts

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        x, y, index = batch
        x = self._input(x)
        logits = self.student(x)
        self.test_metrics.update(logits, y)
        self._count_errors("", logits, y)
        if self.class_bias is not None and self.biased_metrics is not None:
            biased = biased_logits(logits, self.class_bias.to(logits.device))
            self.biased_metrics.update(biased, y)
            self._count_errors("biased_", biased, y)
        if self._has_test_teacher():
            self.agreement.update(logits, self.teacher_logits("test", x, index).argmax(dim=1))

    def _has_test_teacher(self) -> bool:
        """A teacher whose test-split logits exist (a logits file may hold none)."""
        if isinstance(self.teacher, PrecomputedTeacher):
            return self.teacher.test_logits is not None
        return self.teacher is not None

    def on_test_epoch_end(self) -> None:
        for name, value in self.test_metrics.compute().items():
            self.log(f"test/{name}", value)
        if self._has_test_teacher():
            self.log("test/agreement", self.agreement.compute())
        if self.biased_metrics is not None:
            for name, value in self.biased_metrics.compute().items():
                self.log(f"test/biased_{name}", value)
            self.biased_metrics.reset()
        self.test_metrics.reset()
        self.agreement.reset()
        self.test_counts = {}
        for variant, per_class in self._errors.items():
            self.test_counts[f"{variant}errors"] = int(per_class.sum())
            for c in self.count_classes:
                self.test_counts[f"{variant}errors_class{c}"] = int(per_class[c])
            self.test_counts[f"{variant}errors_by_class"] = [int(n) for n in per_class]

    def configure_optimizers(self):
        o = self.recipe.optim
        opt = OPTIMIZERS.get(o.name)(param_groups(self, o), o)  # student + method adapters
        total = max(1, int(self.trainer.estimated_stepping_batches))
        epochs = max(1, self.trainer.max_epochs or 1)
        warmup = round(total * o.warmup_epochs / epochs)
        factor = with_warmup(SCHEDULES.get(o.schedule), warmup)
        schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: factor(step, total))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
