"""Issue 26: what the Hinton et al. (2015) MNIST table needs.

The MNIST loader (IDX parsing, the archive check), training without a
validation split, the MLP's options (all 784 pixels, hidden units, dropout,
max-norm), the teacher's own augmentation, the transfer set without a class,
the evaluation-time class bias and the test error counts.
"""

from __future__ import annotations

import gzip
import io
import json
import struct
import tarfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from kdbench.config import DataConfig, ModelConfig
from kdbench.data import load_data
from kdbench.data.base import TensorData, drop_classes
from kdbench.data.mnist import DEFAULT_ARCHIVE, MEMBERS, load_arrays, parse_idx
from kdbench.errors import KdbenchError
from kdbench.fileio import sha256_file
from kdbench.inputs import InputSpec
from kdbench.models import build_model, create_model
from kdbench.module import biased_logits
from kdbench.records import canonical_config, cell_key
from kdbench.runner import run_cell
from kdbench.teachers import teacher_identity

from .conftest import SMOKE, compose_config
from .test_resume import cli

MNIST = InputSpec("image", (1, 28, 28))


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file written from its definition (LeCun's page): 0, 0, type 0x08, ndim, each
    dimension as a big-endian int32, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">i", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def tiny_archive(path: Path, n_train: int = 20, n_test: int = 10) -> dict[str, np.ndarray]:
    """An mnist.tar.xz of the shared layout with small random IDX files."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28)),
        "y_train": np.arange(n_train) % 10,
        "x_test": rng.integers(0, 256, (n_test, 28, 28)),
        "y_test": (np.arange(n_test) * 3) % 10,
    }
    with tarfile.open(path, "w:xz") as tar:
        for key, member in MEMBERS.items():
            blob = gzip.compress(idx_bytes(arrays[key]))
            info = tarfile.TarInfo(member)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return arrays


def test_idx_parser_reads_images_and_labels_and_refuses_bad_files():
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4) % 256
    np.testing.assert_array_equal(parse_idx(idx_bytes(images)), images)
    labels = np.array([7, 2, 1, 0, 4])
    np.testing.assert_array_equal(parse_idx(idx_bytes(labels)), labels)
    with pytest.raises(KdbenchError, match="bad magic number"):
        parse_idx(b"\x01\x00\x08\x01" + struct.pack(">i", 1) + b"\x00")
    with pytest.raises(KdbenchError, match="unsigned bytes"):
        parse_idx(b"\x00\x00\x0d\x01" + struct.pack(">i", 1) + b"\x00\x00\x00\x00")
    with pytest.raises(KdbenchError, match="header promises 5"):
        parse_idx(idx_bytes(labels)[:-1])


def test_archive_is_decoded_once_cached_and_checked(tmp_path):
    archive = tmp_path / "mnist.tar.xz"
    arrays = tiny_archive(archive)
    digest = sha256_file(archive)
    got = load_arrays(archive, digest, cache=tmp_path / "cache")
    assert got["x_train"].shape == (20, 1, 28, 28) and got["x_train"].dtype == np.uint8
    np.testing.assert_array_equal(got["x_train"][:, 0], arrays["x_train"])
    np.testing.assert_array_equal(got["y_test"], arrays["y_test"])
    assert got["y_train"].dtype == np.int64
    assert list((tmp_path / "cache").glob("mnist-*.npz"))  # cached ...
    again = load_arrays(archive, digest, cache=tmp_path / "cache")  # ... and read back
    np.testing.assert_array_equal(again["x_test"], got["x_test"])
    with pytest.raises(KdbenchError, match=f"expected {'0' * 16}"):
        load_arrays(archive, "0" * 64, cache=tmp_path / "cache")
    with pytest.raises(KdbenchError, match="not found; set data.root"):
        load_arrays(tmp_path / "nope.tar.xz", digest)


def test_a_missing_archive_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "no" / "mnist.tar.xz"
    args = [*SMOKE, f"results_dir={tmp_path}", "data=mnist", f"data.root={missing}"]
    code, out, err = cli(args, monkeypatch, capsys)
    assert code == 2
    assert err.splitlines() == [
        f"kdbench: error: MNIST archive {missing} not found; "
        "set data.root=<path to mnist.tar.xz> or KDBENCH_MNIST"
    ]
    assert "Traceback" not in out


def test_no_validation_split_needs_the_last_epoch(tmp_path, monkeypatch, capsys):
    args = [*SMOKE, f"results_dir={tmp_path}", "data.val_fraction=0"]
    code, _, err = cli(args, monkeypatch, capsys)
    assert code == 2
    assert err.splitlines() == [
        "kdbench: error: data.val_fraction=0 leaves no validation split to select a checkpoint "
        "with: set trainer.select=last, or a data.val_fraction in (0, 1)"
    ]


def test_digits_without_validation_split_train_on_it_all_and_test_the_last_epoch(smoke_config):
    cfg = smoke_config("data=digits", "data.val_fraction=0", "trainer.select=last")
    cfg = replace(cfg, efficiency=replace(cfg.efficiency, enabled=False))
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    sizes = record["data_info"]["sizes"]
    assert sizes["val"] == 0 and sizes["train"] + sizes["test"] == 1797
    assert record["training"]["selected"] == "last"
    assert record["training"]["best_val_top1"] is None


def test_default_mlp_is_unchanged_and_hinton_options_build_the_papers_nets():
    spec8 = InputSpec("image", (1, 8, 8))
    torch.manual_seed(0)
    default = create_model("mlp", 10, spec=spec8)
    shapes = {k: tuple(v.shape) for k, v in default.state_dict().items()}
    # 8x8 pooled inputs, 2 x 256 hidden units: the MLP every earlier result used
    assert shapes == {
        "stages.0.0.weight": (256, 64),
        "stages.0.0.bias": (256,),
        "stages.1.0.weight": (256, 256),
        "stages.1.0.bias": (256,),
        "classifier.weight": (10, 256),
        "classifier.bias": (10,),
    }
    assert not any(isinstance(m, torch.nn.Dropout) for m in default.modules())
    teacher = build_model(
        ModelConfig(
            name="mlp", depth=2, hidden=1200, input_side=28, input_dropout=0.2, dropout=0.5
        ),
        MNIST,
        10,
    )
    assert teacher.stages[0][0].in_features == 784 and teacher.stages[0][0].out_features == 1200
    assert teacher.stages[1][0].out_features == 1200
    drops = sorted(m.p for m in teacher.modules() if isinstance(m, torch.nn.Dropout))
    assert drops == [0.2, 0.5, 0.5]
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(teacher.stem.eval()(x), x.flatten(1))  # all 784 pixels, as they are


def test_max_norm_rescales_each_hidden_units_incoming_weights():
    c = 1.5
    model = create_model("mlp", 10, spec=MNIST, hidden=30, input_side=28, max_norm=c)
    with torch.no_grad():
        for stage in model.stages:
            stage[0].weight.mul_(10.0)
            stage[0].weight[0].fill_(0.01)  # one unit well inside the ball: left as it is
    before = [s[0].weight.detach().clone() for s in model.stages]
    model.after_step()
    for w0, stage in zip(before, model.stages):
        w = stage[0].weight.detach()
        norms = w0.pow(2).sum(dim=1).sqrt()  # each row: one hidden unit's incoming weights
        # Srivastava et al. (2014): w <- w * c / ||w|| where ||w|| > c, else unchanged
        expected = torch.where((norms > c)[:, None], w0 * (c / norms)[:, None], w0)
        torch.testing.assert_close(w, expected)
        assert float(w.pow(2).sum(dim=1).sqrt().max()) <= c + 1e-5
        assert torch.equal(w[0], w0[0])


def test_max_norm_holds_after_every_step_of_a_trained_student(smoke_config):
    cfg = smoke_config("student=mlp_small", "+student.max_norm=0.3", "distill=none")
    cfg = replace(cfg, efficiency=replace(cfg.efficiency, enabled=False))
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    cell = next(Path(cfg.results_dir).rglob("student.pt"))
    state = torch.load(cell, weights_only=True)
    unconstrained = create_model("mlp", 10, spec=InputSpec("image", (1, 8, 8)), width=0.25)
    first = unconstrained.stages[0][0].weight.pow(2).sum(dim=1).sqrt()
    assert float(first.max()) > 0.3  # the constraint had something to do
    for name, w in state.items():
        if name.startswith("stages.") and name.endswith("weight"):
            assert float(w.pow(2).sum(dim=1).sqrt().max()) <= 0.3 + 1e-5, name


def test_drop_classes_leaves_train_and_val_without_them_and_test_whole():
    y = torch.arange(40) % 10
    x = torch.arange(40, dtype=torch.uint8)[:, None, None, None].expand(40, 1, 2, 2).clone()
    data = TensorData((x, y), (x[:20], y[:20]), (x[:10], y[:10]), 10, "toy")
    out = drop_classes(data, [3, 7])
    for split in (out.train, out.val):
        assert not bool(((split[1] == 3) | (split[1] == 7)).any())
        assert torch.equal(split[0][:, 0, 0, 0].long() % 10, split[1])  # pairs stay together
    assert len(out.train[1]) == 32 and len(out.val[1]) == 16
    assert torch.equal(out.test[1], data.test[1]) and bool((out.test[1] == 3).any())
    assert drop_classes(data, []) is data


def test_class_bias_shifts_that_class_only():
    logits = torch.randn(5, 10)
    bias = torch.zeros(10)
    bias[3] = 3.5
    out = biased_logits(logits, bias)
    assert torch.equal(out[:, 3], logits[:, 3] + 3.5)
    others = [c for c in range(10) if c != 3]
    assert torch.equal(out[:, others], logits[:, others])


def test_new_keys_unset_leave_cell_and_teacher_identities_as_they_were(smoke_config):
    cfg = smoke_config("distill=kd")
    canonical = canonical_config(cfg)
    assert "eval" not in canonical and "drop_classes" not in canonical["data"]
    assert "augment" not in canonical["teacher"]
    assert "augment" not in teacher_identity(cfg) and "drop_classes" not in str(
        teacher_identity(cfg)
    )
    dropped = replace(cfg, data=replace(cfg.data, drop_classes=[3]))
    assert cell_key(dropped) != cell_key(cfg)
    # The teacher learns from the whole training split: dropping classes keeps its key.
    assert teacher_identity(dropped) == teacher_identity(cfg)
    jittered = replace(cfg, teacher=replace(cfg.teacher, augment=[{"name": "jitter"}]))
    assert teacher_identity(jittered)["augment"] == [{"name": "jitter"}]
    assert cell_key(jittered) != cell_key(cfg)


def test_transfer_set_cell_counts_errors_and_evaluates_the_bias(smoke_config):
    cfg = smoke_config(
        "distill=kd", "+data.drop_classes=[3]", "+eval.class_bias={3: 3.5}", "data.num_samples=400"
    )
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    m, sizes = record["metrics"], record["data_info"]["sizes"]
    n_test = sizes["test"]
    # errors are a count of the test split: (1 - top-1) x n_test
    assert m["errors"] == round((100.0 - m["top1"]) / 100.0 * n_test)
    assert m["biased_errors"] == round((100.0 - m["biased_top1"]) / 100.0 * n_test)
    assert sum(m["errors_by_class"]) == m["errors"]
    assert m["errors_class3"] == m["errors_by_class"][3]
    assert m["biased_errors_class3"] == m["biased_errors_by_class"][3]
    # the teacher trained on every class; the student never saw a 3 in training
    assert record["teacher_metrics"]["errors"] == round(
        (100.0 - record["teacher_metrics"]["top1"]) / 100.0 * n_test
    )
    cfg_full = replace(cfg, data=replace(cfg.data, drop_classes=[]))
    assert sizes["train"] < len(load_data(cfg_full.data).train[1])
    assert json.loads(json.dumps(record["config"]["class_bias"])) == {"3": 3.5}


ROWS = sorted(p.stem for p in (Path(__file__).parent.parent / "conf/hinton_row").glob("*.yaml"))


@pytest.mark.parametrize("row", ROWS)
def test_every_hinton_row_composes(row, tmp_path):
    from kdbench.validate import validate

    cfg = validate(compose_config(["experiment=hinton_mnist", f"+hinton_row={row}"], tmp_path))
    assert cfg.data.name == "mnist" and cfg.data.val_fraction == 0
    assert cfg.trainer.select == "last"
    assert cfg.teacher.hidden == 1200 and cfg.teacher.augment == [{"name": "jitter", "pixels": 2}]
    assert cfg.data.augment == []  # the student's views are never jittered
    assert cfg.student.hidden in (800, 30) and cfg.student.input_side == 28
    if row.startswith("no3"):
        assert cfg.data.drop_classes == [3] and cfg.eval.class_bias == {3: 3.5}


@pytest.mark.skipif(not DEFAULT_ARCHIVE.is_file(), reason="the shared MNIST archive is absent")
def test_the_transfer_row_runs_on_mnist_with_the_smoke_trainer(tmp_path):
    from kdbench.validate import validate

    overrides = ["experiment=hinton_mnist", "+hinton_row=no3_T20", "trainer=smoke"]
    overrides += ["trainer.select=last", "efficiency.enabled=false"]
    cfg = validate(compose_config(overrides, tmp_path))
    cfg = replace(
        cfg, teacher=replace(cfg.teacher, hidden=30), student=replace(cfg.student, hidden=30)
    )
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    assert record["data_info"]["sizes"] == {"train": 60000 - 6131, "val": 0, "test": 10000}
    assert "biased_errors_class3" in record["metrics"]
    meta = json.loads(next((tmp_path / "teachers").rglob("meta.json")).read_text())
    assert meta["identity"]["augment"] == [{"name": "jitter", "pixels": 2}]


def test_mnist_loader_on_the_shared_archive_if_present():
    if not DEFAULT_ARCHIVE.is_file():
        pytest.skip("the shared MNIST archive is absent")
    data = load_data(DataConfig(name="mnist", val_fraction=0))
    assert data.train[0].shape == (60000, 1, 28, 28) and data.train[0].dtype == torch.uint8
    assert data.test[1][:5].tolist() == [7, 2, 1, 0, 4]  # the shared README's first five
    assert data.mean is None  # raw [0, 1] pixels, as the paper's MLPs saw them


def test_the_teacher_trains_on_its_own_augmentation_and_the_student_on_the_datas(
    smoke_config, monkeypatch
):
    import kdbench.runner as runner
    import kdbench.teachers as teachers

    seen: dict[str, list] = {"teacher": [], "student": []}
    for module, role in ((teachers, "teacher"), (runner, "student")):
        real = module.TensorDataModule

        def spy(data, *args, _real=real, _role=role, **kwargs):
            dm = _real(data, *args, **kwargs)
            seen[_role].append(dm.augment)
            return dm

        monkeypatch.setattr(module, "TensorDataModule", spy)
    cfg = smoke_config("distill=kd", "+teacher.augment=[{name: jitter, pixels: 2}]")
    cfg = replace(cfg, efficiency=replace(cfg.efficiency, enabled=False))
    assert run_cell(cfg)["status"] == "ok"
    (teacher_aug,) = seen["teacher"]
    assert seen["student"] == [None]  # the synthetic data's own augment: []
    x = torch.zeros(64, 1, 8, 8, dtype=torch.uint8)
    x[:, :, 2:6, 2:6] = 255
    moved = teacher_aug(x, torch.arange(64))
    assert not torch.equal(moved, x)  # translated: some views differ from the original
    assert int(moved.sum()) <= int(x.sum())  # zero fill: nothing is wrapped in


def _record(folder: Path, seed: int, method: str, errors: int, T=None, **extra) -> None:
    config = {"method": method, "student_hidden": 800, "seed": seed, "T": T, **extra}
    metrics = {"errors": errors, "errors_class3": errors // 2}
    metrics |= {"biased_errors": errors - 1, "biased_errors_class3": 1}
    record = {"status": "ok", "config": config, "metrics": metrics}
    if method != "none":
        record["teacher_metrics"] = {"errors": 67}
    path = folder / f"{method}-{T}-{seed}-{extra}" / "record.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(record))


def test_the_paper_table_pairs_by_seed_and_reports_counts(tmp_path):
    from scipy import stats

    from .conftest import load_bench

    alone, kd = [150, 160, 170], [140, 141, 150]
    for seed in range(3):
        _record(tmp_path, seed, "none", alone[seed])
        _record(tmp_path, seed, "kd", kd[seed], T=20.0)
        _record(tmp_path, seed, "kd", 200 + seed, T=20.0, drop_classes=[3])
    text = load_bench("hinton_table").table(tmp_path)
    d = [k - a for k, a in zip(kd, alone)]  # -10, -19, -20
    mean = sum(d) / 3
    sd = (sum((x - mean) ** 2 for x in d) / 2) ** 0.5
    half = stats.t.ppf(0.975, 2) * sd / 3**0.5
    p = stats.ttest_rel(kd, alone).pvalue  # one row tested: Holm leaves it as it is
    row = next(line for line in text.splitlines() if "KD T=20 |" in line)
    assert f"{mean:+.1f} (± {half:.1f}), p = {p:.3g}" in row
    assert "| 67 | 67 (one teacher)" in text
    assert "201.0 ±" in text  # the transfer set: mean of 200, 201, 202
