"""`kdbench-tune`: equal budgets, no test split while tuning, resume, failures, fresh seeds.

All on `experiment=tune_smoke` (digits, smoke trainer), in-process, with the
final cells' latency measurement off to keep the file fast.
"""

from __future__ import annotations

import dataclasses
import json

import optuna
import pandas as pd
import pytest
import torch

import kdbench.runner
import kdbench.tune.study as study_mod
from kdbench.errors import ConfigError
from kdbench.records import find_records
from kdbench.tune.cli import main as tune_main
from kdbench.tune.driver import tune
from kdbench.tune.plan import make_plan
from kdbench.tune.study import is_counted, load_study, prepare_teachers, run_study

EXP = "tune_smoke"


def fast(tmp_path, *extra: str) -> list[str]:
    return [
        f"results_dir={tmp_path}",
        "efficiency.enabled=false",
        "tune.defaults=false",
        "tune.final_seeds=[100,101]",
        *extra,
    ]


def records(folder):
    return [json.loads(p.read_text()) for p in find_records(folder)]


class SplitReadError(AssertionError):
    pass


class Poison(torch.Tensor):
    """A test split that raises on any use beyond its length and shape."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.Tensor.__len__, torch.Tensor.size) or getattr(func, "__name__", "") in (
            "shape",
            "__get__",
        ):
            return super().__torch_function__(func, types, args, kwargs)
        raise SplitReadError(f"the test split was read ({getattr(func, '__name__', func)})")


def poison_test_split(monkeypatch) -> None:
    real = kdbench.runner.load_data

    def load(cfg):
        data = real(cfg)
        x, y = data.test
        return dataclasses.replace(data, test=(x.as_subclass(Poison), y.as_subclass(Poison)))

    monkeypatch.setattr(kdbench.runner, "load_data", load)


def test_equal_budgets_outputs_and_idle_rerun(tmp_path):
    out = tune(EXP, fast(tmp_path), log=lambda s: None)
    root = tmp_path / EXP
    frame = pd.read_csv(root / "tuning.csv")
    counted = frame[frame["counted"]]
    assert counted.groupby("method").size().to_dict() == {"kd": 3, "dkd": 3}
    assert set(counted["status"]) == {"ok"} and counted["val_top1"].notna().all()
    assert {"distill.T", "distill.w1", "distill.dkd_beta"} <= set(frame.columns)
    assert (root / "tuning.png").is_file() and (root / "tuning.pdf").is_file()
    summary = pd.read_csv(root / "tuned" / "summary.csv")
    assert set(summary["method"]) == {"none", "kd", "dkd"}

    # Tuning cells: never tested; the final cells: tested, on the fresh seeds only.
    trial_records = records(root / "trials")
    assert len(trial_records) == 6
    assert all(r["training"]["tested"] is False and r["metrics"] == {} for r in trial_records)
    assert {r["config"]["seed"] for r in trial_records} == {0}
    final = records(root / "tuned")
    assert {r["config"]["seed"] for r in final} == {100, 101}
    assert all(r["training"]["tested"] and "top1" in r["metrics"] for r in final)
    # The tuned kd cells carry the study's best setting.
    kd = [r for r in final if r["config"]["method"] == "kd"]
    assert {r["resolved"]["distill"]["T"] for r in kd} == {out.best["kd"]["distill.T"]}

    again = tune(EXP, fast(tmp_path), log=lambda s: None)
    assert again.trials_run == 0 and again.cells_trained == 0
    assert again.best == out.best


def test_tuning_never_reads_the_test_split(tmp_path, monkeypatch):
    plan = make_plan(EXP, fast(tmp_path, "tune.trials=2"))
    prepare_teachers(plan)  # before tuning: the store tests the teacher it trains
    poison_test_split(monkeypatch)
    ran, _ = run_study(plan, "kd", log=lambda s: None)
    assert ran == 2
    trials = load_study(plan, "kd").get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    # The poison works: a tested cell on the same data fails on it.
    cfg = plan.cell("tuned", "kd", 100, {"trainer.test": True})
    record = kdbench.runner.run_cell(cfg)
    assert record["status"] == "failed" and record["error"]["type"] == "SplitReadError"


def test_killed_study_resumes_without_repeating_trials(tmp_path, monkeypatch):
    trained = []
    real = study_mod.run_cell

    def counting(cfg):
        record = real(cfg)
        trained.append((record["key"], bool(record.get("skipped"))))
        return record

    monkeypatch.setattr(study_mod, "run_cell", counting)
    plan = make_plan(EXP, fast(tmp_path, "tune.trials=1"))
    run_study(plan, "kd", log=lambda s: None)
    # A kill mid-trial: asked, its cell ran, the result never told.
    study = load_study(plan, "kd")
    killed = study.ask(plan.spaces["kd"].params)
    study_mod.evaluate(plan, "kd", killed.params)
    assert len(trained) == 2 and not any(skipped for _, skipped in trained)

    plan = make_plan(EXP, fast(tmp_path, "tune.trials=3"))
    ran, requeued = run_study(plan, "kd", log=lambda s: None)
    assert (ran, requeued) == (2, 1)
    trials = load_study(plan, "kd").get_trials()
    assert sum(is_counted(t) for t in trials) == 3
    interrupted = [t for t in trials if not is_counted(t)]
    assert [t.number for t in interrupted] == [killed.number]
    # The interrupted setting was asked again and found its finished cell in the cache.
    redo = [t for t in trials if t.user_attrs.get("requeued_from") == killed.number]
    assert len(redo) == 1 and redo[0].params == killed.params
    assert trained[2][1] is True  # the requeued trial's cell: skipped, not retrained
    assert len({key for key, skipped in trained if not skipped}) == 3  # 3 settings trained once


def test_failed_trial_is_recorded_and_the_study_goes_on(tmp_path, monkeypatch):
    real = study_mod.run_cell
    calls = []

    def second_diverges(cfg):
        calls.append(cfg.seed)
        record = real(cfg)
        if len(calls) == 2:
            return {**record, "status": "diverged", "error": {"type": "Diverged", "message": "nan"}}
        return record

    monkeypatch.setattr(study_mod, "run_cell", second_diverges)
    plan = make_plan(EXP, fast(tmp_path, "tune.trials=3"))
    ran, _ = run_study(plan, "kd", log=lambda s: None)
    assert ran == 3
    trials = load_study(plan, "kd").get_trials()
    states = [t.state for t in trials]
    assert states.count(optuna.trial.TrialState.FAIL) == 1 and len(trials) == 3
    failed = next(t for t in trials if t.state == optuna.trial.TrialState.FAIL)
    assert failed.user_attrs["status"] == "diverged" and is_counted(failed)


def test_final_seeds_must_be_fresh(tmp_path, capsys):
    with pytest.raises(ConfigError, match="fresh"):
        make_plan(EXP, fast(tmp_path, "tune.final_seeds=[0,100]"))
    with pytest.raises(SystemExit) as exit_info:
        tune_main([EXP, f"results_dir={tmp_path}", "tune.seeds=[5]", "tune.final_seeds=[5]"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kdbench-tune: error:") and len(err.splitlines()) == 1


def test_search_space_with_a_stale_key_is_refused(tmp_path):
    spaces = tmp_path / "spaces"
    spaces.mkdir()
    (spaces / "kd.yaml").write_text("params:\n  distill.T: {low: 1, high: 4}\n")
    (spaces / "dkd.yaml").write_text("params:\n  distill.no_such_key: {low: 1, high: 4}\n")
    with pytest.raises(ConfigError, match=r"dkd.yaml: distill.no_such_key is not a config key"):
        make_plan(EXP, fast(tmp_path, f"tune.space_dir={spaces}"))
