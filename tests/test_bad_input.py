"""Bad input: one line on stderr naming the problem and the fix, a non-zero exit, no traceback.

Run in this process (the same `main()` the console script calls) so each case
costs milliseconds, and so faults injected into a cell reach it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import kdbench.runner as runner
from kdbench.cli import CONF_DIR
from kdbench.data import DATASETS
from kdbench.data.audiofolder import LAYOUT as AUDIO_LAYOUT
from kdbench.distill import METHODS
from kdbench.errors import KdbenchError
from kdbench.models import MODELS as REGISTERED_MODELS
from kdbench.records import find_records

from .conftest import SMOKE
from .test_resume import cli, records_of


def options(group: str) -> str:
    """The options of a config group, as the message lists them (other helpers add some)."""
    return ", ".join(sorted(p.stem for p in (Path(CONF_DIR) / group).glob("*.yaml")))


NAME_RULE = (
    "the experiment name must be a non-empty folder name without '/', '\\' or '..' "
    "(records go to <results_dir>/<name>/)"
)
STUDENTS = options("student")
assert "resnet20" in STUDENTS and "kd" in options("distill")  # the lists are really read
MODELS = ", ".join(REGISTERED_MODELS)

CIFAR_MISSING = (
    "data.root=/missing does not hold data_batch_1, data_batch_2, data_batch_3, data_batch_4, "
    "data_batch_5, test_batch; download the python version of CIFAR-10, unpack it and set "
    "data.root=<folder containing cifar-10-batches-py>"
)
FOLDER_MISSING = (
    "data.root=/missing does not exist; point data.root at a folder with train/<class>/* and "
    "test/<class>/*"
)
NO_DEPTH = (
    "student.depth=1 is invalid: model 'cnn' has no size key depth; its size keys are: width "
    "(drop student.depth or pick another model)"
)
CASES = [
    # (overrides, exact stderr line)
    (["student=foo"], f"student=foo is unknown: known student options: {STUDENTS}"),
    (["teacher=foo"], f"teacher=foo is unknown: known teacher options: {options('teacher')}"),
    (["distill=foo"], f"distill=foo is unknown: known distill options: {options('distill')}"),
    (["data=foo"], f"data=foo is unknown: known data options: {options('data')}"),
    (
        ["experiment=foo"],
        f"experiment=foo is unknown: known experiment options: {options('experiment')}",
    ),
    (["-m", "student=cnn,foo"], f"student=foo is unknown: known student options: {STUDENTS}"),
    (["student.name=foo"], f"student.name='foo' is invalid: known models: {MODELS}"),
    (["teacher.name=foo"], f"teacher.name='foo' is invalid: known models: {MODELS}"),
    (["distill.name=foo"], f"distill.name='foo' is invalid: known methods: {', '.join(METHODS)}"),
    (["data.name=foo"], f"data.name='foo' is invalid: known data sets: {', '.join(DATASETS)}"),
    (["distill.T=0"], "distill.T=0.0 is invalid: the temperature must be > 0"),
    (["distill.T=-1"], "distill.T=-1.0 is invalid: the temperature must be > 0"),
    (["distill.alpha=1.5"], "distill.alpha=1.5 is invalid: must be in [0, 1]"),
    (["distill.alpha=-0.1"], "distill.alpha=-0.1 is invalid: must be in [0, 1]"),
    (["distill.w1=-1", "distill.w2=1"], "distill.w1=-1.0 is invalid: must be >= 0"),
    (["distill.w1=1"], "distill.w1/w2=(1.0, None) is invalid: give both w1 and w2, or alpha"),
    (["train.epochs=0"], "train.epochs=0 is invalid: must be >= 1"),
    (["train.batch_size=0"], "train.batch_size=0 is invalid: must be >= 1"),
    (["teacher.recipe.epochs=0"], "teacher.recipe.epochs=0 is invalid: must be >= 1"),
    (["student.width=0"], "student.width=0.0 is invalid: must be > 0"),
    # issue 14: Hydra's and OmegaConf's many-line errors, and what Hydra lets through
    (["train.epochz=3"], "train.epochz is not a config key: did you mean train.epochs?"),
    (["+train.epochz=3"], "train.epochz is not a config key: did you mean train.epochs?"),
    (["-m", "+train.epochz=3"], "train.epochz is not a config key: did you mean train.epochs?"),
    (["foo=1"], "foo is not a config key: see `kdbench --cfg job` for every key"),
    (
        ["train.epochs=abc"],
        "train.epochs='abc' is invalid: Value 'abc' of type 'str' could not be converted to "
        "Integer",
    ),
    (
        ["-m", "seed=0,abc"],
        "seed='abc' is invalid: Value 'abc' of type 'str' could not be converted to Integer",
    ),
    (["distill.T=hot"], "distill.T='hot' is invalid for method 'kd': expected float"),
    (
        ["seed=["],
        "seed=[ cannot be parsed: no viable alternative at input '[' "
        "(see https://hydra.cc/docs/advanced/override_grammar/basic/)",
    ),
    (
        ["seed=0,1"],
        "Ambiguous value for argument 'seed=0,1': add -m to sweep over the values, "
        "or quote them for one string",
    ),
    (["seed=-1"], "seed=-1 is invalid: must be an integer in 0 .. 4294967295"),
    (
        ["teacher.seed=4294967296"],
        "teacher.seed=4294967296 is invalid: must be an integer in 0 .. 4294967295",
    ),
    (["-m", "seed=0,-1"], "seed=-1 is invalid: must be an integer in 0 .. 4294967295"),
    (
        ["name=ünïcode"],
        "name=ünïcode cannot be parsed: Hydra reads only ASCII in unquoted values; "
        "quote the value: name='ünïcode'",
    ),
    *[
        ([f"name={n}"], f"name={n!r} is invalid: {NAME_RULE}")
        for n in ("", "../../escaped", "/tmp/abs", "..", "a/b")
    ],
    (["-m", "name=ok,.."], f"name='..' is invalid: {NAME_RULE}"),
    # issue 28: input mistakes of every grid point found before any cell trains
    (["data=cifar10", "data.root=/missing"], CIFAR_MISSING),
    (["-m", "data=cifar10", "data.root=/missing", "seed=0,1"], CIFAR_MISSING),
    (["-m", "seed=0,1", "data=synthetic,cifar10", "data.root=/missing"], CIFAR_MISSING),
    (["-m", "data=imagefolder", "data.root=/missing", "seed=0,1"], FOLDER_MISSING),
    (["-m", "student=cnn", "student.depth=1", "seed=0,1"], NO_DEPTH),
    (["-m", "student=resnet8,cnn", "student.depth=1"], NO_DEPTH),
    # the data sets added after the check registry: each has its own up-front check
    (
        ["-m", "data=arrays", "data.path=/missing.npz", "student=gru", "seed=0,1"],
        "data.path=/missing.npz is not a file; save it with np.savez(FILE, x=<float [N, T, C]>, "
        "y=<int [N]>)",
    ),
    (
        ["-m", "data=textfile", "data.path=/missing.csv", "student=textcnn", "seed=0,1"],
        "text file /missing.csv not found; set data.path (and data.test_path)",
    ),
    (
        ["-m", "data=audiofolder", "data.root=/missing", "student=gru", "seed=0,1"],
        "data.root=/missing is not a folder; " + AUDIO_LAYOUT,
    ),
    *[
        (
            ["-m", f"data={name}", "data.root=/missing.tar.xz", f"student={student}", "seed=0,1"],
            f"{shown} archive /missing.tar.xz not found; set data.root=<path to {name}.tar.xz> "
            f"or KDBENCH_{name.upper()}",
        )
        for name, shown, student in (
            ("fsdd", "FSDD", "gru"),
            ("sst2", "SST-2", "textcnn"),
            ("mnist", "MNIST", "mlp_800"),
        )
    ],
    (["data.train_subset=-5"], "data.train_subset=-5 is invalid: must be >= 1 (or null for all)"),
    (
        ["-m", "data.test_subset=10,0"],
        "data.test_subset=0 is invalid: must be >= 1 (or null for all)",
    ),
]


@pytest.mark.parametrize(("overrides", "message"), CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_is_one_line_and_exit_2(overrides, message, tmp_path, monkeypatch, capsys):
    results = tmp_path / "a" / "b" / "results"  # room for `..` to escape, and be seen
    if overrides[0] == "-m":
        overrides = [*overrides[1:], "distill=none", "efficiency.enabled=false"]
        args = ["-m", *SMOKE, f"results_dir={results}", *overrides]
    else:
        args = [*SMOKE, f"results_dir={results}", *overrides]
    code, out, err = cli(args, monkeypatch, capsys)
    assert code == 2
    assert err.splitlines() == [f"kdbench: error: {message}"]
    assert "Traceback" not in out
    outside = [p for p in tmp_path.rglob("*") if results not in (p, *p.parents)]
    assert set(outside) <= {tmp_path / "a", tmp_path / "a" / "b"}, outside  # nothing escaped
    assert not find_records(tmp_path)  # nothing ran: in a sweep, every point is checked first


def test_a_slurm_launcher_without_srun_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("kdbench.sweep.shutil.which", lambda name: None)
    args = ["-m", *SMOKE, f"results_dir={tmp_path}", "hydra/launcher=slurm"]
    code, _, err = cli(args, monkeypatch, capsys)
    assert code == 2
    assert err.splitlines() == [
        "kdbench: error: hydra/launcher=slurm needs SLURM's `srun`, not found on this machine: "
        "run on the cluster's login node, or use hydra/launcher=submitit_local to run the same "
        "path locally"
    ]
    assert not find_records(tmp_path)


def _inject(monkeypatch, exc: BaseException) -> None:
    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(runner, "load_data", fail)


MISSING = "data.root=/no/such/folder does not exist: give the folder holding the images"


def test_a_user_error_inside_a_cell_is_one_line(tmp_path, monkeypatch, capsys):
    # The data loaders raise KdbenchError for a missing, empty or unreadable path.
    _inject(monkeypatch, KdbenchError(MISSING))
    code, _, err = cli([*SMOKE, f"results_dir={tmp_path}", "name=bad"], monkeypatch, capsys)
    assert code == 2 and err.splitlines() == [f"kdbench: error: {MISSING}"]
    (record,) = records_of(tmp_path / "bad")
    assert record["status"] == "failed"
    assert record["error"] == {"type": "KdbenchError", "message": MISSING, "user_error": True}


def test_a_user_error_inside_a_sweep_is_a_failed_record(tmp_path, monkeypatch, capsys):
    _inject(monkeypatch, KdbenchError(MISSING))
    grid = ["-m", *SMOKE, f"results_dir={tmp_path}", "name=bad", "seed=0,1"]
    code, out, err = cli(grid, monkeypatch, capsys)
    assert code == 1 and out.splitlines()[-1] == "0 ok, 2 failed, 0 skipped"
    assert "Traceback" not in out + err
    records = records_of(tmp_path / "bad")
    assert [r["error"]["message"] for r in records] == [MISSING, MISSING]


def test_an_incompatible_pair_is_one_line(tmp_path, monkeypatch, capsys):
    """FitNet needs spatial maps; an MLP student has none."""
    args = [*SMOKE, f"results_dir={tmp_path}", "distill=fitnet", "student=mlp_small"]
    code, _, err = cli(args, monkeypatch, capsys)
    assert code == 2
    assert err.splitlines() == [
        "kdbench: error: fitnet cannot pair student MLP with teacher SmallCNN: it needs "
        "spatial feature maps, got shape (32,); pick another method or model"
    ]


OOM = "CUDA out of memory. Tried to allocate 2.00 GiB"
OOM_LINE = f"out of memory: {OOM} (lower train.batch_size or the model size)"


def test_out_of_memory_in_a_cell_is_recorded_as_failed(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        runner, "fit_and_test", lambda *a, **k: (_ for _ in ()).throw(torch.OutOfMemoryError(OOM))
    )
    code, _, err = cli([*SMOKE, f"results_dir={tmp_path}", "name=oom"], monkeypatch, capsys)
    (record,) = records_of(tmp_path / "oom")
    assert code == 1
    (line,) = err.splitlines()
    assert line.startswith(
        f"kdbench: error: cell failed: OutOfMemoryError: {OOM_LINE} (traceback: "
    )
    assert record["status"] == "failed"
    assert record["error"] == {"type": "OutOfMemoryError", "message": OOM_LINE}

    grid = ["-m", *SMOKE, f"results_dir={tmp_path}", "name=oom", "seed=0,1"]
    code, out, _ = cli(grid, monkeypatch, capsys)
    assert code == 1 and out.splitlines()[-1] == "0 ok, 2 failed, 0 skipped"
