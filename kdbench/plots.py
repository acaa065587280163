"""Paper-ready figures from a sweep summary (PDF + PNG, byte-identical reruns)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

ONE_COLUMN_IN = 3.3
TWO_COLUMN_IN = 6.9
# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]

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
    "svg.hashsalt": "kdbench",
}
# No creation dates in the files, so the same records give the same bytes.
_METADATA = {
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None},
    "png": {"Software": None},
}


def save(fig: plt.Figure, stem: Path) -> dict[str, Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = {}
    for ext in ("pdf", "png"):
        path = stem.with_suffix(f".{ext}")
        fig.savefig(path, dpi=200, bbox_inches="tight", metadata=_METADATA[ext])
        paths[f"{stem.name}.{ext}"] = path
    plt.close(fig)
    return paths


def temperature_figure(summary: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Student top-1 against temperature, one line per soft weight w2, one panel per student.

    The same student trained alone is a dashed horizontal line.
    """
    kd = summary[summary["method"] == "kd"] if "T" in summary else summary.iloc[0:0]
    students = sorted(summary["student"].dropna().unique())
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(
            1,
            max(1, len(students)),
            figsize=(ONE_COLUMN_IN * max(1, min(len(students), 2)), 2.4),
            squeeze=False,
        )
        for ax, student in zip(axes[0], students):
            rows = kd[kd["student"] == student]
            for i, (w2, line) in enumerate(rows.groupby("w2")):
                line = line.sort_values("T")
                ax.errorbar(
                    line["T"],
                    line["top1_mean"],
                    yerr=line["top1_std"].fillna(0),
                    marker="o",
                    markersize=3,
                    capsize=2,
                    color=PALETTE[i % len(PALETTE)],
                    label=f"KD, w2={w2:g}",
                )
            alone = summary[(summary["student"] == student) & (summary["method"] == "none")]
            if not alone.empty:
                ax.axhline(
                    alone["top1_mean"].iloc[0],
                    color="0.3",
                    linestyle="--",
                    linewidth=1,
                    label="student alone",
                )
            if not rows.empty:
                ax.set_xscale("log", base=2)
                ts = sorted(rows["T"].unique())
                ax.set_xticks(ts, [f"{t:g}" for t in ts])
            ax.set_title(student)
            ax.set_xlabel("temperature T")
            ax.set_ylabel("student top-1 (%)")
            ax.legend(frameon=False)
        fig.tight_layout()
        return save(fig, folder / "top1_vs_temperature")
