"""Progress a person can follow while a teacher or a cell trains.

On a terminal: Lightning's progress bar, titled with what trains and the epoch
(n/N) and showing the loss, validation top-1 and the time left. Elsewhere (a
log file, CI, SLURM, a multirun's captured output): one line per epoch, e.g.

    cnn_tiny kd T=4 s0: epoch  3/20  loss 0.4123  val top-1  91.20%  0:12 elapsed, ~0:48 left

`trainer`-level choice `progress`: auto (bar on a terminal, lines otherwise),
bar, lines or off.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, TQDMProgressBar

from kdbench.errors import ConfigError

PROGRESS_MODES = ("auto", "bar", "lines", "off")


def clock(seconds: float) -> str:
    """m:ss below an hour, h:mm:ss above."""
    s = int(round(max(0.0, seconds)))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class _EpochClock:
    """Elapsed time since fit start and the remaining time, by the mean epoch so far."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first_epoch = 0

    def reset(self, trainer: L.Trainer) -> None:
        self.start = time.perf_counter()
        self.first_epoch = trainer.current_epoch  # > 0 when resumed from last.ckpt

    def times(self, trainer: L.Trainer) -> tuple[float, float]:
        elapsed = time.perf_counter() - self.start
        done = trainer.current_epoch + 1 - self.first_epoch
        left = (trainer.max_epochs or 0) - trainer.current_epoch - 1
        return elapsed, elapsed / max(1, done) * max(0, left)


def _value(metrics: dict[str, Any], key: str) -> float | None:
    v = metrics.get(key)
    return None if v is None else float(v)


class EpochLines(Callback):
    """One line per finished epoch: n/N, loss, validation top-1, elapsed and remaining."""

    def __init__(self, label: str, write: Callable[[str], None] | None = None) -> None:
        self.label = label
        self.write = write or (lambda line: print(line, file=sys.stdout, flush=True))
        self.clock = _EpochClock()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.clock.reset(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        m = trainer.callback_metrics
        width = len(str(trainer.max_epochs))
        parts = [f"{self.label}: epoch {trainer.current_epoch + 1:>{width}}/{trainer.max_epochs}"]
        loss = _value(m, "train/loss")
        if loss is not None:
            parts.append(f"loss {loss:.4f}")
        top1 = _value(m, "val/top1")
        if top1 is not None:
            parts.append(f"val top-1 {100 * top1:6.2f}%")
        elapsed, left = self.clock.times(trainer)
        parts.append(f"{clock(elapsed)} elapsed, ~{clock(left)} left")
        self.write("  ".join(parts))


class EpochBar(TQDMProgressBar):
    """Lightning's bar, titled `<label> epoch n/N`, with the time left for the whole run."""

    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label
        self.clock = _EpochClock()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self.clock.reset(trainer)

    def on_train_epoch_start(self, trainer: L.Trainer, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        epoch = f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}"
        self.train_progress_bar.set_description(f"{self.label} {epoch}".strip())

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        items = super().get_metrics(trainer, pl_module)
        items.pop("v_num", None)
        for key, value in items.items():
            if key.endswith("top1") and isinstance(value, (int, float)):
                items[key] = f"{100 * value:.2f}%"  # as the epoch lines say it
        if trainer.current_epoch > self.clock.first_epoch:
            elapsed, _ = self.clock.times(trainer)
            done = trainer.current_epoch - self.clock.first_epoch
            left = (trainer.max_epochs or 0) - trainer.current_epoch
            items["left"] = "~" + clock(elapsed / done * left)
        return items


def progress_callbacks(mode: str, label: str) -> tuple[list[Callback], bool]:
    """(callbacks, enable Lightning's progress bar) for `mode` in PROGRESS_MODES."""
    if mode not in PROGRESS_MODES:
        raise ConfigError(f"progress={mode!r} is invalid: one of {', '.join(PROGRESS_MODES)}")
    if mode == "auto":
        mode = "bar" if sys.stdout.isatty() else "lines"
    if mode == "bar":
        return [EpochBar(label)], True
    if mode == "lines":
        return [EpochLines(label)], False
    return [], False
