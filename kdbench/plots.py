"""Paper-ready figures from a sweep summary (PDF + PNG, byte-identical reruns).

Each figure is a function in the `FIGURES` registry (its name is the file
stem) that takes the summary of one data set (`kdbench.report.summarize`) and
returns a matplotlib Figure, or None when the sweep has no data for it (no
temperature axis, no size ladder, ...): a figure is skipped, never drawn
empty. `write_figures` saves each as PDF and PNG.

Conventions: widths of one (3.3 in) or two (6.9 in) paper columns, 7-8 pt
text, the Okabe-Ito palette plus a marker per method (colour-blind and
greyscale safe), TrueType fonts in the PDF, and no dates in the files.
Figures that show one point or bar per method pick that method's setting on
the validation split (`report.chosen_on_validation`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from kdbench.registry import Registry  # noqa: E402
from kdbench.report import (  # noqa: E402
    BASELINE,
    STUDENT_PARTS,
    TORCH_BACKEND,
    chosen_on_validation,
    latency_column,
)

ONE_COLUMN_IN = 3.3
TWO_COLUMN_IN = 6.9
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
HATCHES = ["", "////", "....", "xxxx"]
BASELINE_COLOR = "0.45"
TEACHER_STYLE = {"color": "black", "linestyle": ":", "linewidth": 1.0}
TEACHER_DASHES = [":", "-.", "--", (0, (1, 3))]  # one per teacher where several are drawn
HEATMAP_CMAP = "RdBu"  # ColorBrewer diverging, colour-blind safe; blue = gain

STYLE = {
    "font.size": 8,
    "axes.titlesize": 8,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "pdf.fonttype": 42,  # TrueType, embedded: editable text in the PDF
    "ps.fonttype": 42,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "errorbar.capsize": 2,
    "lines.markersize": 4,
    "svg.hashsalt": "kdbench",
}
# No creation dates or versions in the files, so the same records give the same bytes.
_METADATA = {
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
    "png": {"Software": None},
}

# name (the file stem) -> draw(summary of one data set) -> Figure, or None when no data
FigureFn = Callable[[pd.DataFrame], "plt.Figure | None"]
FIGURES: Registry[FigureFn] = Registry("figure")


def save(fig: plt.Figure, stem: Path) -> dict[str, Path]:
    """Write `stem.pdf` and `stem.png` (200 dpi) and close the figure.

    Saved under the style too: the PDF backend reads `pdf.fonttype` at save time.
    """
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = {}
    with plt.rc_context(STYLE):
        for ext in ("pdf", "png"):
            path = stem.parent / f"{stem.name}.{ext}"
            fig.savefig(path, dpi=200, bbox_inches="tight", metadata=_METADATA[ext])
            paths[f"{stem.name}.{ext}"] = path
    plt.close(fig)
    return paths


def write_figures(summary: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Every registered figure, per data set (`<name>_<data>` when there are several)."""
    paths: dict[str, Path] = {}
    datasets = sorted(summary["data"].dropna().unique()) if "data" in summary else []
    parts = [(d, summary[summary["data"] == d]) for d in datasets] or [(None, summary)]
    for data, part in parts:
        suffix = f"_{data}" if len(parts) > 1 else ""
        for name in FIGURES:
            fig = FIGURES.get(name)(part.reset_index(drop=True))
            if fig is not None:
                paths.update(save(fig, folder / f"{name}{suffix}"))
    return paths


# ---------------------------------------------------------------- helpers


def series_style(i: int) -> dict[str, str]:
    """The i-th series' colour, marker and bar hatch. Past the palette's 8 colours (the
    method zoo has 9 methods) colours repeat, so each further round shifts the marker
    and adds a hatch: no two series look alike."""
    round_ = i // len(PALETTE)
    return {
        "color": PALETTE[i % len(PALETTE)],
        "marker": MARKERS[(i + 1 + round_) % len(MARKERS)],
        "hatch": HATCHES[round_ % len(HATCHES)],
    }


def method_styles(summary: pd.DataFrame) -> dict[str, dict]:
    """A fixed style per method: the student alone in grey, then in name order."""
    methods = sorted(m for m in summary["method"].dropna().unique() if m != BASELINE)
    styles = {BASELINE: {"color": BASELINE_COLOR, "marker": "o", "hatch": ""}}
    styles.update((m, series_style(i)) for i, m in enumerate(methods))
    return styles


def _label(method: str) -> str:
    return "student alone" if method == BASELINE else method


def _has(df: pd.DataFrame, col: str) -> bool:
    return col in df and df[col].notna().any()


def _std(df: pd.DataFrame, col: str) -> np.ndarray:
    std = df[col] if col in df else pd.Series(np.nan, index=df.index)
    return std.fillna(0).to_numpy()


def _teachers(summary: pd.DataFrame) -> list[tuple[str, float]]:
    """(teacher, its top-1) for every teacher in the summary."""
    if not _has(summary, "teacher_top1_mean"):
        return []
    rows = summary.dropna(subset=["teacher", "teacher_top1_mean"])
    return [(t, float(g["teacher_top1_mean"].mean())) for t, g in rows.groupby("teacher")]


def _axes(n: int, height: float, max_cols: int = 3, **kw) -> tuple[plt.Figure, list[plt.Axes]]:
    cols = min(n, max_cols)
    rows = math.ceil(n / cols)
    width = ONE_COLUMN_IN if n == 1 else TWO_COLUMN_IN
    fig, axes = plt.subplots(
        rows, cols, figsize=(width, height * rows), layout="constrained", squeeze=False, **kw
    )
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _plain_log_ticks(axis) -> None:
    """Log-axis ticks at 1, 2, 5 x 10^k written as plain numbers (0.02, not 2x10^-2).

    Where fewer than two such ticks fall in view (a range under a decade), the
    log locator would fall back to dense linear ticks whose labels collide, so
    at most four evenly spaced ticks are used instead. Call after the limits are set.
    """
    axis.axes.autoscale_view()  # limits are computed lazily; they are needed now
    lo, hi = sorted(axis.get_view_interval())
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    in_view = [m * 10.0**k for k in decades for m in (1, 2, 5) if lo <= m * 10.0**k <= hi]
    if len(in_view) >= 2:
        axis.set_major_locator(mticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    else:
        axis.set_major_locator(mticker.MaxNLocator(nbins=3))
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(mticker.NullFormatter())


def _legend_below(fig: plt.Figure, axes: list[plt.Axes], order: list[str] | None = None) -> None:
    """One legend for all panels, under them, entries de-duplicated (and sorted by `order`)."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            entries.setdefault(label, handle)
    labels = list(entries)
    if order:
        rank = {k: i for i, k in enumerate(order)}
        labels.sort(key=lambda lab: rank.get(lab, len(rank)))
    fig.legend(
        [entries[lab] for lab in labels],
        labels,
        loc="outside lower center",
        ncol=min(len(labels), 4),
    )


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats (lower x and higher y), by increasing x."""
    order = np.lexsort((-y, x))
    front, best = [], -np.inf
    for i in order:
        if y[i] > best:
            front.append(i)
            best = y[i]
    return np.array(front, dtype=int)


def _place_labels(ax: plt.Axes, texts: list) -> None:
    """Move annotations up, a step at a time, until none overlaps one placed before it."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    placed = []
    for text in texts:
        for _ in range(8):
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(other) for other in placed):
                break
            dx, dy = text.xyann
            text.xyann = (dx, dy + 7)
        placed.append(text.get_window_extent(renderer))


# ---------------------------------------------------------------- figures


@FIGURES.register("pareto")
def pareto_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Student top-1 against latency (log) and against MFLOPs, with the Pareto front.

    One point per student and method (setting chosen on validation), mean ± std
    over seeds in both directions; the students are named beside their best
    point, methods by colour and marker; teachers are horizontal reference lines
    (their cost is not recorded).
    """
    sel = chosen_on_validation(summary).dropna(subset=["top1_mean"])
    backends = ("ort_fp32", TORCH_BACKEND)
    latency = [latency_column("latency_ms_p50", "bs1", b) + "_mean" for b in backends]
    names = {"ort_fp32": "ONNX Runtime fp32", TORCH_BACKEND: "torch fp32"}
    panels = []
    for col, backend in zip(latency, backends):
        if _has(sel, col):
            panels.append((col, f"latency, batch 1, {names[backend]} (ms)", True))
            break
    if _has(sel, "mflops_mean"):
        spread = sel["mflops_mean"].max() / max(sel["mflops_mean"].min(), 1e-12)
        panels.append(("mflops_mean", "forward MFLOPs", spread > 10))
    if not panels or len(sel) < 2:
        return None
    styles = method_styles(summary)
    teachers = _teachers(summary)
    with plt.rc_context(STYLE):
        fig, axes = _axes(len(panels), 2.5, sharey=True)
        for ax, (col, xlabel, log) in zip(axes, panels):
            data = sel.dropna(subset=[col])
            x, y = data[col].to_numpy(), data["top1_mean"].to_numpy()
            front = pareto_front(x, y)
            ax.step(
                x[front],
                y[front],
                where="post",
                color="0.75",
                linewidth=2.5,
                zorder=1,
                label="Pareto front",
            )
            for method, rows in data.groupby("method", sort=False):
                st = styles[method]
                ax.errorbar(
                    rows[col],
                    rows["top1_mean"],
                    xerr=_std(rows, col.replace("_mean", "_std")),
                    yerr=_std(rows, "top1_std"),
                    fmt=st["marker"],
                    color=st["color"],
                    markeredgecolor="white",
                    markeredgewidth=0.4,
                    elinewidth=0.8,
                    zorder=3,
                    label=_label(method),
                )
            for k, (teacher, top1) in enumerate(teachers):
                label = f"teacher {teacher} ({top1:.2f}%)"
                style = {**TEACHER_STYLE, "linestyle": TEACHER_DASHES[k % len(TEACHER_DASHES)]}
                ax.axhline(top1, zorder=0, label=label, **style)
            texts = []
            for student, rows in data.groupby("student"):
                top = rows.loc[rows["top1_mean"].idxmax()]
                texts.append(
                    ax.annotate(
                        student,
                        (top[col], top["top1_mean"]),
                        xytext=(0, 6),
                        textcoords="offset points",
                        ha="center",
                        va="bottom",
                        fontsize=6.5,
                    )
                )
            ax.margins(x=0.15, y=0.12)
            if log:
                ax.set_xscale("log")
                _plain_log_ticks(ax.xaxis)
            ax.set_xlabel(xlabel)
            fig.canvas.draw()
            _place_labels(ax, texts)
        axes[0].set_ylabel("student top-1 (%)")
        order = [_label(m) for m in styles]
        _legend_below(fig, axes, order + ["Pareto front"])
        return fig


def _show(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _varying_others(summary: pd.DataFrame, rows: pd.DataFrame) -> list[str]:
    """Settings besides identity, T and the loss weights that vary among `rows` (e.g. `beta`).

    `w1` counts only where it is not fixed by `w2` (the w1/w2 form of the weights).
    """
    fixed = {"data", "teacher", "student", "method", "T", "w2", "alpha", "w1", "seed"}
    keys = list(summary.columns[: list(summary.columns).index("n")])
    other = [c for c in keys if c not in fixed and c not in STUDENT_PARTS]
    if "w1" in rows and (rows.groupby("w2")["w1"].nunique() > 1).any():
        other.append("w1")
    return [c for c in other if rows[c].nunique(dropna=False) > 1]


def _heatmap_panels(summary: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(title, rows) per teacher/student/method (and any other varying setting) with a T axis."""
    if not (_has(summary, "T") and _has(summary, "w2") and _has(summary, "delta_top1_mean")):
        return []
    rows = summary[(summary["method"] != BASELINE) & summary["T"].notna()]
    rows = rows.dropna(subset=["delta_top1_mean"])
    first = [c for c in ("teacher", "student", "method") if c in rows]
    other = _varying_others(summary, rows)
    panels = []
    for key, part in rows.groupby(first + other, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        if len(part) < 2 or part["T"].nunique() < 2 and part["w2"].nunique() < 2:
            continue
        named = dict(zip(first + other, key))
        title = f"{named.get('teacher')} → {named.get('student')}\n{named.get('method')}"
        title += "".join(f", {c}={_show(named[c])}" for c in other)
        panels.append((title, part))
    return panels


@FIGURES.register("heatmap_delta_top1")
def heatmap_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Δ top-1 over the temperature × soft-weight grid, one panel per teacher/student pair.

    Values (percentage points against the same student alone) are written in
    the cells; one diverging colour scale, centred on zero, for all panels.
    """
    panels = _heatmap_panels(summary)
    if not panels:
        return None
    vmax = max(float(p["delta_top1_mean"].abs().max()) for _, p in panels) or 1.0
    with plt.rc_context(STYLE):
        n_w = max(p["w2"].nunique() for _, p in panels)
        fig, axes = _axes(len(panels), 0.9 + 0.32 * n_w + 0.3)
        image = None
        for ax, (title, part) in zip(axes, panels):
            grid = part.pivot_table(index="w2", columns="T", values="delta_top1_mean")
            image = ax.imshow(
                grid.to_numpy(),
                cmap=HEATMAP_CMAP,
                vmin=-vmax,
                vmax=vmax,
                origin="lower",
                aspect="auto",
            )
            for (i, j), v in np.ndenumerate(grid.to_numpy()):
                if not np.isnan(v):
                    ax.text(
                        j,
                        i,
                        f"{v:+.2f}".replace("-", "\u2212"),
                        ha="center",
                        va="center",
                        fontsize=6.5,
                        color="white" if abs(v) > 0.6 * vmax else "black",
                    )
            ax.set_xticks(range(grid.shape[1]), [f"{t:g}" for t in grid.columns])
            ax.set_yticks(range(grid.shape[0]), [f"{w:g}" for w in grid.index])
            ax.set_xlabel("temperature T")
            ax.set_ylabel("soft weight w2")
            ax.set_title(title, fontsize=7)
            ax.spines[:].set_visible(False)
            ax.tick_params(length=0)
        fig.colorbar(image, ax=axes, label="Δ top-1 (pp)", shrink=0.9, aspect=15)
        return fig


@FIGURES.register("methods")
def methods_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Δ top-1 over the student alone per method (bars, ± std over seeds) for each pair.

    The student alone is the zero line; the teacher's lead over the student alone
    is a dotted segment over each pair, so a bar reaching it closes the gap.
    """
    sel = chosen_on_validation(summary)
    rows = sel[(sel["method"] != BASELINE)].dropna(subset=["delta_top1_mean"])
    if rows.empty:
        return None
    styles = method_styles(summary)
    methods = sorted(rows["method"].unique())
    pairs = sorted(rows.groupby(["teacher", "student"], dropna=False).groups)
    several_teachers = rows["teacher"].nunique() > 1
    width = 0.8 / len(methods)
    with plt.rc_context(STYLE):
        one_col = len(pairs) <= 2
        fig, ax = plt.subplots(
            figsize=(ONE_COLUMN_IN if one_col else TWO_COLUMN_IN, 2.4), layout="constrained"
        )
        ax.axhline(0, color=BASELINE_COLOR, linewidth=1, label="student alone", zorder=1)
        ticks = []
        for i, (teacher, student) in enumerate(pairs):
            part = rows[(rows["teacher"] == teacher) & (rows["student"] == student)]
            for j, method in enumerate(methods):
                r = part[part["method"] == method]
                if r.empty:
                    continue
                ax.bar(
                    i - 0.4 + width * (j + 0.5),
                    r["delta_top1_mean"].iloc[0],
                    width * 0.9,
                    yerr=_std(r, "delta_top1_std"),
                    color=styles[method]["color"],
                    hatch=styles[method]["hatch"],
                    edgecolor="white",
                    label=method,
                    zorder=2,
                    error_kw={"elinewidth": 0.8},
                )
            alone = part["alone_top1_mean"].iloc[0]
            teacher_top1 = (
                part["teacher_top1_mean"].iloc[0] if "teacher_top1_mean" in part else np.nan
            )
            if not np.isnan(teacher_top1) and not np.isnan(alone):
                ax.hlines(
                    teacher_top1 - alone,
                    i - 0.45,
                    i + 0.45,
                    label="teacher" if i == 0 else None,
                    zorder=3,
                    **TEACHER_STYLE,
                )
            lines = [student] + ([f"from {teacher}"] if several_teachers else [])
            lines += [] if np.isnan(alone) else [f"alone {alone:.1f}%"]
            ticks.append("\n".join(lines))
        # one line per fact keeps labels narrow; many pairs still need a slant
        many = len(pairs) > 6
        ax.set_xticks(
            range(len(pairs)), ticks, rotation=30 if many else 0, ha="right" if many else "center"
        )
        ax.set_ylabel("Δ top-1 vs student alone (pp)")
        _legend_below(fig, [ax], ["student alone", *methods, "teacher"])
        return fig


@FIGURES.register("top1_vs_params")
def size_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Student top-1 against its parameters (log), one line per method, per architecture.

    Only for size ladders: an architecture (`student_name`) trained at two or
    more sizes. Teachers are horizontal reference lines.
    """
    if not (_has(summary, "params_m_mean") and "student_name" in summary):
        return None
    sel = chosen_on_validation(summary).dropna(subset=["top1_mean", "params_m_mean"])
    families = [
        (name, rows)
        for name, rows in sel.groupby("student_name")
        # sizes compared to 6 significant figures: a mean of equal counts is not a new size
        if rows["params_m_mean"].map(lambda v: f"{v:.6g}").nunique() >= 2
    ]
    if not families:
        return None
    styles = method_styles(summary)
    with plt.rc_context(STYLE):
        fig, axes = _axes(len(families), 2.4, sharey=True)
        for ax, (name, rows) in zip(axes, families):
            for method in [BASELINE, *sorted(set(rows["method"]) - {BASELINE})]:
                line = rows[rows["method"] == method].sort_values("params_m_mean")
                if line.empty:
                    continue
                st = styles[method]
                ax.errorbar(
                    line["params_m_mean"],
                    line["top1_mean"],
                    yerr=_std(line, "top1_std"),
                    marker=st["marker"],
                    color=st["color"],
                    linewidth=1,
                    elinewidth=0.8,
                    label=_label(method),
                )
            for k, (teacher, top1) in enumerate(_teachers(rows)):
                style = {**TEACHER_STYLE, "linestyle": TEACHER_DASHES[k % len(TEACHER_DASHES)]}
                ax.axhline(top1, label=f"teacher {teacher} ({top1:.2f}%)", **style)
            ax.set_xscale("log")
            _plain_log_ticks(ax.xaxis)
            ax.set_xlabel("student parameters (M)")
            ax.set_title(name)
        axes[0].set_ylabel("student top-1 (%)")
        _legend_below(fig, axes, [_label(m) for m in styles])
        return fig


@FIGURES.register("top1_vs_temperature")
def temperature_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Student top-1 against temperature, one line per method and soft weight w2 (and any
    other varied setting), one panel per teacher/student pair.

    The same student trained alone is a dashed horizontal line.
    """
    if not (_has(summary, "T") and "w2" in summary):
        return None
    rows = summary[(summary["method"] != BASELINE) & summary["T"].notna()]
    rows = rows.dropna(subset=["top1_mean"])
    # only methods whose temperature was varied have a line to draw
    n_t = rows.groupby(["teacher", "student", "method"])["T"].transform("nunique")
    rows = rows[n_t >= 2]
    if rows.empty:
        return None
    line_keys = ["method", "w2", *_varying_others(summary, rows)]
    names = sorted(rows.groupby(line_keys, dropna=False).groups)
    several = rows["method"].nunique() > 1
    pairs = sorted(rows.groupby(["teacher", "student"]).groups)
    several_teachers = rows["teacher"].nunique() > 1
    labels = _line_labels(names, line_keys, several)
    with plt.rc_context(STYLE):
        fig, axes = _axes(len(pairs), 2.4, max_cols=3)
        for ax, (teacher, student) in zip(axes, pairs):
            mine = rows[(rows["teacher"] == teacher) & (rows["student"] == student)]
            for key, line in mine.groupby(line_keys, dropna=False, sort=True):
                i = names.index(key)
                st = series_style(i)
                line = line.sort_values("T")
                # dodge the lines a little so their error bars do not sit on each other
                dodge = 2 ** (0.05 * (i - (len(names) - 1) / 2))
                ax.errorbar(
                    line["T"] * dodge,
                    line["top1_mean"],
                    yerr=_std(line, "top1_std"),
                    marker=st["marker"],
                    color=st["color"],
                    linewidth=1,
                    elinewidth=0.8,
                    label=labels[i],
                )
            alone = summary[(summary["student"] == student) & (summary["method"] == BASELINE)]
            if _has(alone, "top1_mean"):
                ax.axhline(
                    alone["top1_mean"].iloc[0],
                    color=BASELINE_COLOR,
                    linestyle="--",
                    linewidth=1,
                    label="student alone",
                )
            ax.set_xscale("log", base=2)
            ts = sorted(mine["T"].unique())
            ax.set_xticks(ts, [f"{t:g}" for t in ts])
            ax.minorticks_off()
            ax.set_title(f"{teacher} → {student}" if several_teachers else student)
            ax.set_xlabel("temperature T")
        axes[0].set_ylabel("student top-1 (%)")
        _legend_below(fig, axes, order=[*labels, "student alone"])
        return fig


def _line_labels(names: list[tuple], keys: list[str], several: bool) -> list[str]:
    out = []
    for key in names:
        named = dict(zip(keys, key))
        label = (f"{named['method']}, " if several else "") + f"w2={named['w2']:g}"
        out.append(label + "".join(f", {c}={_show(named[c])}" for c in keys[2:]))
    return out


@FIGURES.register("student_vs_teacher")
def capacity_gap_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Student top-1 against its teacher's top-1, one line per student, one panel per method.

    The capacity-gap question (Mirzadeh et al., 2020): does a better teacher
    make a better student? Each student alone is a dashed line of its colour.
    Self-contained (summary columns only), so it can move with the report code.
    Drawn only when some student was distilled from two or more teachers.
    """
    need = ("teacher", "teacher_top1_mean", "top1_mean", "student", "method")
    if not all(_has(summary, c) for c in need):
        return None
    sel = chosen_on_validation(summary)
    kd = sel[sel["method"] != BASELINE].dropna(subset=["teacher", "teacher_top1_mean"])
    methods = [
        m
        for m, rows in kd.groupby("method")
        if rows.groupby("student")["teacher"].nunique().max() >= 2
    ]
    if not methods:
        return None
    students = sorted(kd["student"].unique())
    alone = sel[sel["method"] == BASELINE].set_index("student")["top1_mean"]
    with plt.rc_context(STYLE):
        fig, axes = _axes(len(methods), 2.6, sharey=True)
        for ax, method in zip(axes, methods):
            rows = kd[kd["method"] == method]
            for i, student in enumerate(students):
                line = rows[rows["student"] == student].sort_values("teacher_top1_mean")
                if line.empty:
                    continue
                st = series_style(i)
                ax.errorbar(
                    line["teacher_top1_mean"],
                    line["top1_mean"],
                    yerr=_std(line, "top1_std"),
                    marker=st["marker"],
                    color=st["color"],
                    linewidth=1,
                    elinewidth=0.8,
                    label=student,
                )
                for _, r in line.iterrows():
                    ax.annotate(
                        str(r["teacher"]),
                        (r["teacher_top1_mean"], r["top1_mean"]),
                        textcoords="offset points",
                        xytext=(2, 3),
                        fontsize=5,
                        color="0.35",
                    )
                if student in alone.index:
                    ax.axhline(float(alone[student]), color=st["color"], linestyle="--", lw=0.8)
            ax.set_xlabel("teacher top-1 (%)")
            ax.set_title(f"{_label(method)} (dashed: student alone)")
        axes[0].set_ylabel("student top-1 (%)")
        _legend_below(fig, axes)
        return fig
