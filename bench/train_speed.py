"""Training speed: kdbench against a hand-written PyTorch loop, and KD against the student alone.

In one process, the same model, data and number of steps run
  1. through a plain loop (tensor slicing, batched augmentation, SGD, cosine schedule),
  2. through kdbench (`DistillationModule` + Lightning `Trainer` + `TensorDataModule`),
     student alone, and
  3. through kdbench with a teacher and the KD loss, the teacher run live, and
  4. through kdbench with the KD loss fed by the shared teacher stream
     (kdbench/teacher_stream.py: the teacher's logits of the epoch's views, computed
     once per grid; here before the timed window, as another cell of the grid would).
Each run's warm-up steps are excluded; the measured window is the remaining steps
(data slicing, augmentation, forward, loss, backward, optimizer and schedule).
Runs are interleaved and repeated; the medians give
  kdbench / plain loop   (target <= 1.05: the harness adds no measurable overhead), and
  KD step / student step (live teacher: includes the teacher's forward pass, whose
                          share is printed beside it, and the same ratio in the plain loop),
  stream KD step / student step (target <= 1.05: the grid pays the teacher once).
Results go to results/bench/train_speed.md and stdout.

    python bench/train_speed.py [--steps 12 --repeats 4 --student resnet20 --teacher resnet20]
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

from kdbench.config import OptimConfig, RecipeConfig
from kdbench.data import TensorData, TensorDataModule
from kdbench.data.augment import (
    channel_stats,
    normalize,
    standard_augment,
    to_float,
    view_keys,
)
from kdbench.distill import METHODS, kd_loss
from kdbench.models import create_model
from kdbench.module import DistillationModule
from kdbench.teacher_stream import TeacherStream

warnings.filterwarnings("ignore")
for _name in ("lightning.pytorch", "lightning.fabric", "lightning"):
    logging.getLogger(_name).setLevel(logging.ERROR)

NUM_CLASSES = 10


def cifar_shaped(n: int, seed: int = 0) -> TensorData:
    """Uint8 3x32x32 images with learnable class structure, augmented and normalized like CIFAR."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % NUM_CLASSES
    protos = torch.randint(0, 256, (NUM_CLASSES, 3, 32, 32), generator=g).float()
    x = (protos[y] + 40 * torch.randn(n, 3, 32, 32, generator=g)).clamp(0, 255).to(torch.uint8)
    mean, std = channel_stats(x)
    split = (x, y)
    return TensorData(split, split, split, NUM_CLASSES, "cifar-shaped", mean, std, standard_augment)


def recipe(batch_size: int) -> RecipeConfig:
    optim = OptimConfig(name="sgd", lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="cosine")
    return RecipeConfig(epochs=1, batch_size=batch_size, optim=optim)


def plain_loop(
    data: TensorData, student: str, batch: int, warmup: int, steps: int, teacher: str | None = None
) -> float:
    """Durations (s) of the `steps` training steps after `warmup`, hand-written (KD if `teacher`)."""
    torch.manual_seed(0)
    model = create_model(student, NUM_CLASSES, 3)
    model.train()
    frozen = create_model(teacher, NUM_CLASSES, 3).eval() if teacher else None
    o = recipe(batch).optim
    opt = torch.optim.SGD(
        model.parameters(), lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay, nesterov=True
    )
    total = warmup + steps
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total))
    )
    x_all, y_all = data.train
    order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(0))
    ends = []
    for step in range(total):
        idx = order[(step * batch) % len(order) :][:batch]
        x = normalize(
            to_float(standard_augment(x_all[idx], view_keys(0, 0, idx))), data.mean, data.std
        )
        logits = model(x)
        loss = F.cross_entropy(logits, y_all[idx])
        if frozen is not None:
            with torch.no_grad():
                t_logits = frozen(x)
            loss = 0.1 * loss + 0.9 * kd_loss(logits, t_logits, 4.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        ends.append(time.perf_counter())
    return step_durations(ends, warmup)


def step_durations(ends: list[float], warmup: int) -> list[float]:
    """Each timed step: from the end of the previous step to its own end (fetch included)."""
    return [b - a for a, b in zip(ends[warmup - 1 :], ends[warmup:])]


class _Window(L.Callback):
    """Records when each step ends, as the plain loop does."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.ends.append(time.perf_counter())


def kdbench_run(
    data: TensorData,
    student: str,
    teacher: str | None,
    batch: int,
    warmup: int,
    steps: int,
    stream: TeacherStream | None = None,
) -> float:
    """Seconds for the same steps through DistillationModule + Trainer + TensorDataModule."""
    torch.manual_seed(0)
    model = create_model(student, NUM_CLASSES, 3)
    sample = data.example()
    if teacher is None:
        method = METHODS.get("none")(METHODS.get("none").Params(), model, None, sample)
        module = DistillationModule(model, None, method, recipe(batch), NUM_CLASSES)
    else:
        torch.manual_seed(1)
        t = create_model(teacher, NUM_CLASSES, 3)
        method = METHODS.get("kd")(METHODS.get("kd").Params(T=4.0, alpha=0.9), model, t, sample)
        module = DistillationModule(
            model, t, method, recipe(batch), NUM_CLASSES, teacher_stream=stream
        )
    window = _Window()
    trainer = L.Trainer(
        accelerator="cpu",
        devices=1,
        max_steps=warmup + steps,
        limit_val_batches=0,
        callbacks=[window],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(module, datamodule=TensorDataModule(data, batch, seed=0))
    if len(window.ends) != warmup + steps:  # void unless both ran the same steps
        raise RuntimeError(f"kdbench ran {len(window.ends)} steps, expected {warmup + steps}")
    return step_durations(window.ends, warmup)


def teacher_forward(data: TensorData, teacher: str, batch: int, steps: int) -> float:
    """Durations of the teacher's no-grad forward passes alone, for the KD ratio's context."""
    model = create_model(teacher, NUM_CLASSES, 3).eval()
    x = data.prepare(data.train[0][:batch])
    ends = []
    with torch.no_grad():
        for _ in range(steps + 1):
            model(x)
            ends.append(time.perf_counter())
    return step_durations(ends, 1)


def measure(args: argparse.Namespace) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Every timed step's duration per run kind (pooled), and each repeat's median."""
    if args.threads:
        torch.set_num_threads(args.threads)
    data = cifar_shaped(args.batch_size * (args.warmup + args.steps))
    kinds = ("plain", "kdbench", "plain_kd", "kdbench_kd", "kdbench_stream", "teacher_fwd")
    store = tempfile.mkdtemp(prefix="kdbench-bench-stream-")
    identity = {"bench": args.teacher, "augmented": True, "num_train": len(data.train[1])}
    stream = TeacherStream(store, identity, max_bytes=1e9)
    # Produced once here, outside every timed window, as the grid's first cell would.
    kdbench_run(data, args.student, args.teacher, args.batch_size, 1, 0, stream)
    runs: dict[str, list[float]] = {k: [] for k in kinds}
    medians: dict[str, list[float]] = {k: [] for k in kinds}
    w, n, b = args.warmup, args.steps, args.batch_size
    for r in range(args.repeats):
        this = {
            "plain": plain_loop(data, args.student, b, w, n),
            "kdbench": kdbench_run(data, args.student, None, b, w, n),
            "plain_kd": plain_loop(data, args.student, b, w, n, args.teacher),
            "kdbench_kd": kdbench_run(data, args.student, args.teacher, b, w, n),
            "kdbench_stream": kdbench_run(data, args.student, args.teacher, b, w, n, stream),
            "teacher_fwd": teacher_forward(data, args.teacher, b, n),
        }
        for k, steps in this.items():
            runs[k] += steps
            medians[k].append(statistics.median(steps))
        print(
            f"  repeat {r + 1}/{args.repeats}: "
            + ", ".join(f"{k} {1000 * v[-1]:.1f} ms" for k, v in medians.items()),
            flush=True,
        )
    return runs, medians


def report(
    args: argparse.Namespace,
    runs: dict[str, list[float]],
    medians: dict[str, list[float]],
    wall: float,
) -> str:
    med = {k: statistics.median(v) for k, v in runs.items()}
    overhead = med["kdbench"] / med["plain"]
    kd = med["kdbench_kd"] / med["kdbench"]
    share = med["teacher_fwd"] / med["kdbench"]
    plain_kd = med["plain_kd"] / med["plain"]
    stream = med["kdbench_stream"] / med["kdbench"]
    kd_overhead = med["kdbench_kd"] / med["plain_kd"]
    verdict = lambda ok: "met" if ok else "MISSED"  # noqa: E731
    lines = [
        "# Training speed: kdbench vs a plain PyTorch loop",
        "",
        f"Student {args.student}, teacher {args.teacher}, CIFAR-shaped uint8 data "
        f"(3x32x32, random crop + flip + normalization per batch), batch {args.batch_size}, "
        f"{args.steps} timed steps after {args.warmup} warm-up steps per run, {args.repeats} "
        "interleaved repeats; the median step over all repeats (robust to other processes' "
        "bursts on a shared machine), CPU.",
        "",
        "| run | median ms/step | each repeat's median (ms/step) |",
        "|---|---:|---|",
    ]
    names = {
        "plain": "plain PyTorch loop, student alone",
        "kdbench": "kdbench (Lightning), student alone",
        "plain_kd": f"plain PyTorch loop, KD from {args.teacher}",
        "kdbench_kd": f"kdbench (Lightning), KD from {args.teacher}, live teacher",
        "kdbench_stream": f"kdbench (Lightning), KD from {args.teacher}, shared teacher stream",
        "teacher_fwd": f"{args.teacher} forward alone (no grad)",
    }
    for key, label in names.items():
        all_ms = ", ".join(f"{1000 * v:.1f}" for v in medians[key])
        lines.append(f"| {label} | {1000 * med[key]:.1f} | {all_ms} |")
    lines += [
        "",
        "| ratio | value | target | |",
        "|---|---:|---:|---|",
        f"| kdbench / plain loop | {overhead:.3f} | <= 1.05 | {verdict(overhead <= 1.05)} |",
        f"| kdbench / plain loop, KD | {kd_overhead:.3f} | <= 1.05 | {verdict(kd_overhead <= 1.05)} |",
        f"| KD step / student-alone step, live teacher | {kd:.3f} | | |",
        f"| KD step / student-alone step, shared teacher stream | {stream:.3f} | <= 1.05 "
        f"| {verdict(stream <= 1.05)} |",
        f"| same ratio in the plain loop | {plain_kd:.3f} | | the cost of KD itself |",
        f"| teacher forward / student-alone step | {share:.3f} | | part of the KD ratio |",
        "",
        f"Host: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load average before the run {args.load}; bench wall time {wall:.0f} s.",
        "Shared machines are noisy: compare ratios from the same run, never absolute times.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--student", default="resnet20")
    p.add_argument("--teacher", default="resnet20")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=4)
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    p.add_argument("--out", type=Path, default=Path("results/bench/train_speed.md"))
    args = p.parse_args(argv)
    args.load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    start = time.perf_counter()
    print(f"train_speed: {args.student} (teacher {args.teacher}), {args.repeats} repeats ...")
    runs, medians = measure(args)
    text = report(args, runs, medians, time.perf_counter() - start)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"written to {args.out}")
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "overhead_ratio": med["kdbench"] / med["plain"],
        "kd_ratio": med["kdbench_kd"] / med["kdbench"],
        "stream_kd_ratio": med["kdbench_stream"] / med["kdbench"],
    }


if __name__ == "__main__":
    main(sys.argv[1:])
