"""A tiny grid through the real console scripts: records, resume, report, figure."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kdbench.records import find_records
from kdbench.runner import run_cell

from .conftest import SMOKE


def kdbench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    code = "from kdbench.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_tiny_grid_writes_records_and_the_report(tmp_path):
    grid = ["-m", *SMOKE, "name=tiny", "student=cnn_small,mlp_small", "distill=none,kd"]
    grid += ["distill.T=2,4", "seed=0,1"]
    run = kdbench(*grid, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    records = [json.loads(p.read_text()) for p in find_records(tmp_path / "results/tiny")]
    # 2 students x (none once + kd at 2 temperatures) x 2 seeds; none ignores T
    assert len(records) == 12
    assert all(r["status"] == "ok" for r in records)
    # the student alone at T=4 is the cell run at T=2: said once, not printed as skipped
    assert "12 ok, 0 failed, 0 skipped; 4 grid point(s) repeated a cell" in run.stdout
    assert "skipped (already recorded)" not in run.stdout
    kd = next(r for r in records if r["config"]["method"] == "kd")
    assert {
        "top1",
        "top5",
        "precision_macro",
        "recall_macro",
        "f1_macro",
        "ece",
        "agreement",
    } <= set(kd["metrics"])
    assert kd["efficiency"]["params"] > 0 and kd["efficiency"]["flops"] > 0
    assert kd["teacher_metrics"]["top1"] >= 0 and kd["versions"]["torch"]

    report = subprocess.run(
        [
            sys.executable,
            "-c",
            "from kdbench.cli import report_main; report_main()",
            "results/tiny",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert report.returncode == 0, report.stderr
    out = tmp_path / "results/tiny"
    summary = (out / "summary.md").read_text()
    assert summary.count("| kd ") == 4 and summary.count("| none ") == 2
    assert (out / "summary.csv").is_file()
    for ext in ("pdf", "png"):
        assert (out / "figures" / f"top1_vs_temperature.{ext}").stat().st_size > 1000

    again = kdbench(*grid, cwd=tmp_path)
    assert again.returncode == 0 and "0 ok, 0 failed, 16 skipped" in again.stdout


def test_a_bad_value_is_one_line_without_traceback(tmp_path):
    run = kdbench(*SMOKE, "distill.T=-1", cwd=tmp_path)
    assert run.returncode == 2
    assert (
        run.stderr.strip()
        == "kdbench: error: distill.T=-1.0 is invalid: the temperature must be > 0"
    )


def test_a_failing_cell_is_recorded_and_the_sweep_goes_on(tmp_path, smoke_config, monkeypatch):
    import kdbench.runner as runner

    cfg = smoke_config("name=fail")

    def boom(*args, **kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(runner, "fit_and_test", boom)
    record = run_cell(cfg)
    assert record["status"] == "failed"
    assert record["error"] == {"type": "RuntimeError", "message": "injected failure"}
    (path,) = find_records(Path(cfg.results_dir) / "fail")
    assert (path.parent / "traceback.txt").read_text().count("injected failure") >= 1
    monkeypatch.undo()
    assert run_cell(cfg)["status"] == "ok"  # a rerun retries the failed cell


@pytest.mark.parametrize("select", ["best_val", "last"])
def test_checkpoint_selection_never_uses_test(smoke_config, select):
    record = run_cell(smoke_config(f"trainer.select={select}", f"name=sel_{select}"))
    assert record["training"]["selected"] == ("best" if select == "best_val" else "last")
