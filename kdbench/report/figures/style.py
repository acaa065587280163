"""The house style of kdbench figures, and the helpers every figure shares.

Widths of one (3.3 in) or two (6.9 in) paper columns, 7-8 pt text, the
Okabe-Ito palette plus a marker per method (colour-blind and greyscale safe),
TrueType fonts in the PDF, and no dates in the files (byte-identical reruns).
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker as mticker  # noqa: E402
import matplotlib.transforms as mtransforms  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from kdbench.report.vocab import BASELINE, PARTS  # noqa: E402

ONE_COLUMN_IN = 3.3
TWO_COLUMN_IN = 6.9
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
HATCHES = ["", "////", "....", "xxxx"]
BASELINE_COLOR = "0.45"
TEACHER_STYLE = {"color": "black", "linestyle": ":", "linewidth": 1.0}
TEACHER_DASHES = [":", "-.", "--", (0, (1, 3))]  # one per teacher where several are drawn
# Error bars of every figure are 95 % t-intervals over seeds; the axis says so.
TOP1_CI_LABEL = "student top-1 (%)\nmean ± 95 % CI over seeds"
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


def method_label(method: str) -> str:
    return "student alone" if method == BASELINE else method


def has(df: pd.DataFrame, col: str) -> bool:
    return col in df and df[col].notna().any()


def std_or_zero(df: pd.DataFrame, col: str) -> np.ndarray:
    std = df[col] if col in df else pd.Series(np.nan, index=df.index)
    return std.fillna(0).to_numpy()


def ci_line(ax: plt.Axes, x: pd.Series, rows: pd.DataFrame, style: dict, label: str) -> None:
    """A line of mean top-1 over `x` with 95 % CI error bars over seeds, in `style`'s colour
    and marker: the series of the size, temperature and capacity-gap figures."""
    ax.errorbar(
        x,
        rows["top1_mean"],
        yerr=std_or_zero(rows, "top1_ci95"),
        marker=style["marker"],
        color=style["color"],
        linewidth=1,
        elinewidth=0.8,
        label=label,
    )


def teachers(summary: pd.DataFrame) -> list[tuple[str, float]]:
    """(teacher, its top-1) for every teacher in the summary."""
    if not has(summary, "teacher_top1_mean"):
        return []
    rows = summary.dropna(subset=["teacher", "teacher_top1_mean"])
    return [(t, float(g["teacher_top1_mean"].mean())) for t, g in rows.groupby("teacher")]


def panel_grid(n: int, height: float, max_cols: int = 3, **kw) -> tuple[plt.Figure, list[plt.Axes]]:
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


def plain_log_ticks(axis) -> None:
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


def legend_below(fig: plt.Figure, axes: list[plt.Axes], order: list[str] | None = None) -> None:
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


def place_labels(ax: plt.Axes, texts: list, avoid: np.ndarray | None = None) -> None:
    """Move annotations up, a step at a time, until none overlaps one placed before it or a
    marker (`avoid`: (n, 2) data coordinates of the points drawn); one label per position."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    points = [] if avoid is None or not len(avoid) else ax.transData.transform(avoid)
    half = 4.0  # pixels around a marker's centre
    marks = [
        mtransforms.Bbox.from_extents(x - half, y - half, x + half, y + half) for x, y in points
    ]
    placed: list = []
    for text in texts:
        for _ in range(12):
            box = text.get_window_extent(renderer).expanded(1.05, 1.1)
            if not any(box.overlaps(other) for other in placed + marks):
                break
            dx, dy = text.xyann
            text.xyann = (dx, dy + 5)
        placed.append(text.get_window_extent(renderer))


def show_value(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def varying_others(summary: pd.DataFrame, rows: pd.DataFrame) -> list[str]:
    """Settings besides identity, T and the loss weights that vary among `rows` (e.g. `beta`).

    `w1` counts only where it is not fixed by `w2` (the w1/w2 form of the weights).
    """
    fixed = {"data", "teacher", "student", "method", "T", "w2", "alpha", "w1", "seed"}
    keys = list(summary.columns[: list(summary.columns).index("n")])
    other = [c for c in keys if c not in fixed and c not in PARTS]
    if "w1" in rows and (rows.groupby("w2")["w1"].nunique() > 1).any():
        other.append("w1")
    return [c for c in other if rows[c].nunique(dropna=False) > 1]


# The settings a series is named and ordered by where no validation split chose one per method
SETTINGS = ("T", "w2", "alpha")


def setting_labels(summary: pd.DataFrame, rows: pd.DataFrame, within: list[str]) -> pd.Series:
    """Each row's series: its method, plus the settings that vary among a method's rows of
    one `within` group, where nothing chose one (no validation split, e.g. Hinton's MNIST
    grid trains on all 60,000 images): `kd`, or `kd T=2`, `kd T=20`. The same settings name
    every row, so rows of one setting carry one label across groups (a line across sizes)."""
    keys = [c for c in SETTINGS if c in rows]
    keys += [c for c in varying_others(summary, rows) if c not in keys]
    groups = rows.groupby([*within, "method"], dropna=False)
    shown = [c for c in keys if (groups[c].nunique(dropna=False) > 1).any()]
    return pd.Series(
        [
            " ".join([r["method"], *(f"{c}={show_value(r[c])}" for c in shown)])
            for _, r in rows.iterrows()
        ],
        index=rows.index,
        dtype=object,
    )


# The Pareto front: thick, translucent, and in a colour no method has, so it reads at a glance.
FRONT_STYLE = {"color": "#E8000B", "alpha": 0.35, "linewidth": 4.5, "solid_capstyle": "round"}
FRONT_POINT_STYLE = {"color": "#E8000B", "alpha": 0.35, "s": 90, "linewidths": 0}
# A value further than this many interquartile ranges outside the middle half is an outlier.
OUTLIER_IQR = 3.0


def bulk_limits(
    values: np.ndarray, spans: np.ndarray, keep: tuple[float, ...] = (), floor: float = 1.0
) -> tuple[tuple[float, float] | None, np.ndarray]:
    """((low, high) axis limits from the bulk of the values, or None; mask of the outliers).

    A value outside [q1 - 3 IQR, q3 + 3 IQR] (the IQR at least `floor`, so a tight bulk
    does not make ordinary values outliers) is an outlier; the limits then cover the
    others, with their error spans `spans`, and the values in `keep` (the zero line, a
    reference). With fewer than four values, or no outlier, there are no limits: the
    axis scales itself as usual.
    """
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    outliers = np.zeros(len(values), dtype=bool)
    if finite.sum() < 4:
        return None, outliers
    q1, q3 = np.percentile(values[finite], [25, 75])
    iqr = max(q3 - q1, floor)
    outliers = finite & ((values < q1 - OUTLIER_IQR * iqr) | (values > q3 + OUTLIER_IQR * iqr))
    if not outliers.any():
        return None, outliers
    bulk = finite & ~outliers
    spans = np.nan_to_num(np.asarray(spans, dtype=float))
    low = min([*(values[bulk] - spans[bulk]), *keep])
    high = max([*(values[bulk] + spans[bulk]), *keep])
    pad = 0.12 * (high - low or 1.0)
    return (low - pad, high + pad), outliers


def mark_outlier(
    ax: plt.Axes,
    x: float,
    value: float,
    limits: tuple[float, float],
    text: str | None = None,
    in_bar: bool = False,
) -> float:
    """Write an outlier's value (or `text`) at the axis edge it passes, with an arrow beyond
    the edge; returns the edge value. `in_bar`: the text runs up the (clipped) bar on a
    white ground, so it never spills over the neighbouring bars."""
    low, high = limits
    up = value > high
    edge = high if up else low
    where = {"xytext": (4, -3 if up else 3), "ha": "left", "va": "top" if up else "bottom"}
    if in_bar:
        where = {"xytext": (0, -4 if up else 4), "ha": "center", "va": "top" if up else "bottom"}
        where |= {"rotation": 90, "bbox": {"boxstyle": "round,pad=0.2", "fc": "white", "lw": 0}}
    ax.annotate(
        text or f"{value:+.1f} pp",
        (x, edge),
        textcoords="offset points",
        fontsize=6.5,
        fontweight="bold",
        **where,
    )
    marker = "^" if up else "v"
    ax.plot([x], [edge], marker=marker, color="black", markersize=4, clip_on=False, zorder=4)
    return edge
