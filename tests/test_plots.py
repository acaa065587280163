"""Figures from hand-made records: the right axes and series, skipped without data, same bytes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.collections import PathCollection
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.image import AxesImage

from kdbench.report import summarize
from kdbench.report.figures import FIGURES, write_figures
from kdbench.report.figures.capacity_gap import capacity_gap_figure
from kdbench.report.figures.heatmap import heatmap_figure
from kdbench.report.figures.methods import methods_figure
from kdbench.report.figures.pareto import pareto_figure
from kdbench.report.figures.size import size_figure
from kdbench.report.figures.style import method_styles, pareto_front, plain_log_ticks, save
from kdbench.report.figures.temperature import temperature_figure

from .test_report import frame, make_record

WIDTHS = {0.25: 0.002, 0.5: 0.008, 1.0: 0.03}  # a size ladder: params (M) per width


def ladder_summary():
    """cnn at three widths x (alone, kd at T in {1, 4} x alpha in {0.5, 0.9}, dkd) x 2 seeds."""
    recs = []
    for w, params in WIDTHS.items():
        student = f"cnn-w{w:g}"
        size = {"params_m": params, "mflops": 10 * params, "latency_ms": 0.02 + params}
        for s in range(2):
            base = 80 + 10 * w + s
            recs.append(make_record(student, "none", s, base, new_efficiency=True, **size))
            for T in (1.0, 4.0):
                for a in (0.5, 0.9):
                    top1 = base + T * a / 2
                    recs.append(
                        make_record(
                            student, "kd", s, top1, T=T, alpha=a, new_efficiency=True, **size
                        )
                    )
            recs.append(make_record(student, "dkd", s, base + 1.5, new_efficiency=True, **size))
    return summarize(frame(recs))


def errorbar_series(ax):
    return [c for c in ax.containers if isinstance(c, ErrorbarContainer)]


@pytest.fixture(scope="module")
def summary():
    return ladder_summary()


def test_pareto_front_keeps_points_nothing_beats():
    import numpy as np

    x = np.array([1.0, 2.0, 3.0, 2.5, 0.5])
    y = np.array([70.0, 75.0, 74.0, 80.0, 60.0])
    assert list(pareto_front(x, y)) == [4, 0, 1, 3]


def test_pareto_has_latency_and_flops_panels_with_one_series_per_method(summary):
    fig = pareto_figure(summary)
    latency, flops = fig.axes[:2]
    assert latency.get_xlabel() == "latency, batch 1, ONNX Runtime fp32 (ms)"
    assert latency.get_xscale() == "log"
    assert flops.get_xlabel() == "forward MFLOPs"
    assert latency.get_ylabel() == "student top-1 (%)\nmean ± 95 % CI over seeds"
    for ax in (latency, flops):
        series = errorbar_series(ax)
        assert sorted(c.get_label() for c in series) == ["dkd", "kd", "student alone"]
        # three students per method: one point each (the setting chosen on validation)
        assert all(len(c.lines[0].get_xdata()) == 3 for c in series)
        labels = {t.get_text() for t in ax.texts}
        assert labels == {"cnn-w0.25", "cnn-w0.5", "cnn-w1"}
        front = [line for line in ax.lines if line.get_label() == "Pareto front"]
        assert len(front) == 1
        assert any(line.get_label().startswith("teacher cnn-w2") for line in ax.lines)
    plt.close(fig)


def test_heatmap_has_one_annotated_panel_per_pair(summary):
    fig = heatmap_figure(summary)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 3  # one per student (one teacher, one method with a T axis)
    for ax in panels:
        (image,) = [a for a in ax.get_children() if isinstance(a, AxesImage)]
        assert image.get_array().shape == (2, 2)  # w2 x T
        assert len(ax.texts) == 4
        assert ax.get_xlabel() == "temperature T" and ax.get_ylabel() == "soft weight w2"
    # Δ at T=4, w2=0.9 is 4*0.9/2 = 1.8 over the student alone, paired by seed
    assert "+1.80" in {t.get_text() for t in panels[0].texts}
    plt.close(fig)


def test_methods_has_one_bar_per_method_and_pair(summary):
    fig = methods_figure(summary)
    (ax,) = fig.axes
    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert sorted(b.get_label() for b in bars) == ["dkd"] * 3 + ["kd"] * 3
    heights = sorted(round(p.get_height(), 6) for b in bars for p in b.patches)
    assert heights[:3] == [1.5] * 3 and heights[3:] == [1.8] * 3
    assert ax.get_ylabel() == "Δ top-1 vs student alone (pp)\nmean ± 95 % CI over seeds"
    labels = ax.get_legend_handles_labels()[1]
    assert "student alone" in labels and "teacher" in labels
    plt.close(fig)


def test_size_has_one_line_per_method_over_params(summary):
    fig = size_figure(summary)
    (ax,) = [a for a in fig.axes if a.get_visible()]
    assert ax.get_xlabel() == "student parameters (M)" and ax.get_xscale() == "log"
    series = errorbar_series(ax)
    assert sorted(c.get_label() for c in series) == ["dkd", "kd", "student alone"]
    for c in series:
        assert sorted(c.lines[0].get_xdata()) == sorted(WIDTHS.values())
    plt.close(fig)


def test_temperature_has_one_line_per_method_and_weight(summary):
    fig = temperature_figure(summary)
    axes = [a for a in fig.axes if a.get_visible()]
    assert len(axes) == 3
    assert sorted(c.get_label() for c in errorbar_series(axes[0])) == ["w2=0.5", "w2=0.9"]
    plt.close(fig)


def test_figures_without_data_are_skipped():
    # one student, no temperature axis, no ladder, no method but the student alone + kd
    recs = [make_record("cnn-w0.5", "none", s, 80.0 + s) for s in range(2)]
    recs += [make_record("cnn-w0.5", "kd", s, 82.0 + s) for s in range(2)]
    s = summarize(frame(recs))
    assert heatmap_figure(s) is None
    assert temperature_figure(s) is None
    assert size_figure(s) is None
    assert methods_figure(s) is not None
    only_alone = summarize(frame(recs[:2]))
    assert pareto_figure(only_alone) is None and methods_figure(only_alone) is None


def test_every_figure_writes_pdf_and_png_with_the_same_bytes_twice(summary, tmp_path):
    first = write_figures(summary, tmp_path / "a")
    second = write_figures(summary, tmp_path / "b")
    # one teacher: no capacity-gap figure; no metrics.csv files: no curves; no pruned
    # students: no compression figure
    drawn = [n for n in FIGURES if n not in ("student_vs_teacher", "curves", "compression")]
    assert sorted(first) == sorted(f"{name}.{ext}" for name in drawn for ext in ("pdf", "png"))
    for name, path in first.items():
        data = path.read_bytes()
        assert data == second[name].read_bytes(), name
        if name.endswith(".pdf"):
            assert data.startswith(b"%PDF") and b"/CIDFontType2" in data  # TrueType embedded
            assert b"CreationDate" not in data
        else:
            assert data.startswith(b"\x89PNG") and b"Software" not in data


def test_widths_are_paper_columns(summary, tmp_path):
    for fn, width in ((pareto_figure, 6.9), (heatmap_figure, 6.9)):
        fig = fn(summary)
        assert fig.get_figwidth() == pytest.approx(width)
        plt.close(fig)
    recs = [make_record("cnn-w0.5", "none", 0, 80.0), make_record("cnn-w0.5", "kd", 0, 82.0)]
    fig = methods_figure(summarize(frame(recs)))
    assert fig.get_figwidth() == pytest.approx(3.3)
    save(fig, tmp_path / "m")
    assert (tmp_path / "m.pdf").is_file() and (tmp_path / "m.png").is_file()


def test_several_data_sets_get_their_own_files(tmp_path):
    recs = []
    for data in ("digits", "synthetic"):
        recs += [make_record("cnn-w0.5", "none", s, 80.0 + s, data=data) for s in range(2)]
        recs += [make_record("cnn-w0.5", "kd", s, 82.0 + s, data=data) for s in range(2)]
    paths = write_figures(summarize(frame(recs)), tmp_path)
    assert {"methods_digits.png", "methods_synthetic.png"} <= set(paths)


def test_one_size_is_not_a_ladder_even_with_float_noise_in_the_means():
    recs = [make_record("cnn-w0.5", "none", s, 80.0 + s, params_m=0.001702) for s in range(3)]
    recs += [make_record("cnn-w0.5", "kd", 0, 82.0, params_m=0.001702)]
    s = summarize(frame(recs))
    assert s["params_m_mean"].nunique() == 2  # 0.0017019999999999997 vs 0.001702
    assert size_figure(s) is None


@pytest.mark.parametrize(("xs", "most"), [([0.0045, 0.006, 0.007], 4), ([0.01, 0.5, 3.0], 12)])
def test_log_latency_axis_labels_do_not_crowd(xs, most):
    """Under a decade, the log locator's linear fallback labelled every 0.0005 ms (8 labels)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.errorbar(xs, [95, 96, 97])
    ax.margins(x=0.15)
    ax.set_xscale("log")
    plain_log_ticks(ax.xaxis)
    fig.canvas.draw()
    labels = [t.get_text() for t in ax.get_xticklabels() if t.get_text()]
    plt.close(fig)
    assert 2 <= len(labels) <= most
    assert all("10^" not in label and "×" not in label for label in labels)


def test_method_styles_stay_distinct_past_the_palette():
    """The method zoo has 9 methods and the palette 8 colours: none may look alike."""
    import pandas as pd

    names = ["none"] + [f"m{i:02d}" for i in range(12)]
    styles = method_styles(pd.DataFrame({"method": names}))
    assert len(styles) == 13
    assert len({(s["color"], s["hatch"]) for s in styles.values()}) == 13  # bars
    assert len({(s["color"], s["marker"]) for s in styles.values()}) == 13  # lines, points


def test_temperature_lines_stay_distinct_past_the_palette():
    """Ten weights give ten lines in one panel: no two may share colour and marker."""
    weights = [round(0.05 + 0.09 * k, 2) for k in range(10)]
    recs = [make_record("cnn-w0.5", "none", s, 90.0) for s in range(2)]
    recs += [
        make_record("cnn-w0.5", "kd", s, 90.0 + a * T, T=T, alpha=a)
        for s in range(2)
        for T in (1.0, 4.0)
        for a in weights
    ]
    fig = temperature_figure(summarize(frame(recs)))
    (ax,) = [a for a in fig.axes if a.get_visible()]
    lines = [c.lines[0] for c in errorbar_series(ax)]
    assert len(lines) == 10
    assert len({(line.get_color(), line.get_marker()) for line in lines}) == 10
    plt.close(fig)


def test_capacity_gap_has_one_line_per_student_over_teacher_top1(tmp_path):
    teachers = {"cnn-w1": 70.0, "resnet8": 75.0, "resnet14": 80.0}
    recs = []
    for student, base in (("cnn-w0.125", 50.0), ("cnn-w0.25", 55.0)):
        for s in range(2):
            recs.append(make_record(student, "none", s, base + s))
            for teacher, t_top1 in teachers.items():
                top1 = base + s + (t_top1 - 70) / 5
                recs.append(
                    make_record(student, "kd", s, top1, teacher=teacher, teacher_top1=t_top1)
                )
    summary = summarize(frame(recs))
    fig = capacity_gap_figure(summary)
    (ax,) = fig.axes
    series = errorbar_series(ax)
    assert len(series) == 2  # one line per student
    xs = sorted(series[0].lines[0].get_xdata())
    assert xs == sorted(teachers.values())  # over the teachers' top-1
    ys = series[0].lines[0].get_ydata()
    assert list(ys) == sorted(ys)  # a better teacher, a better student (as built)
    a = save(fig, tmp_path / "one" / "f")
    b = save(capacity_gap_figure(summary), tmp_path / "two" / "f")
    assert all(a[k].read_bytes() == b[k].read_bytes() for k in a)  # same bytes twice
    # one teacher per student: no capacity question to draw
    one = [r for r in recs if r["config"]["teacher"] in (None, "resnet8")]
    assert capacity_gap_figure(summarize(frame(one))) is None


def test_pareto_adds_the_int8_model_against_its_own_latency(summary):
    """Where int8 latency and int8 top-1 exist, a third panel plots the deployed int8 model."""
    if "int8_top1_mean" not in summary:
        summary = summary.assign(int8_top1_mean=summary["top1_mean"] - 1.0)
    column = "latency_ms_p50_bs1_ort_int8_mean"
    if column not in summary:
        summary = summary.assign(**{column: 0.01})
    fig = pareto_figure(summary)
    int8 = fig.axes[2]
    assert int8.get_xlabel() == "latency, batch 1, ONNX Runtime int8 (ms)"
    ys = [y for c in errorbar_series(int8) for y in c.lines[0].get_ydata()]
    assert ys and set(ys) <= set(summary["int8_top1_mean"])  # the int8 model's own top-1
    plt.close(fig)


# ---------------------------------- issue 27: the bulk stays readable, one x per architecture


def zoo_records():
    """Seven methods within 2 pp of the student alone and one (`at`) 40 pp below it."""
    recs = []
    gains = {"kd": 1.0, "dkd": 1.5, "dist": -0.5, "sp": 0.5, "pkt": -1.0, "rkd": 0.2, "crd": 2.0}
    for seed in (0, 1, 2):
        recs.append(make_record(method="none", seed=seed, top1=90.0 + seed, latency_ms=0.05))
        for i, (m, gain) in enumerate({**gains, "at": -40.0}.items()):
            # each cell's own latency measurement differs (noise), the architecture is one
            lat = 0.05 + 0.002 * ((i + seed) % 5)
            recs.append(make_record(method=m, seed=seed, top1=90.0 + seed + gain, latency_ms=lat))
    return recs


def test_methods_axis_spans_the_bulk_and_marks_the_outlier_with_its_value(tmp_path):
    s = summarize(frame(zoo_records()))
    fig = methods_figure(s)
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    assert -5 < low < -1 and 2 < high < 6  # the bulk's range (CIs of 0 here), not -40
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["-40.0 pp"]  # the outlier, named at the edge with its value
    bars = [p for c in ax.containers if isinstance(c, BarContainer) for p in c.patches]
    assert len(bars) == 8 and min(b.get_height() for b in bars) == pytest.approx(low)
    save(fig, tmp_path / "methods")  # looked at by eye while writing this test


def test_pareto_puts_one_architecture_at_one_x_with_a_visible_front(tmp_path):
    s = summarize(frame(zoo_records()))
    fig = pareto_figure(s)
    ax = fig.axes[0]
    xs = {round(x, 12) for c in errorbar_series(ax) for x in c.lines[0].get_xdata()}
    assert len(xs) == 1  # every cell's latency is the architecture's median
    front = next(line for line in ax.lines if line.get_label() == "Pareto front")
    assert front.get_linewidth() >= 4 and front.get_color() != "0.75"
    # one x: the front is one point, which a line cannot show; a disc marks it
    (disc,) = [c for c in ax.collections if isinstance(c, PathCollection)]
    best = max(y for c in errorbar_series(ax) for y in c.lines[0].get_ydata())
    assert disc.get_offsets().tolist() == [[pytest.approx(xs.pop()), pytest.approx(best)]]
    assert any("at 51.0%" in t.get_text() for t in ax.texts)  # the outlier, at the edge
    save(fig, tmp_path / "pareto")


def test_methods_without_a_validation_split_draw_one_bar_per_setting(tmp_path):
    """Hinton's MNIST grid: kd at four temperatures, no validation split to choose one (the
    figure used to crash on the four rows of one method)."""
    gains = {2.0: 0.5, 4.0: 1.0, 8.0: 1.5, 20.0: 2.0}
    recs = []
    for seed in (0, 1, 2):
        recs.append(make_record(method="none", seed=seed, top1=90.0 + seed))
        for T, gain in gains.items():
            recs.append(make_record(method="kd", T=T, seed=seed, top1=90.0 + seed + gain))
    for r in recs:
        r["training"]["best_val_top1"] = None  # as trainer.select=last writes it
    fig = methods_figure(summarize(frame(recs)))
    ax = fig.axes[0]
    bars = {
        c.get_label(): c.patches[0].get_height()
        for c in ax.containers
        if isinstance(c, BarContainer)
    }
    assert bars == {f"kd T={T:g}": pytest.approx(g) for T, g in gains.items()}
    assert list(bars) == ["kd T=2", "kd T=4", "kd T=8", "kd T=20"]  # by temperature
    save(fig, tmp_path / "methods")


def test_temperature_lines_are_named_by_what_differs_within_a_panel():
    """Hinton's grid: one w2 throughout, two students (one panel each), and in the 2 x 800
    panel a transfer-set line beside the ordinary one; w2 and the student are not repeated."""
    recs = []
    for seed in (0, 1):
        for student in ("mlp-w1", "mlp-w2"):
            for T in (2.0, 20.0):
                recs.append(
                    make_record(student, "kd", seed, 95.0 + T / 10, T=T, extra={"drop_classes": []})
                )
        recs.append(make_record("mlp-w2", "kd", seed, 90.0, T=20.0, extra={"drop_classes": [3]}))
    fig = temperature_figure(summarize(frame(recs)))
    panels = [a for a in fig.axes if a.get_visible()]
    names = [sorted(c.get_label() for c in errorbar_series(ax)) for ax in panels]
    assert names == [["drop_classes=[]"], ["drop_classes=[3]", "drop_classes=[]"]]
    # the same label in both panels is the same style
    colors = {c.get_label(): c.lines[0].get_color() for ax in panels for c in errorbar_series(ax)}
    first = next(c for c in errorbar_series(panels[0]))
    assert colors["drop_classes=[]"] == first.lines[0].get_color()
    plt.close(fig)


def test_size_lines_join_one_training_across_sizes_per_teacher():
    """Two teachers: one kd line per teacher through both sizes (one line used to zigzag
    through every teacher's point at each size)."""
    recs = []
    for student, params in (("cnn-w0.25", 0.002), ("cnn-w0.5", 0.008)):
        for seed in (0, 1):
            recs.append(make_record(student, "none", seed, 80.0 + seed, params_m=params))
            for k, teacher in enumerate(("cnn-a", "cnn-b")):
                top1 = 81.0 + 2 * k + seed
                recs.append(
                    make_record(student, "kd", seed, top1, teacher=teacher, params_m=params)
                )
    fig = size_figure(summarize(frame(recs)))
    lines = {c.get_label(): c.lines[0] for c in errorbar_series(fig.axes[0])}
    assert set(lines) == {"student alone", "kd (cnn-a)", "kd (cnn-b)"}
    assert all(len(line.get_xdata()) == 2 for line in lines.values())
    assert list(lines["kd (cnn-b)"].get_ydata()) == pytest.approx([83.5, 83.5])
    plt.close(fig)
