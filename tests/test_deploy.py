"""Deployable students: kept artifacts, curves, re-measuring without training, progress."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import kdbench.runner as runner
from kdbench.curves import COLUMNS
from kdbench.data import load_data
from kdbench.efficiency import ort_session, ort_top1
from kdbench.efficiency.export import ort_logits
from kdbench.errors import ConfigError
from kdbench.fileio import write_json_atomic
from kdbench.models import create_model
from kdbench.records import cell_dir, cell_key, read_record
from kdbench.runner import run_cell

FILES = ("student.pt", "inputs.pt", "student.onnx", "student.int8.onnx", "metrics.csv")


@pytest.fixture
def count_trainings(monkeypatch):
    """How many times a cell trained (calls of fit_and_test from the runner)."""
    calls = []
    real = runner.fit_and_test

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "fit_and_test", counting)
    return calls


def _folder(cfg) -> Path:
    return cell_dir(cfg, cell_key(cfg))


def test_artifacts_exist_load_and_reproduce_the_record(smoke_config):
    cfg = smoke_config("name=art", "distill=kd", "trainer.max_epochs_cap=2")
    record = run_cell(cfg)
    assert record["status"] == "ok"
    folder = _folder(cfg)
    kept = record["artifacts"]["files"]
    assert set(kept) == set(FILES)
    assert all(kept[n] == (folder / n).stat().st_size > 0 for n in FILES)

    s = cfg.student
    data = load_data(cfg.data)
    student = create_model(s.name, data.num_classes, data.in_channels, depth=s.depth, width=s.width)
    student.load_state_dict(torch.load(folder / "student.pt", weights_only=True))
    x = data.prepare(data.test[0]).float()
    with torch.no_grad():
        reference = student.eval()(x).numpy()
    onnx = ort_logits(ort_session(folder / "student.onnx"), x.numpy())
    assert np.abs(onnx - reference).max() <= 1e-5

    int8 = ort_top1(ort_session(folder / "student.int8.onnx"), x.numpy(), data.test[1].numpy())
    assert int8 == pytest.approx(record["efficiency"]["int8"]["top1"], abs=1e-9)
    # the kept student is the one tested: its fp32 accuracy is the record's top-1
    fp32 = 100.0 * float((reference.argmax(1) == data.test[1].numpy()).mean())
    assert fp32 == pytest.approx(record["metrics"]["top1"], abs=1e-3)


def test_metrics_csv_has_one_row_per_epoch_with_the_loss_parts(smoke_config):
    cfg = smoke_config("name=curve", "distill=kd", "trainer.max_epochs_cap=3")
    run_cell(cfg)
    curves = pd.read_csv(_folder(cfg) / "metrics.csv")
    # one column per loss term (unweighted), between the total and val top-1
    assert list(curves.columns) == ["epoch", "lr", "train_loss", "train_ce", "train_kd", "val_top1"]
    assert set(COLUMNS) <= set(curves.columns)
    assert curves["epoch"].tolist() == [1, 2, 3]
    assert curves[["lr", "train_loss", "train_ce", "train_kd", "val_top1"]].notna().all().all()
    # loss = w1 * CE + w2 * method term, epoch means of the per-batch values
    w1, w2 = 1 - cfg.distill.alpha, cfg.distill.alpha
    expected = w1 * curves["train_ce"] + w2 * curves["train_kd"]
    assert np.allclose(curves["train_loss"], expected, rtol=1e-4)
    assert curves["lr"].iloc[0] == pytest.approx(cfg.train.optim.lr)  # cosine starts at lr
    assert curves["val_top1"].between(0, 100).all()
    teacher_curves = list(Path(cfg.teacher_store).glob("*/metrics.csv"))
    assert len(teacher_curves) == 1 and len(pd.read_csv(teacher_curves[0])) == 3


def test_changing_efficiency_settings_re_measures_without_retraining(smoke_config, count_trainings):
    first = run_cell(smoke_config("name=eff", "distill=kd"))
    assert len(count_trainings) == 1
    changed = smoke_config("name=eff", "distill=kd", "efficiency.warmup=2")
    again = run_cell(changed)
    assert again.get("remeasured") and len(count_trainings) == 1
    assert again["key"] == first["key"]
    assert again["efficiency"]["settings"]["warmup"] == 2
    assert again["metrics"] == first["metrics"] and again["timing"] == first["timing"]
    stored = read_record(_folder(changed))
    assert stored["efficiency"]["settings"]["warmup"] == 2
    assert run_cell(changed).get("skipped") and len(count_trainings) == 1
    # an export setting needs the data set again (calibration), still no training
    recal = run_cell(smoke_config("name=eff", "distill=kd", "efficiency.calibration_size=8"))
    assert recal.get("remeasured") and len(count_trainings) == 1
    assert recal["efficiency"]["settings"]["calibration_size"] == 8
    assert recal["efficiency"]["int8"]["top1"] is not None


def test_without_kept_models_a_settings_change_retrains(smoke_config, count_trainings):
    cfg = smoke_config("name=nokeep", "distill=none", "efficiency.keep_models=false")
    record = run_cell(cfg)
    assert set(record["artifacts"]["files"]) == {"metrics.csv"}
    assert not (_folder(cfg) / "student.pt").exists()
    run_cell(
        smoke_config(
            "name=nokeep", "distill=none", "efficiency.keep_models=false", "efficiency.warmup=3"
        )
    )
    assert len(count_trainings) == 2


def test_kdbench_profile_dir_renews_latency_and_nothing_else(smoke_config, capsys):
    from kdbench.profile import main

    cfg = smoke_config("name=prof", "distill=kd")
    before = run_cell(cfg)
    path = _folder(cfg) / "record.json"
    old = json.loads(path.read_text())
    old["efficiency"]["measured_at"] = "2000-01-01T00:00:00+00:00"
    old["efficiency"]["host"]["cpu"] = "a cpu elsewhere"
    write_json_atomic(path, old)
    main([str(Path(cfg.results_dir) / "prof"), "--threads", "2"])
    out = capsys.readouterr().out
    assert "re-measured 1 student(s)" in out
    after = json.loads(path.read_text())
    eff = after["efficiency"]
    assert eff["measured_at"] > "2000-01-01T00:00:00+00:00"
    assert eff["host"]["cpu"] != "a cpu elsewhere" and eff["host"]["threads"] == 2
    assert eff["settings"]["threads"] == 2 and eff["settings"]["warmup"] == 1  # kept from record
    for block in ("metrics", "training", "timing", "teacher_metrics", "config"):
        assert after[block] == before[block]
    assert (
        eff["int8"] == before["efficiency"]["int8"]
        and eff["params"] == before["efficiency"]["params"]
    )


def test_kdbench_profile_dir_measures_each_architecture_once_and_shares_it(smoke_config, capsys):
    """Two seeds of one student and one other student: two architectures, timed in
    interleaved rounds; both seeds get the very same latency block."""
    from kdbench.profile import main

    for overrides in (("seed=0",), ("seed=1",), ("seed=0", "student=mlp_small")):
        assert run_cell(smoke_config("name=arch", "distill=none", *overrides))["status"] == "ok"
    folder = Path(smoke_config("name=arch").results_dir) / "arch"
    main([str(folder), "--rounds", "2"])
    assert "re-measured 3 student(s)" in capsys.readouterr().out
    records = [json.loads(p.read_text()) for p in sorted(folder.rglob("record.json"))]
    by_student: dict[str, list] = {}
    for r in records:
        by_student.setdefault(r["config"]["student"], []).append(r["efficiency"])
    assert sorted(len(v) for v in by_student.values()) == [1, 2]
    for effs in by_student.values():
        assert all(e["latency"] == effs[0]["latency"] for e in effs)
        assert effs[0]["latency_shared"] == {"cells": len(effs), "rounds": 2}
        stats = effs[0]["latency"]["torch_fp32"]["bs1"]
        assert stats["latency_ms_p50_range"] >= 0


def test_kdbench_profile_dir_without_records_is_one_line(tmp_path, capsys):
    from kdbench.profile import main

    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "missing")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("kdbench-profile: error: no such sweep folder")


def test_progress_lines_appear_when_stdout_is_not_a_terminal(smoke_config, capsys):
    run_cell(smoke_config("name=prog", "distill=kd", "trainer.max_epochs_cap=2"))
    lines = capsys.readouterr().out.splitlines()
    teacher = [x for x in lines if x.startswith("teacher cnn_x2: epoch")]
    cell = [x for x in lines if x.startswith("cnn_small kd T=4 w2=0.9 s0: epoch")]
    assert [x.split("epoch ")[1][:3] for x in teacher] == ["1/2", "2/2"]
    assert len(cell) == 2
    for line in teacher + cell:
        assert "loss " in line and "val top-1 " in line and "elapsed" in line and "left" in line


def test_progress_off_prints_nothing_per_epoch(smoke_config, capsys):
    run_cell(smoke_config("name=quiet", "distill=none", "progress=off"))
    assert "epoch" not in capsys.readouterr().out


def test_a_tracker_that_is_not_installed_is_a_one_line_error(smoke_config):
    import importlib.util

    if importlib.util.find_spec("mlflow") is not None:
        pytest.skip("mlflow is installed here")
    with pytest.raises(ConfigError, match=r"logger=mlflow needs the mlflow package.*\[tracking\]"):
        smoke_config("logger=mlflow")


def _swept(tmp_path: Path, teachers: tuple[str, ...] = ("cnn-w2",)):
    """Hand-made records of alone + kd at two T (from each teacher) over 3 seeds, each with
    metrics.csv beside it."""
    from kdbench.report import records_frame

    from .test_report import make_record

    pairs = []
    for seed in range(3):
        cells = [("none", None, 90.0 + seed, "cnn-w2")]
        for k, teacher in enumerate(teachers):
            cells += [("kd", 1.0, 91.0 + seed + k, teacher), ("kd", 4.0, 92.0 + seed + k, teacher)]
        for method, T, top1, teacher in cells:
            record = make_record(
                "cnn_tiny_with_a_long_name",
                method,
                seed,
                top1,
                T=T,
                teacher=teacher,
                new_efficiency=True,
            )
            record["artifacts"] = {"files": {"student.int8.onnx": 100, "metrics.csv": 50}}
            folder = tmp_path / f"{method}-{T}-{seed}-{teacher if method != 'none' else ''}"
            folder.mkdir()
            epochs = np.arange(1, 6)
            pd.DataFrame(
                {"epoch": epochs, "val_top1": top1 - 10.0 / epochs, "train_loss": 1.0 / epochs}
            ).to_csv(folder / "metrics.csv", index=False)
            pairs.append((record, folder / "record.json"))
    return records_frame(pairs)


def test_curves_figure_is_drawn_per_method_and_byte_identical_on_rerun(tmp_path):
    from kdbench.report import summarize
    from kdbench.report.epochs import curves_frame
    from kdbench.report.figures import write_figures
    from kdbench.report.figures.curves import curves_figure

    df = _swept(tmp_path)
    curves = curves_frame(df)
    assert len(curves) == 9 * 5
    summary = summarize(df)
    summary.attrs["curves"] = curves
    fig = curves_figure(summary)
    (ax,) = fig.axes
    # one line per method: kd at its validation-chosen T (4), and the student alone
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"student alone", "kd"}
    expected = [np.mean([92.0 + s - 10.0 / e for s in range(3)]) for e in range(1, 6)]
    assert np.allclose(lines["kd"].get_ydata(), expected)
    assert len(ax.collections) == 2  # a band per line (3 seeds)
    paths = [write_figures(summary, tmp_path / f"out{i}", curves) for i in range(2)]
    for ext in ("png", "pdf"):
        a, b = (p[f"curves.{ext}"].read_bytes() for p in paths)
        assert a == b and len(a) > 1000


def test_curves_from_several_teachers_have_a_colour_each(tmp_path):
    from kdbench.report import summarize
    from kdbench.report.epochs import curves_frame
    from kdbench.report.figures.curves import curves_figure

    df = _swept(tmp_path, teachers=("cnn_a", "cnn_b"))
    summary = summarize(df)
    summary.attrs["curves"] = curves_frame(df)
    (ax,) = curves_figure(summary).axes
    colours = {line.get_label(): line.get_color() for line in ax.get_lines()}
    assert set(colours) == {"student alone", "kd (cnn_a)", "kd (cnn_b)"}
    assert len(set(colours.values())) == 3  # the two kd lines used to share the kd colour


def test_curves_figure_is_skipped_without_curves(tmp_path):
    from kdbench.report import summarize
    from kdbench.report.figures.curves import curves_figure

    assert curves_figure(summarize(_swept(tmp_path))) is None


def test_console_table_fits_100_columns_and_deploy_line_names_the_best_int8(tmp_path):
    from kdbench.report import summarize
    from kdbench.report.console import console_table
    from kdbench.report.deploy import deploy_lines, latency_host_lines

    df = _swept(tmp_path)
    table = console_table(summarize(df))
    lines = table.splitlines()
    assert max(len(x) for x in lines) <= 100
    assert lines[0].split() == [
        "student", "method", "T", "α", "n", "top-1", "(%)", "Δ", "top-1", "(CI)", "params", "M",
        "MFLOPs", "torch", "ms",
    ]  # fmt: skip
    assert len(lines) == 2 + 3
    (deploy,) = deploy_lines(df)
    # best validation top-1 is kd T=4 seed 2 (val = test top-1 in these records)
    assert deploy.startswith(f"deploy cnn_tiny_with_a_long_name: {tmp_path / 'kd-4.0-2'}")
    assert "student.int8.onnx (kd T=4 alpha=0.9, seed 2;" in deploy
    assert latency_host_lines(df) == []  # hand-made records carry no host


def test_report_prints_host_and_deploy_lines(smoke_config, capsys):
    from kdbench.report import write_report

    cfg = smoke_config("name=rep", "distill=kd")
    run_cell(cfg)
    capsys.readouterr()
    sweep = Path(cfg.results_dir) / "rep"
    paths = write_report([sweep], sweep)
    out = capsys.readouterr().out
    md = paths["md"].read_text()
    for text in (out, md):
        assert "latency measured on " in text and "1 thread(s)" in text
        assert "deploy cnn_small: " in text and "student.int8.onnx" in text
    assert (sweep / "figures" / "curves.png").is_file()
