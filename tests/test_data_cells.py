"""Image data through a whole cell: uint8 storage, on-device augmentation, teacher, record."""

from __future__ import annotations

import pytest

from kdbench.data import load_data
from kdbench.runner import run_cell
from kdbench.validate import validate

from .conftest import compose_config
from .test_data_imagefolder import write_tree

CELL = [
    "trainer=smoke",
    "efficiency.min_time_s=0.01",
    "efficiency.warmup=1",
    "teacher=cnn_x2",
    "student=cnn_small",
    "distill=kd",
]


def test_imagefolder_cell_runs_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("KDBENCH_CACHE", str(tmp_path / "cache"))
    write_tree(tmp_path / "images", per_class=6)
    cfg = validate(
        compose_config(
            [*CELL, "data=imagefolder", f"data.root={tmp_path / 'images'}", "data.image_size=16"],
            tmp_path,
        )
    )
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    assert record["data_info"]["input_shape"] == [3, 16, 16]
    assert record["data_info"]["num_classes"] == 3
    assert 0 <= record["metrics"]["agreement"] <= 100
    # the training split is stored sorted by class; the int8 calibration set holds every class
    data = load_data(cfg.data)
    assert data.train[1].tolist() == sorted(data.train[1].tolist())
    counts = record["efficiency"]["calibration"]["class_counts"]
    assert len(counts) == 3 and all(n > 0 for n in counts.values())
    assert sum(counts.values()) == record["efficiency"]["calibration"]["size"]


@pytest.mark.slow
def test_cifar10_jpeg_subset_cell(tmp_path):
    """Unpacks and decodes the shared archive on first use (about 20 s), then a smoke cell."""
    overrides = ["data=cifar10_jpeg", "data.train_subset=300", "data.test_subset=100"]
    record = run_cell(validate(compose_config([*CELL, *overrides], tmp_path)))
    assert record["status"] == "ok", record.get("error")
    assert record["data_info"]["display_name"] == "CIFAR-10 (JPEG)"
    assert record["data_info"]["sizes"] == {"train": 270, "val": 30, "test": 100}
