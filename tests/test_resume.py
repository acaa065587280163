"""Sweeps that survive: a killed sweep resumes, a killed cell continues from
last.ckpt, a failing cell is isolated and counted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hydra.core.global_hydra import GlobalHydra

import kdbench.runner as runner
from kdbench.module import DistillationModule
from kdbench.records import cell_dir, find_records
from kdbench.runner import run_cell

from .conftest import SMOKE

KDBENCH = [sys.executable, "-c", "from kdbench.cli import main; main()"]


def records_of(root: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in find_records(root)]


def test_a_sweep_killed_after_its_first_record_resumes_without_redoing_it(tmp_path):
    # Cells long enough (2 epochs x 20 batches) that the kill lands mid-sweep.
    grid = ["-m", *SMOKE, "name=kill", "distill=none", "seed=0,1,2"]
    grid += ["trainer.max_epochs_cap=2", "train.epochs=2", "trainer.limit_train_batches=20"]
    cells = tmp_path / "results/kill/cells"
    proc = subprocess.Popen(
        KDBENCH + grid, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 240
        while not find_records(cells) and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    first = find_records(cells)
    assert len(first) == 1, "the kill must land after the first record, before the last"
    before = json.loads(first[0].read_text())
    assert before["status"] == "ok"
    mtime = first[0].stat().st_mtime_ns

    rerun = subprocess.run(
        KDBENCH + grid, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert rerun.returncode == 0, rerun.stderr
    assert "2 ok, 0 failed, 1 skipped" in rerun.stdout
    records = records_of(cells)
    assert sorted(r["config"]["seed"] for r in records) == [0, 1, 2]  # none duplicated
    assert len({r["key"] for r in records}) == 3 and len(list(cells.iterdir())) == 3
    assert all(r["status"] == "ok" for r in records)
    # The finished cell was not retrained: its record is the very same file.
    assert first[0].stat().st_mtime_ns == mtime
    assert json.loads(first[0].read_text())["started"] == before["started"]


class _Interrupt(RuntimeError):
    pass


def test_a_cell_killed_mid_training_continues_from_last_ckpt(smoke_config, monkeypatch):
    cfg = smoke_config("name=ckpt", "distill=none", "trainer.max_epochs_cap=2", "train.epochs=2")
    original_start = DistillationModule.on_train_epoch_start

    def die_in_second_epoch(self):
        if self.current_epoch == 1:
            raise _Interrupt("killed in epoch 2")
        original_start(self)

    monkeypatch.setattr(DistillationModule, "on_train_epoch_start", die_in_second_epoch)
    failed = run_cell(cfg)
    assert failed["status"] == "failed"
    folder = cell_dir(cfg, failed["key"])
    assert (folder / "checkpoints" / "last.ckpt").is_file()
    monkeypatch.setattr(DistillationModule, "on_train_epoch_start", original_start)

    steps = []
    original_step = DistillationModule.training_step

    def counting_step(self, batch, batch_idx):
        steps.append(self.current_epoch)
        return original_step(self, batch, batch_idx)

    monkeypatch.setattr(DistillationModule, "training_step", counting_step)
    record = run_cell(cfg)
    assert record["status"] == "ok"
    assert record["training"]["resumed_from_epoch"] == 0
    assert record["training"]["epochs"] == 2
    assert steps == [1] * cfg.trainer.limit_train_batches  # only the second epoch ran
    assert not (folder / "checkpoints").exists()  # removed once the cell is recorded
    assert not (folder / "traceback.txt").exists()


def test_a_truncated_last_ckpt_is_discarded_with_a_warning(smoke_config):
    cfg = smoke_config("name=trunc", "distill=none")
    folder = cell_dir(cfg, runner.cell_key(cfg))
    (folder / "checkpoints").mkdir(parents=True)
    (folder / "checkpoints" / "last.ckpt").write_bytes(b"PK\x03\x04 cut short")
    (folder / ".record.json.abc.tmp").write_text('{"status": "ok"')  # a kill mid-write
    with pytest.warns(UserWarning, match="last.ckpt is unreadable"):
        record = run_cell(cfg)
    assert record["status"] == "ok" and record["training"]["resumed_from_epoch"] is None
    kept = {"record.json", "metrics.csv", "student.pt", "inputs.pt"}
    kept |= {"student.onnx", "student.int8.onnx"}
    assert sorted(p.name for p in folder.iterdir()) == sorted(kept)  # no ckpt, no temp file


def cli(args: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """`kdbench ARGS` in this process (so monkeypatched faults reach the cells)."""
    from kdbench.cli import main

    GlobalHydra.instance().clear()
    monkeypatch.setattr(sys, "argv", ["kdbench", *args])
    monkeypatch.chdir(os.getcwd())
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        GlobalHydra.instance().clear()
    out, err = capsys.readouterr()
    return code, out, err


def test_one_failing_cell_is_recorded_and_the_others_finish(tmp_path, monkeypatch, capsys):
    real_fit = runner.fit_and_test

    def fit_failing_for_seed_1(module, dm, *args, **kwargs):
        if dm.seed == 1:
            raise RuntimeError("injected failure in seed 1")
        return real_fit(module, dm, *args, **kwargs)

    monkeypatch.setattr(runner, "fit_and_test", fit_failing_for_seed_1)
    grid = ["-m", *SMOKE, f"results_dir={tmp_path}", "name=iso", "distill=none", "seed=0,1,2"]
    code, out, _ = cli(grid, monkeypatch, capsys)
    assert code == 1
    assert out.strip().splitlines()[-1] == "2 ok, 1 failed, 0 skipped"
    records = {r["config"]["seed"]: r for r in records_of(tmp_path / "iso")}
    assert {s: r["status"] for s, r in records.items()} == {0: "ok", 1: "failed", 2: "ok"}
    assert records[1]["error"] == {"type": "RuntimeError", "message": "injected failure in seed 1"}
    trace = cell_dir_of(tmp_path / "iso", 1) / "traceback.txt"
    assert "injected failure in seed 1" in trace.read_text()
    assert not (tmp_path / "iso/.hydra/status").exists()  # the tally cleaned up after itself

    monkeypatch.setattr(runner, "fit_and_test", real_fit)
    code, out, _ = cli(grid, monkeypatch, capsys)  # the rerun retries only the failed cell
    assert code == 0 and out.strip().splitlines()[-1] == "1 ok, 0 failed, 2 skipped"
    assert all(r["status"] == "ok" for r in records_of(tmp_path / "iso"))


def cell_dir_of(root: Path, seed: int) -> Path:
    (path,) = [p for p in find_records(root) if f"-s{seed}-" in p.parent.name]
    return path.parent
