"""Top-1 against measured latency and FLOPs, with the Pareto front."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from kdbench.efficiency.columns import TORCH_BACKEND, latency_column
from kdbench.report.figures.registry import FIGURES
from kdbench.report.figures.style import (
    FRONT_POINT_STYLE,
    FRONT_STYLE,
    STYLE,
    TEACHER_DASHES,
    TEACHER_STYLE,
    TOP1_CI_LABEL,
    bulk_limits,
    has,
    legend_below,
    mark_outlier,
    method_label,
    method_styles,
    panel_grid,
    pareto_front,
    place_labels,
    plain_log_ticks,
    std_or_zero,
    teachers,
)
from kdbench.report.stats import chosen_on_validation


@FIGURES.register("pareto")
def pareto_figure(summary: pd.DataFrame) -> plt.Figure | None:
    """Student top-1 against latency (log) and against MFLOPs, with the Pareto front, and
    the int8 model's top-1 against its own latency (what is deployed).

    One point per student and method (setting chosen on validation), mean and
    95 % CI of top-1 over seeds; the students are named beside their best
    point, methods by colour and marker; teachers are horizontal reference lines
    (their cost is not recorded). One architecture has one latency (the report's
    `latency.shared_latency`), so its points share an x. The front is a thick coloured
    line; the top-1 axis spans the bulk of the points (`style.bulk_limits`), a point far
    below it (a failed run) is marked at the edge with its value.
    """
    sel = chosen_on_validation(summary).dropna(subset=["top1_mean"])
    backends = ("ort_fp32", TORCH_BACKEND)
    latency = [latency_column("latency_ms_p50", "bs1", b) + "_mean" for b in backends]
    names = {"ort_fp32": "ONNX Runtime fp32", TORCH_BACKEND: "torch fp32"}
    # (x column, x label, log x, accuracy column, its CI column, title)
    panels = []
    for col, backend in zip(latency, backends):
        if has(sel, col):
            label = f"latency, batch 1, {names[backend]} (ms)"
            panels.append((col, label, True, "top1", ""))
            break
    if has(sel, "mflops_mean"):
        spread = sel["mflops_mean"].max() / max(sel["mflops_mean"].min(), 1e-12)
        panels.append(("mflops_mean", "forward MFLOPs", spread > 10, "top1", ""))
    int8 = latency_column("latency_ms_p50", "bs1", "ort_int8") + "_mean"
    if has(sel, int8) and has(sel, "int8_top1_mean"):  # the deployed model: int8 on both axes
        label = "latency, batch 1, ONNX Runtime int8 (ms)"
        panels.append((int8, label, True, "int8_top1", "int8 model: its own top-1"))
    if not panels or len(sel) < 2:
        return None
    styles = method_styles(summary)
    teacher_lines = teachers(summary)
    accs = {acc for *_, acc, _ in panels}
    values = np.concatenate([sel[f"{a}_mean"].to_numpy() for a in accs])
    spans = np.concatenate([std_or_zero(sel, f"{a}_ci95") for a in accs])
    limits, _ = bulk_limits(values, spans, keep=tuple(t for _, t in teachers(summary)))
    with plt.rc_context(STYLE):
        fig, axes = panel_grid(len(panels), 2.5, sharey=True)
        for ax, (col, xlabel, log, acc, title) in zip(axes, panels):
            data = sel.dropna(subset=[col, f"{acc}_mean"])
            x, y = data[col].to_numpy(), data[f"{acc}_mean"].to_numpy()
            front = pareto_front(x, y)
            ax.step(x[front], y[front], where="post", zorder=1, label="Pareto front", **FRONT_STYLE)
            # a disc behind every front point: a front of one point (one model both fastest
            # and most accurate) has no line to draw, and would otherwise be invisible
            ax.scatter(x[front], y[front], zorder=1, **FRONT_POINT_STYLE)
            acc_values = data[f"{acc}_mean"]
            off = pd.Series(False, index=data.index)
            if limits is not None:
                off = (acc_values < limits[0]) | (acc_values > limits[1])
            far = data.index[off]
            for i in far:
                value = data.at[i, f"{acc}_mean"]
                label = f"{method_label(data.at[i, 'method'])} {value:.1f}%"
                mark_outlier(ax, data.at[i, col], value, limits, label)
            for method, rows in data.drop(index=far).groupby("method", sort=False):
                st = styles[method]
                ax.errorbar(
                    rows[col],
                    rows[f"{acc}_mean"],
                    yerr=std_or_zero(rows, f"{acc}_ci95"),
                    fmt=st["marker"],
                    color=st["color"],
                    markeredgecolor="white",
                    markeredgewidth=0.4,
                    elinewidth=0.8,
                    zorder=3,
                    label=method_label(method),
                )
            for k, (teacher, top1) in enumerate(teacher_lines):
                label = f"teacher {teacher} ({top1:.2f}%)"
                style = {**TEACHER_STYLE, "linestyle": TEACHER_DASHES[k % len(TEACHER_DASHES)]}
                ax.axhline(top1, zorder=0, label=label, **style)
            texts = []
            for student, rows in data.drop(index=far).groupby("student"):
                top = rows.loc[rows[f"{acc}_mean"].idxmax()]
                texts.append(
                    ax.annotate(
                        student,
                        (top[col], top[f"{acc}_mean"]),
                        xytext=(6, 0),  # beside the column: one architecture, one x
                        textcoords="offset points",
                        ha="left",
                        va="center",
                        fontsize=6.5,
                    )
                )
            ax.margins(x=0.15, y=0.12)
            if log:
                ax.set_xscale("log")
                plain_log_ticks(ax.xaxis)
            ax.set_xlabel(xlabel)
            if title:
                ax.set_title(title)
            if limits is not None:
                ax.set_ylim(*limits)
            fig.canvas.draw()
            place_labels(ax, texts, data.drop(index=far)[[col, f"{acc}_mean"]].to_numpy())
        axes[0].set_ylabel(TOP1_CI_LABEL)
        order = [method_label(m) for m in styles]
        legend_below(fig, axes, order + ["Pareto front"])
        return fig
