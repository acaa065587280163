"""Sweeps that cannot corrupt or mislead (issue 14): one cell trained once, outputs
fenced in, hostile files set aside, interrupts that say what is left, umask honoured."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import kdbench.runner as runner
from kdbench import interrupts
from kdbench.cli import report_main
from kdbench.data import load_data
from kdbench.fileio import sha256_file, write_json_atomic
from kdbench.module import DistillationModule
from kdbench.records import cell_dir, cell_key, find_records
from kdbench.teachers import TeacherStore

from .conftest import REPO, SMOKE
from .test_resume import KDBENCH, cli, records_of

FAST = [*SMOKE, "distill=none", "efficiency.enabled=false"]
RERUN = "rerun the same command to continue"


def outside(root: Path, results: Path) -> list[Path]:
    """Everything under `root` that is not `results` or inside it."""
    return [p for p in root.rglob("*") if results not in (p, *p.parents)]


# -- one cell, one trainer -------------------------------------------------------------


@pytest.mark.slow  # two processes starting torch and Hydra: about a minute on 2 busy cores
def test_two_sweeps_racing_train_each_cell_once(tmp_path):
    counter = tmp_path / "sync" / "trainings.txt"
    counter.parent.mkdir()
    env = {
        **os.environ,
        "KDBENCH_TEST_COUNTER": str(counter),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    code = "import tests._race_hook; from kdbench.cli import main; main()"
    grid = ["-m", *FAST, f"results_dir={tmp_path / 'results'}", "name=race", "seed=0,1,2,3"]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, *grid],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert "Traceback" not in out + err
    trained = [line.split()[1] for line in counter.read_text().splitlines()]
    records = records_of(tmp_path / "results" / "race")
    # Each of the 4 cells trained exactly once, across both processes, and recorded once.
    assert sorted(trained) == sorted(set(trained)) and len(trained) == 4
    assert len(records) == 4 and all(r["status"] == "ok" for r in records)
    assert len({r["key"] for r in records}) == 4
    assert sorted({r["config"]["seed"] for r in records}) == [0, 1, 2, 3]
    # Both worked: the lock was met (a cell left to the other process), and the
    # two tallies add up to the 4 cells trained.
    tallies = [out.strip().splitlines()[-1] for out, _ in outs]
    ok = sum(int(t.split()[0]) for t in tallies)
    assert ok == 4, tallies
    assert any("skipped (another process is training it)" in out for out, _ in outs)
    assert len({line.split()[0] for line in counter.read_text().splitlines()}) == 2


def test_a_locked_cell_is_left_to_its_owner(smoke_config):
    cfg = smoke_config("name=locked", "distill=none", "efficiency.enabled=false")
    directory = cell_dir(cfg, cell_key(cfg))
    with runner.cell_lock(directory):  # as another live process holds it
        record = runner.run_cell(cfg)
    assert record["status"] == runner.BUSY
    assert not directory.exists()  # nothing written, no checkpoint touched
    assert runner.run_cell(cfg)["status"] == "ok"  # free again: trained


# -- corrupt and foreign records ------------------------------------------------------

CORRUPT = {0: b"\xff\xfe not utf-8", 1: b'{"status": "ok", "key"', 2: b"[]"}


def test_corrupt_records_are_set_aside_and_rerun(tmp_path, monkeypatch, capsys, smoke_config):
    folders = {}
    for seed, blob in CORRUPT.items():
        cfg = smoke_config("name=bad", f"seed={seed}", "distill=none", "efficiency.enabled=false")
        folders[seed] = cell_dir(cfg, cell_key(cfg))
        folders[seed].mkdir(parents=True)
        (folders[seed] / "record.json").write_bytes(blob)
    grid = ["-m", *FAST, f"results_dir={tmp_path}", "name=bad", "seed=0,1,2"]
    with pytest.warns(UserWarning) as caught:
        code, out, err = cli(grid, monkeypatch, capsys)
    assert code == 0, err
    assert out.strip().splitlines()[-1] == "3 ok, 0 failed, 0 skipped"  # each cell counted once
    messages = [str(w.message) for w in caught if "record" in str(w.message)]
    for seed, problem in [(0, "is not UTF-8 text"), (1, "is not valid JSON"), (2, "JSON list")]:
        path = folders[seed] / "record.json"
        assert any(str(path) in m and problem in m for m in messages), messages
        assert (folders[seed] / "record.json.corrupt").read_bytes() == CORRUPT[seed]
    records = records_of(tmp_path / "bad")
    assert sorted(r["config"]["seed"] for r in records) == [0, 1, 2]
    assert all(r["status"] == "ok" for r in records)


# -- interrupts -----------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_mid_training_is_not_a_result(signum, tmp_path, monkeypatch, capsys):
    """The signal arrives inside trainer.fit, where Lightning catches the KeyboardInterrupt
    (2.6: and calls sys.exit(1)); the cell must not be recorded, the sweep must say so."""
    original = DistillationModule.training_step
    # what SIGINT did before the sweep (SIG_IGN itself when pytest runs as a background job)
    before = signal.getsignal(signal.SIGINT)

    def interrupted_step(self, batch, batch_idx):
        if self.current_epoch == 0 and batch_idx == 1 and torch.initial_seed() % 2 == 1:
            os.kill(os.getpid(), signum)  # through the real handler, in the main thread
        return original(self, batch, batch_idx)

    monkeypatch.setattr(DistillationModule, "training_step", interrupted_step)
    grid = ["-m", *FAST, f"results_dir={tmp_path}", "name=int", "seed=0,1,2"]
    code, out, err = cli(grid, monkeypatch, capsys)
    assert code == 128 + signum
    assert err.splitlines() == [f"interrupted: 1 ok, 0 failed, 2 not run — {RERUN}"]
    (record,) = records_of(tmp_path / "int")  # seed 0 only; seed 1 was cut, 2 never began
    assert record["config"]["seed"] == 0 and record["status"] == "ok"
    assert signal.getsignal(signal.SIGINT) == before  # Lightning's SIG_IGN undone
    assert interrupts.received() is None

    monkeypatch.setattr(DistillationModule, "training_step", original)
    code, out, err = cli(grid, monkeypatch, capsys)
    assert code == 0 and out.strip().splitlines()[-1] == "2 ok, 0 failed, 1 skipped"
    assert sorted(r["status"] for r in records_of(tmp_path / "int")) == ["ok"] * 3


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_real_sweep_interrupted_continues_from_its_checkpoint(signum, tmp_path):
    grid = ["-m", *FAST, "name=sig", "seed=0,1,2"]
    grid += ["trainer.max_epochs_cap=3", "train.epochs=3", "trainer.limit_train_batches=20"]
    cells = tmp_path / "results/sig/cells"
    proc = subprocess.Popen(
        KDBENCH + grid, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 240
        # The second cell has written its first epoch checkpoint: interrupt it there.
        while time.monotonic() < deadline and not (
            find_records(cells) and list(cells.glob("*/checkpoints/last.ckpt"))
        ):
            time.sleep(0.02)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signum, err
    assert err.splitlines() == [f"interrupted: 1 ok, 0 failed, 2 not run — {RERUN}"]
    assert len(find_records(cells)) == 1
    (cut,) = [p.parent.parent for p in cells.glob("*/checkpoints/last.ckpt")]

    rerun = subprocess.run(
        KDBENCH + grid, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.strip().splitlines()[-1] == "2 ok, 0 failed, 1 skipped"
    records = records_of(cells)
    assert len(records) == 3 and all(r["status"] == "ok" for r in records)
    resumed = json.loads((cut / "record.json").read_text())["training"]["resumed_from_epoch"]
    assert resumed is not None  # continued from the last epoch checkpoint, not from scratch


# -- output paths ---------------------------------------------------------------------


def test_a_results_dir_under_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "plain").write_text("not a folder")
    args = [*FAST, f"results_dir={tmp_path / 'plain' / 'results'}"]
    code, out, err = cli(args, monkeypatch, capsys)
    assert code == 2
    assert err.splitlines() == [
        f"kdbench: error: results_dir={tmp_path / 'plain' / 'results'} cannot be created: "
        f"{tmp_path / 'plain'} is a file, not a folder; choose another results_dir"
    ]
    assert sorted(tmp_path.iterdir()) == [tmp_path / "plain"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_results_dir_is_one_line(tmp_path):
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    try:
        proc = subprocess.run(
            KDBENCH + [*FAST, f"results_dir={readonly / 'results'}"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.splitlines() == [
            f"kdbench: error: results_dir={readonly / 'results'} is not writable "
            f"({readonly}: permission denied); choose a folder you can write"
        ]
        assert list(readonly.iterdir()) == []
        with pytest.raises(SystemExit) as exc:
            report_main([str(tmp_path), "--out", str(readonly / "report")])
        assert exc.value.code == 2
    finally:
        readonly.chmod(0o755)


def test_report_out_under_a_file_is_one_line(tmp_path, capsys):
    (tmp_path / "plain").write_text("x")
    with pytest.raises(SystemExit) as exc:
        report_main([str(tmp_path), "--out", str(tmp_path / "plain" / "report")])
    assert exc.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        f"kdbench-report: error: --out={tmp_path / 'plain' / 'report'} cannot be created: "
        f"{tmp_path / 'plain'} is a file, not a folder; choose another --out"
    ]


def test_a_quoted_non_ascii_name_works_inside_results_dir(tmp_path, monkeypatch, capsys):
    code, out, err = cli([*FAST, f"results_dir={tmp_path}", "name='ünïcode'"], monkeypatch, capsys)
    assert code == 0, err
    (record,) = records_of(tmp_path / "ünïcode")
    assert record["status"] == "ok" and record["experiment"] == "ünïcode"
    assert outside(tmp_path, tmp_path / "ünïcode") == []


# -- unsafe teacher files -------------------------------------------------------------


class _Payload:
    """Unpickled only by an unsafe load: it would create the canary folder."""

    def __init__(self, canary: Path) -> None:
        self.canary = str(canary)

    def __reduce__(self):
        return (os.makedirs, (self.canary,))


def test_a_teacher_that_needs_an_unsafe_load_is_set_aside_and_retrained(
    smoke_config, tmp_path, monkeypatch
):
    cfg = smoke_config()
    data = load_data(cfg.data)
    store = TeacherStore(cfg.teacher_store)
    _, meta = store.get(cfg, data)
    folder = store.path(meta["key"])
    canary = tmp_path / "canary"
    torch.save({"weight": _Payload(canary)}, folder / "weights.pt")  # a pickle with code
    stored = json.loads((folder / "meta.json").read_text())
    stored["sha256"] = sha256_file(folder / "weights.pt")  # the checksum matches
    write_json_atomic(folder / "meta.json", stored)
    hostile = (folder / "weights.pt").read_bytes()

    loads = []
    real_load = torch.load
    monkeypatch.setattr(
        torch, "load", lambda *a, **k: loads.append(k.get("weights_only")) or real_load(*a, **k)
    )
    with pytest.warns(UserWarning, match=f"{folder / 'weights.pt'} do not load as a plain"):
        _, again = store.get(cfg, data)
    assert again["cached"] is False  # retrained
    assert loads and all(w is True for w in loads)  # never loaded any other way
    assert not canary.exists()
    assert (folder / "weights.pt.unsafe").read_bytes() == hostile
    assert json.loads((folder / "meta.json").read_text())["sha256"] == again["sha256"]


# -- permissions ----------------------------------------------------------------------


def test_every_file_written_honours_the_umask(tmp_path, monkeypatch, capsys):
    """umask 022 -> 0644: records, teachers, locks, status, traceback, report and figures."""
    real_fit = runner.fit_and_test

    def fail_seed_1(module, dm, *args, **kwargs):
        if dm.seed == 1:
            raise RuntimeError("injected")
        return real_fit(module, dm, *args, **kwargs)

    monkeypatch.setattr(runner, "fit_and_test", fail_seed_1)
    old = os.umask(0o022)
    try:
        grid = ["-m", *SMOKE, "efficiency.enabled=false", f"results_dir={tmp_path}", "seed=0,1"]
        code, out, _ = cli([*grid, "name=perm"], monkeypatch, capsys)
        assert code == 1  # seed 1 failed, on purpose: it leaves a traceback.txt
        report_main([str(tmp_path / "perm")])
    finally:
        os.umask(old)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"record.json", "traceback.txt", "weights.pt", "meta.json"} <= names
    assert any(p.suffix == ".lock" for p in files) and "summary.md" in names
    modes = {str(p.relative_to(tmp_path)): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    assert set(modes.values()) == {"0o644"}, modes


def test_atomic_writes_follow_a_stricter_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_json_atomic(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "r.json").stat().st_mode) == 0o640
