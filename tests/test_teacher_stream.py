"""The grid-shared teacher stream: fixed views, the same result as the live teacher, one file."""

from __future__ import annotations

import json
import multiprocessing as mp
from pathlib import Path

import lightning as L
import torch

from kdbench.config import DataConfig, RecipeConfig
from kdbench.data import TensorDataModule, load_data
from kdbench.data.augment import crop, flip, keyed_draws, standard_augment, view_keys
from kdbench.distill import METHODS
from kdbench.models import create_model
from kdbench.module import DistillationModule
from kdbench.runner import run_cell
from kdbench.teacher_stream import STREAMS_DIR, TeacherStream
from kdbench.validate import validate
from tests.conftest import SMOKE, compose_config

STREAM = ["data.augment=[crop,flip]", "data.image_size=12", "teacher=cnn_x2", "student=cnn_tiny"]


def _images(n: int = 40) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, 8, 8), dtype=torch.uint8)


def test_a_view_depends_on_seed_epoch_and_index_only():
    x = _images()
    index = torch.arange(len(x))
    whole = standard_augment(x, view_keys(7, 3, index))
    # other batch sizes, another order: each sample gets the same view
    for size in (1, 3, 16):
        perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(size))
        for chunk in perm.split(size):
            assert torch.equal(standard_augment(x[chunk], view_keys(7, 3, chunk)), whole[chunk])
    # another epoch or seed: other views (40 samples x 81 crops x 2 flips: a clash is ~0)
    assert not torch.equal(standard_augment(x, view_keys(7, 4, index)), whole)
    assert not torch.equal(standard_augment(x, view_keys(8, 3, index)), whole)


def test_keyed_views_are_crops_and_flips_spread_over_all_offsets():
    x = _images(2000)
    keys = view_keys(0, 0, torch.arange(len(x)))
    out = standard_augment(x, keys)
    # every output is one of the 81 x 2 candidate views of its input ...
    i = 5
    candidates = [
        flip(crop(x[i : i + 1], 4, torch.tensor([[r, c]])), torch.tensor([f]))
        for r in range(9)
        for c in range(9)
        for f in (False, True)
    ]
    assert any(torch.equal(out[i : i + 1], v) for v in candidates)
    # ... and the draws cover every offset and both flips, roughly uniformly
    offsets, flips = keyed_draws(keys, 4)
    counts = torch.bincount(offsets[:, 0] * 9 + offsets[:, 1], minlength=81)
    assert counts.min() > 5 and counts.max() < 50  # 2000 / 81 = 24.7 expected
    assert 0.45 < flips.float().mean() < 0.55


DATA = DataConfig(
    name="synthetic", augment=["crop", "flip"], channels=3, image_size=12, num_samples=300
)


def _train_one_epoch(stream: TeacherStream | None, seed: int = 0) -> dict[str, torch.Tensor]:
    """A KD student after one epoch on augmented synthetic data, fed live or by `stream`."""
    data = load_data(DATA)
    torch.manual_seed(0)
    teacher = create_model("cnn", data.num_classes, 3, width=0.5)
    torch.manual_seed(seed)
    student = create_model("cnn", data.num_classes, 3, width=0.25)
    method = METHODS.get("kd")(METHODS.get("kd").Params(T=4.0), student, teacher, data.example())
    module = DistillationModule(
        student, teacher, method, RecipeConfig(epochs=1), data.num_classes, stream
    )
    trainer = L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=0,
    )
    trainer.fit(module, datamodule=TensorDataModule(data, 32, seed=seed, aug_seed=11))
    return {k: v.detach().clone() for k, v in module.student.state_dict().items()}


def test_stream_and_live_teacher_train_the_same_student(tmp_path):
    live = _train_one_epoch(None)
    identity = {
        "augmented": True,
        "num_train": len(load_data(DATA).train[1]),
        "test": "same-student",
    }
    stream = TeacherStream(tmp_path, identity, max_bytes=1e9)
    streamed = _train_one_epoch(stream)
    assert stream.produced == [0]  # the stream really fed this run
    assert live.keys() == streamed.keys()
    for k in live:
        assert torch.allclose(live[k].float(), streamed[k].float(), atol=1e-6, rtol=0), k
    # and the check can fail: another student seed gives other weights
    other = _train_one_epoch(None, seed=1)
    assert not all(torch.allclose(live[k].float(), other[k].float(), atol=1e-6) for k in live)


def test_other_temperatures_and_methods_read_the_same_stream(smoke_config, tmp_path):
    first = run_cell(smoke_config(*STREAM, "distill=kd", "distill.T=2", "efficiency.enabled=false"))
    second = run_cell(smoke_config(*STREAM, "distill=dkd", "efficiency.enabled=false"))
    assert first["training"]["teacher_stream"]["produced_epochs"] == [0]
    assert second["training"]["teacher_stream"]["produced_epochs"] == []  # read, not recomputed
    assert first["training"]["teacher_stream"]["key"] == second["training"]["teacher_stream"]["key"]
    # a feature method keeps the live teacher
    fitnet = run_cell(smoke_config(*STREAM, "distill=fitnet", "efficiency.enabled=false"))
    assert fitnet["status"] == "ok" and "teacher_stream" not in fitnet["training"]


def test_a_changed_teacher_subset_or_aug_seed_gets_a_new_stream(smoke_config):
    base = [*STREAM, "distill=kd", "efficiency.enabled=false"]
    variants = [
        [],
        ["teacher.seed=1"],  # another teacher
        ["data.num_samples=500"],  # other data
        ["data.aug_seed=5"],  # other views
    ]
    keys = []
    for extra in variants:
        record = run_cell(smoke_config(*base, *extra))
        assert record["status"] == "ok", record.get("error")
        assert record["training"]["teacher_stream"]["produced_epochs"] == [0]
        keys.append(record["training"]["teacher_stream"]["key"])
    assert len(set(keys)) == len(keys)
    # the student's seed alone does not change the views when aug_seed is pinned
    again = run_cell(smoke_config(*base, "data.aug_seed=5", "seed=3"))
    assert again["training"]["teacher_stream"]["key"] == keys[-1]
    assert again["training"]["teacher_stream"]["produced_epochs"] == []


def test_the_disk_limit_is_honoured(smoke_config, tmp_path):
    record = run_cell(
        smoke_config(
            *STREAM, "distill=kd", "efficiency.enabled=false", "trainer.teacher_stream_max_mb=0.001"
        )
    )
    assert record["status"] == "ok", record.get("error")
    assert record["training"]["teacher_stream"]["over_limit_epochs"] == [0]
    assert not list((tmp_path / "teachers" / STREAMS_DIR).rglob("epoch-*.pt"))


def _run_in_child(overrides: list[str], results: str, out: str) -> None:
    torch.set_num_threads(1)
    record = run_cell(validate(compose_config(overrides, Path(results))))
    Path(out).write_text(json.dumps(record["training"].get("teacher_stream")))


def test_two_cells_in_parallel_share_one_stream_file(smoke_config, tmp_path):
    # the teacher first, so both children race for the stream, not the teacher
    run_cell(smoke_config(*STREAM, "distill=kd", "distill.T=8", "trainer.teacher_stream=false"))
    ctx = mp.get_context("spawn")
    children = [
        ctx.Process(
            target=_run_in_child,
            args=(
                [*SMOKE, *STREAM, "distill=kd", f"distill.T={t}", "efficiency.enabled=false"],
                str(tmp_path),
                str(tmp_path / f"out{t}.json"),
            ),
        )
        for t in (2, 4)
    ]
    for c in children:
        c.start()
    for c in children:
        c.join(120)
        assert c.exitcode == 0
    streams = [json.loads((tmp_path / f"out{t}.json").read_text()) for t in (2, 4)]
    assert streams[0]["key"] == streams[1]["key"]
    assert sorted(len(s["produced_epochs"]) for s in streams) == [0, 1]  # produced once
    files = list((tmp_path / "teachers" / STREAMS_DIR).rglob("epoch-*.pt"))
    assert len(files) == 1
