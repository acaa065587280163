"""What the user reads after tuning: `tuning.csv` (one row per trial) and the
best-so-far figure (`tuning.png|pdf`), one line per method, so an unequal or
unconverged budget is visible at a glance."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - after the backend is chosen
import pandas as pd  # noqa: E402
from optuna.trial import FrozenTrial  # noqa: E402

from kdbench.fileio import write_text_atomic  # noqa: E402
from kdbench.report.figures.style import ONE_COLUMN_IN, STYLE, save, series_style  # noqa: E402
from kdbench.tune.study import is_counted, trial_status  # noqa: E402

COLUMNS = ["method", "trial", "counted", "status", "val_top1", "error"]


def trials_frame(trials: dict[str, list[FrozenTrial]]) -> pd.DataFrame:
    """One row per trial: method, its budget position, status, value, then parameters."""
    rows = []
    for method, items in trials.items():
        n = 0
        for t in sorted(items, key=lambda t: t.number):
            counted = is_counted(t)
            n += counted
            rows.append(
                {
                    "method": method,
                    "trial": n if counted else None,  # 1..budget; interrupted ones: empty
                    "counted": counted,
                    "status": trial_status(t),
                    "val_top1": t.value if t.value is not None else None,
                    "error": t.user_attrs.get("error", ""),
                    "optuna_number": t.number,
                    **t.params,
                }
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    frame["trial"] = frame["trial"].astype("Int64")
    return frame


def best_so_far(frame: pd.DataFrame, method: str) -> pd.DataFrame:
    """Trial number (1..budget) against the best validation top-1 up to it (FAIL adds nothing)."""
    rows = frame[(frame["method"] == method) & frame["counted"]].sort_values("trial")
    return pd.DataFrame(
        {"trial": rows["trial"].astype(int), "best": rows["val_top1"].astype(float).cummax()}
    )


def write_trials_csv(frame: pd.DataFrame, path: Path) -> None:
    write_text_atomic(path, frame.to_csv(index=False, float_format="%.6g"))


def plot_best_so_far(frame: pd.DataFrame, out: Path, title: str) -> list[Path]:
    """`out`.png and `out`.pdf: best-so-far validation top-1 against trial, per method."""
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(ONE_COLUMN_IN, 2.4), layout="constrained")
        for i, method in enumerate(dict.fromkeys(frame["method"])):
            curve = best_so_far(frame, method)
            style = series_style(i)
            ax.step(
                curve["trial"],
                curve["best"],
                where="post",
                color=style["color"],
                marker=style["marker"],
                label=f"{method} ({len(curve)} trials)",
            )
        ax.set_xlabel("trial")
        ax.set_ylabel("best validation top-1 so far (%)")
        ax.set_title(title)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend()
    return list(save(fig, out).values())
