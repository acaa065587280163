"""One Optuna study per method: ask a setting, run its cells, tell the validation top-1.

The study lives in SQLite (`results/<name>/tuning.db`, one study per method), so a
killed run is continued by the same command. Only one driver may work on a
results folder at a time (a file lock), hence a trial still RUNNING when the
driver starts was left by a kill: it is closed as FAIL without a `status`
(reported as "interrupted", not counted against the budget) and its setting is
queued again, where the runner's cell cache returns any cell that had finished.

A trial's value is the mean, over `tune.seeds`, of the validation top-1 of the
checkpoint each cell selects. Its cells run with `trainer.test=false` and no
efficiency measurement: tuning never reads the test split. A cell whose record
is not "ok" (failed, diverged) or whose value is not finite makes the trial FAIL,
with the reason kept in the trial's user attributes; the study goes on.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import optuna
import torch
from optuna.samplers import TPESampler
from optuna.trial import FrozenTrial, TrialState

from kdbench.data import load_data
from kdbench.distill import METHODS
from kdbench.errors import ConfigError
from kdbench.fileio import config_hash
from kdbench.runner import run_cell
from kdbench.sweep import job_threads
from kdbench.teachers import TeacherStore, teacher_identity
from kdbench.tune.plan import Plan

optuna.logging.set_verbosity(optuna.logging.WARNING)

TRIAL_FOLDER = "trials"
# Tuning cells: validation only, no test split, no latency measurement.
TUNING_VALUES = {"trainer.test": False, "efficiency.enabled": False}


def storage_url(plan: Plan) -> str:
    return f"sqlite:///{(plan.root / 'tuning.db').resolve()}"


@lru_cache(maxsize=8)
def _storage(url: str) -> optuna.storages.RDBStorage:
    """One connection per database and process (opening one checks the schema: ~1 s)."""
    return optuna.storages.RDBStorage(url)


def load_study(plan: Plan, method: str) -> optuna.Study:
    """The method's study, created on first use; TPE seeded per method (stable by name)."""
    t = plan.tune
    startup = t.startup_trials if t.startup_trials is not None else max(1, t.trials // 3)
    seed = t.sampler_seed * 1_000_003 + zlib.crc32(method.encode()) % 1_000_003
    sampler = TPESampler(seed=seed, n_startup_trials=startup)
    plan.root.mkdir(parents=True, exist_ok=True)
    return optuna.create_study(
        study_name=method,
        storage=_storage(storage_url(plan)),
        direction="maximize",
        sampler=sampler,
        load_if_exists=True,
    )


def is_counted(t: FrozenTrial) -> bool:
    """A trial that spent budget: finished with a value, or failed on its own (has a status)."""
    return t.state == TrialState.COMPLETE or (
        t.state == TrialState.FAIL and "status" in t.user_attrs
    )


def trial_status(t: FrozenTrial) -> str:
    if t.state == TrialState.COMPLETE:
        return "ok"
    if t.state == TrialState.FAIL:
        return str(t.user_attrs.get("status", "interrupted"))
    return t.state.name.lower()


def requeue_interrupted(study: optuna.Study) -> int:
    """Close trials a kill left RUNNING and ask their settings again; return how many."""
    stale = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for t in stale:
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        if t.params:
            study.enqueue_trial(dict(t.params), user_attrs={"requeued_from": t.number})
    return len(stale)


@dataclass
class TrialResult:
    value: float | None  # None: the trial failed
    attrs: dict[str, Any]
    trained: int  # cells actually trained (not found in the cache)


def evaluate(plan: Plan, method: str, params: dict[str, Any]) -> TrialResult:
    """Run the setting's cells (one per tuning seed) and average their validation top-1."""
    space = plan.spaces[method]
    values, cells, trained = [], [], 0
    for seed in plan.tune.seeds:
        try:
            cfg = plan.cell(TRIAL_FOLDER, method, seed, {**TUNING_VALUES, **space.values(params)})
        except ConfigError as exc:  # a sampled value the schema refuses
            return TrialResult(None, {"status": "invalid", "error": str(exc)}, trained)
        record = run_cell(cfg)
        trained += not record.get("skipped")
        cells.append(record["key"][:10])
        if record["status"] != "ok":
            err = record.get("error") or {}
            msg = f"{err.get('type', '')}: {err.get('message', '')}".strip(": ")
            return TrialResult(None, {"status": record["status"], "error": msg}, trained)
        value = float(record["training"]["best_val_top1"])
        if not math.isfinite(value):
            return TrialResult(None, {"status": "diverged", "error": "non-finite"}, trained)
        values.append(value)
    mean = sum(values) / len(values)
    return TrialResult(mean, {"status": "ok", "val_top1_seeds": values, "cells": cells}, trained)


def prepare_teachers(plan: Plan) -> None:
    """Train (or find) each method's teacher before the first trial.

    The teacher store tests a teacher it trains (its metrics serve every later
    cell); doing that here, before tuning, keeps the trials themselves off the
    test split. A teacher is a fixed model, independent of every tuned setting.
    """
    seen: set[str] = set()
    threads = job_threads(plan.base.trainer.threads)  # as the runner does for a cell
    if threads:
        torch.set_num_threads(threads)
    for method in plan.methods:
        cfg = plan.cell(TRIAL_FOLDER, method, plan.tune.seeds[0], TUNING_VALUES)
        if not METHODS.get(cfg.distill.name).uses_teacher:
            continue
        key = config_hash(teacher_identity(cfg))
        if key not in seen:
            seen.add(key)
            TeacherStore(cfg.teacher_store).get(cfg, load_data(cfg.data))


def run_study(plan: Plan, method: str, log: Callable[[str], None] = print) -> tuple[int, int]:
    """Fill the method's budget; return (trials run now, trials requeued after a kill)."""
    study = load_study(plan, method)
    requeued = requeue_interrupted(study)
    if requeued:
        log(f"{method}: {requeued} trial(s) interrupted by a kill, asked again")
    space = plan.spaces[method]
    ran = 0
    while (done := sum(is_counted(t) for t in study.get_trials(deepcopy=False))) < plan.tune.trials:
        trial = study.ask(space.params)
        result = evaluate(plan, method, trial.params)
        for key, value in result.attrs.items():
            trial.set_user_attr(key, value)
        if result.value is None:
            study.tell(trial, state=TrialState.FAIL)
            shown = f"FAILED ({result.attrs['status']}: {result.attrs.get('error', '')})"
        else:
            study.tell(trial, result.value)
            shown = f"val top1={result.value:6.2f}%"
        ran += 1
        settings = " ".join(
            f"{k.split('.')[-1]}={v:.4g}" if isinstance(v, float) else f"{k.split('.')[-1]}={v}"
            for k, v in trial.params.items()
        )
        log(f"{method:<8} trial {done + 1:>3}/{plan.tune.trials}  {settings}  {shown}")
    return ran, requeued
