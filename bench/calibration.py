"""int8 calibration: the first n training images vs a class-balanced seeded draw.

Folder data sets store their training split sorted by class, so the first n
training images (kdbench's calibration set before issue 21) are one or two
classes. This trains one small student on a CIFAR-10 (JPEG) subset, then
quantizes the same fp32 ONNX file twice (ORT static QDQ, identical settings),
calibrated on the first n training images and on the class-balanced draw the
harness now uses, and reports both int8 test top-1 values beside fp32.
Writes results/bench/calibration.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from kdbench.config import CONF_DIR, EfficiencyConfig, register_configs
from kdbench.data import load_data
from kdbench.efficiency import export_onnx, ort_session, ort_top1, quantize_int8
from kdbench.remeasure import load_student
from kdbench.runner import run_cell
from kdbench.validate import validate

OUT = Path("results/bench/calibration.md")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train-subset", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--n", type=int, default=256)
    args = p.parse_args(argv)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        register_configs()
        GlobalHydra.instance().clear()
        with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
            composed = compose(
                config_name="config",
                overrides=[
                    "data=cifar10_jpeg",
                    f"data.train_subset={args.train_subset}",
                    "data.test_subset=2000",
                    "student=cnn_small",
                    "distill=none",
                    f"train.epochs={args.epochs}",
                    "efficiency.enabled=false",
                    "progress=off",
                    f"results_dir={tmp}",
                ],
            )
        cfg = validate(composed)
        record = run_cell(cfg)
        assert record["status"] == "ok", record.get("error")
        data = load_data(cfg.data)
        cells = next(Path(tmp).glob("*/cells/*"))
        student = load_student(record, cells)
        fp32 = export_onnx(student, data.example(2), Path(tmp) / "s.onnx")
        x_test, y_test = data.prepare(data.test[0]).numpy(), data.test[1].numpy()
        fp32_top1 = ort_top1(ort_session(fp32), x_test, y_test)
        first = data.prepare(data.train[0][: args.n])
        first_classes = torch.bincount(data.train[1][: args.n], minlength=10).tolist()
        balanced, histogram = data.calibration(args.n, seed=0)
        rows = []
        for name, inputs, classes in (
            ("first n training images (before)", first, first_classes),
            ("class-balanced, seeded (now)", balanced, list(histogram.values())),
        ):
            int8 = quantize_int8(fp32, Path(tmp) / f"{len(rows)}.int8.onnx", inputs.numpy())
            top1 = ort_top1(ort_session(int8), x_test, y_test)
            rows.append((name, classes, top1))
    lines = [
        "# int8 calibration set: first n vs class-balanced",
        "",
        f"`python bench/calibration.py --train-subset {args.train_subset} --epochs {args.epochs}"
        f" --n {args.n}`; {time.perf_counter() - start:.0f} s; student cnn_small trained alone"
        f" on CIFAR-10 (JPEG), test subset of {len(y_test)}; {EfficiencyConfig().threads} thread.",
        "",
        "| calibration set | images per class | int8 top-1 (%) | fp32 top-1 (%) |",
        "| --- | --- | ---: | ---: |",
    ]
    for name, classes, top1 in rows:
        lines.append(f"| {name} | {classes} | {top1:.2f} | {fp32_top1:.2f} |")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
