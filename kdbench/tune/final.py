"""The test after the tuning: each method's best setting on fresh seeds.

Every cell goes through the normal runner (cached by its key, tested once, with
the efficiency block), into `results/<name>/tuned/`, beside the student alone
on the same seeds, and the usual report is written there. With `tune.defaults`
the same methods at their yaml defaults go to `results/<name>/defaults/`, so the
gain from tuning is read off two tables with identical seeds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kdbench.errors import ConfigError
from kdbench.report import write_report
from kdbench.runner import describe, run_cell
from kdbench.tune.plan import BASELINE, Plan

TUNED_FOLDER = "tuned"
DEFAULTS_FOLDER = "defaults"


def check_fresh_seeds(plan: Plan) -> None:
    """Refuse to test on a seed that tuning used (plan.check_tune says so too: belt and braces)."""
    shared = set(plan.tune.seeds) & set(plan.tune.final_seeds)
    if shared:
        raise ConfigError(f"tune.final_seeds reuse tuning seeds {sorted(shared)}")


def run_cells(
    plan: Plan,
    folder: str,
    settings: dict[str, dict[str, Any]],
    log: Callable[[str], None] = print,
) -> int:
    """Run `settings` (method -> values) on every final seed; return cells trained now."""
    check_fresh_seeds(plan)
    trained = 0
    for method, values in settings.items():
        for seed in plan.tune.final_seeds:
            record = run_cell(plan.cell(folder, method, seed, values))
            trained += not record.get("skipped")
            if not record.get("skipped"):
                log(f"  {folder:<8} {describe(record)}")
    return trained


def final_settings(plan: Plan, best: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The baseline plus each tuned method at its best parameters (methods without one: none)."""
    settings: dict[str, dict[str, Any]] = {BASELINE: {}}
    for method in plan.methods:
        if method in best:
            settings[method] = plan.spaces[method].values(best[method])
    return settings


def run_final(
    plan: Plan, best: dict[str, dict[str, Any]], log: Callable[[str], None] = print
) -> tuple[int, list[Path]]:
    """Tuned (and default) cells on the final seeds, then their reports.

    Returns (cells trained now, report folders). A report is rewritten only when
    one of its cells was trained now or its summary is missing.
    """
    folders = [(TUNED_FOLDER, final_settings(plan, best))]
    if plan.tune.defaults:
        folders.append((DEFAULTS_FOLDER, {BASELINE: {}, **{m: {} for m in plan.methods}}))
    total, written = 0, []
    for folder, settings in folders:
        trained = run_cells(plan, folder, settings, log)
        total += trained
        out = plan.root / folder
        if trained or not (out / "summary.csv").is_file():
            write_report([out], out)
        written.append(out)
    return total, written
