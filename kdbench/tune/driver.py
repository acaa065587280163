"""`kdbench-tune` start to finish: plan -> teachers -> one study per method -> outputs
-> best settings on fresh seeds -> reports. Rerunning the same command continues a
killed run; on a finished one it trains nothing and only prints the results."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from optuna.trial import TrialState

from kdbench.errors import ConfigError
from kdbench.tune.final import run_final
from kdbench.tune.outputs import plot_best_so_far, trials_frame, write_trials_csv
from kdbench.tune.plan import Plan, make_plan
from kdbench.tune.study import is_counted, load_study, prepare_teachers, run_study


@dataclass
class TuneOutcome:
    plan: Plan
    trials_run: int = 0
    cells_trained: int = 0
    best: dict[str, dict[str, Any]] = field(default_factory=dict)
    best_value: dict[str, float] = field(default_factory=dict)
    counted: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def tune(experiment: str, overrides: list[str], log: Callable[[str], None] = print) -> TuneOutcome:
    plan = make_plan(experiment, overrides)
    plan.root.mkdir(parents=True, exist_ok=True)
    try:
        with FileLock(str(plan.root / "tuning.lock"), timeout=0):
            return _tune_locked(plan, log)
    except Timeout:
        raise ConfigError(
            f"another kdbench-tune is working on {plan.root} (lock {plan.root / 'tuning.lock'}); "
            "wait for it, or remove the lock if no such process is left"
        ) from None


def _tune_locked(plan: Plan, log: Callable[[str], None]) -> TuneOutcome:
    out = TuneOutcome(plan)
    t = plan.tune
    log(
        f"tuning {', '.join(plan.methods)} on {plan.experiment}: {t.trials} trials each, "
        f"tuning seeds {list(t.seeds)}, test seeds {list(t.final_seeds)} -> {plan.root}"
    )
    prepare_teachers(plan)
    for method in plan.methods:
        ran, _ = run_study(plan, method, log)
        out.trials_run += ran

    trials = {m: load_study(plan, m).get_trials(deepcopy=False) for m in plan.methods}
    for method, items in trials.items():
        out.counted[method] = sum(is_counted(x) for x in items)
        complete = [x for x in items if x.state == TrialState.COMPLETE]
        if complete:
            top = max(complete, key=lambda x: (x.value, -x.number))
            out.best[method], out.best_value[method] = dict(top.params), float(top.value)
        else:
            log(f"{method}: every trial failed; it has no tuned setting to test")

    csv, figure = plan.root / "tuning.csv", plan.root / "tuning"
    fresh = out.trials_run or not csv.is_file() or not figure.with_suffix(".png").is_file()
    if fresh:
        frame = trials_frame(trials)
        write_trials_csv(frame, csv)
        title = f"{plan.experiment}: {t.trials} trials per method (validation split)"
        plot_best_so_far(frame, figure, title)
    out.files += [csv, figure.with_suffix(".png"), figure.with_suffix(".pdf")]

    cells, reports = run_final(plan, out.best, log)
    out.cells_trained = cells
    out.files += [r / "summary.md" for r in reports]
    _print_results(out, log)
    return out


def _print_results(out: TuneOutcome, log: Callable[[str], None]) -> None:
    if not out.trials_run and not out.cells_trained:
        log("nothing to do: every trial and test cell is recorded; the results:")
    for method in out.plan.methods:
        line = f"  {method:<8} {out.counted.get(method, 0)} trials"
        if method in out.best:
            params = " ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in out.best[method].items()
            )
            line += f"  best val top1={out.best_value[method]:.2f}%  {params}"
        log(line)
    for path in out.files:
        log(f"  -> {path}")
