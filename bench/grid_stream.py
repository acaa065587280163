"""Wall time of a whole T x alpha grid, with the shared teacher stream and with a live teacher.

The grid (every temperature x every alpha, one student, one teacher, augmented
CIFAR-shaped synthetic data) runs twice through `kdbench.runner.run_cell`, in
fresh results folders that share one teacher store: the teacher is trained
before either timing starts, so the two walls differ only in how the teacher's
logits reach the loss. With the stream, the teacher runs over each epoch's
views once for the whole grid; live, once per cell. Both grids must give the
same top-1 per cell (same views, same logits), which is checked and reported.
Results go to results/bench/grid_stream.md and stdout.

    python bench/grid_stream.py [--teacher resnet8 --student cnn --epochs 3]
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import torch

from kdbench.config import (
    DataConfig,
    EfficiencyConfig,
    KdbenchConfig,
    ModelConfig,
    RecipeConfig,
    TeacherConfig,
    TrainerConfig,
)
from kdbench.data import load_data
from kdbench.distill import METHODS
from kdbench.runner import run_cell
from kdbench.teachers import TeacherStore
from kdbench.validate import validate

warnings.filterwarnings("ignore")
for _name in ("lightning.pytorch", "lightning.fabric", "lightning"):
    logging.getLogger(_name).setLevel(logging.ERROR)


def base_config(args: argparse.Namespace, root: Path, store: Path) -> KdbenchConfig:
    data = DataConfig(
        name="synthetic",
        augment=["crop", "flip"],
        channels=3,
        image_size=32,
        num_samples=args.samples,
    )
    return KdbenchConfig(
        name="grid",
        results_dir=str(root),
        teacher_store=str(store),
        data=data,
        teacher=TeacherConfig(name=args.teacher, recipe=RecipeConfig(epochs=1)),
        student=ModelConfig(name=args.student, width=args.student_width),
        distill=METHODS.get("kd").Params(),
        train=RecipeConfig(epochs=args.epochs, batch_size=64),
        trainer=TrainerConfig(threads=args.threads),
        efficiency=EfficiencyConfig(enabled=False),
    )


def run_grid(args: argparse.Namespace, store: Path, stream: bool) -> tuple[float, dict, list]:
    """(wall seconds, top-1 per (T, alpha), stream epochs produced) of the whole grid."""
    root = Path(tempfile.mkdtemp(prefix="kdbench-grid-"))
    shutil.rmtree(store / "streams", ignore_errors=True)  # each grid starts without streams
    base = base_config(args, root, store)
    top1, produced = {}, []
    start = time.perf_counter()
    for T in args.temperatures:
        for alpha in args.alphas:
            trainer = replace(base.trainer, teacher_stream=stream)
            cfg = replace(base, distill=replace(base.distill, T=T, alpha=alpha), trainer=trainer)
            record = run_cell(validate(cfg))
            if record["status"] != "ok":
                raise RuntimeError(f"cell T={T} alpha={alpha} failed: {record.get('error')}")
            top1[(T, alpha)] = record["metrics"]["top1"]
            produced += record["training"].get("teacher_stream", {}).get("produced_epochs", [])
    wall = time.perf_counter() - start
    shutil.rmtree(root, ignore_errors=True)
    return wall, top1, produced


def main(argv: list[str] | None = None) -> dict[str, float]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--teacher", default="resnet8")
    p.add_argument("--student", default="cnn")
    p.add_argument("--student-width", type=float, default=0.25)
    p.add_argument("--temperatures", type=float, nargs="+", default=[2.0, 4.0, 8.0])
    p.add_argument("--alphas", type=float, nargs="+", default=[0.5, 0.9])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=Path("results/bench/grid_stream.md"))
    args = p.parse_args(argv)
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    torch.set_num_threads(args.threads)
    store = Path(tempfile.mkdtemp(prefix="kdbench-grid-store-"))
    cells = len(args.temperatures) * len(args.alphas)
    print(f"grid_stream: {cells} cells x {args.epochs} epochs, teacher {args.teacher} ...")
    TeacherStore(store).get(
        validate(base_config(args, store, store)), load_data(base_config(args, store, store).data)
    )  # untimed
    live_s, live_top1, _ = run_grid(args, store, stream=False)
    stream_s, stream_top1, produced = run_grid(args, store, stream=True)
    shutil.rmtree(store, ignore_errors=True)
    same = live_top1 == stream_top1
    text = "\n".join(
        [
            "# A T x alpha grid with and without the shared teacher stream",
            "",
            f"Grid: T in {args.temperatures} x alpha in {args.alphas} ({cells} KD cells), "
            f"student {args.student} (width {args.student_width:g}), teacher {args.teacher} "
            f"(trained before timing), augmented synthetic 3x32x32 data ({args.samples} "
            f"samples), {args.epochs} epochs per cell, {args.threads} thread(s), CPU, "
            "efficiency profiling off.",
            "",
            "| teacher logits | grid wall (s) | teacher passes over an epoch |",
            "|---|---:|---:|",
            f"| live teacher in every cell | {live_s:.1f} | {cells * args.epochs} |",
            f"| shared teacher stream | {stream_s:.1f} | {len(produced)} |",
            "",
            f"Speed-up: {live_s / stream_s:.2f}x. Same top-1 in every cell with and without "
            f"the stream: {'yes' if same else 'NO'}.",
            "",
            f"Host: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
            f"torch {torch.__version__}, load average before the run {load}.",
            "Shared machines are noisy: compare the two walls of the same run only.",
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    print(f"written to {args.out}")
    return {"live_s": live_s, "stream_s": stream_s, "same_top1": float(same)}


if __name__ == "__main__":
    main(sys.argv[1:])
