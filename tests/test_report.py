"""Report tables on hand-made records: statistics computed by hand, failures kept, formats."""

from __future__ import annotations

import hashlib
import json
import math

import pytest

from kdbench.errors import KdbenchError
from kdbench.report import (
    chosen_on_validation,
    failure_table,
    flatten_record,
    load_records,
    records_frame,
    summarize,
    to_latex,
    to_markdown,
    write_report,
)
from kdbench.report.console import console_table


def make_record(
    student: str = "cnn-w0.5",
    method: str = "kd",
    seed: int = 0,
    top1: float = 90.0,
    *,
    T: float | None = 4.0,
    alpha: float | None = 0.9,
    teacher: str = "cnn-w2",
    teacher_top1: float = 96.0,
    data: str = "digits",
    val_top1: float | None = None,
    ece: float = 3.0,
    params_m: float = 0.01,
    mflops: float = 0.1,
    latency_ms: float = 0.05,
    new_efficiency: bool = False,
    extra: dict | None = None,
    error: str | None = None,
) -> dict:
    """A record shaped like runner.run_cell writes it (`new_efficiency`: ORT + int8 block)."""
    name, _, width = student.partition("-w")
    config = {
        "data": data,
        "teacher": None if method == "none" else teacher,
        "student": student,
        "student_name": name,
        "student_depth": None,
        "student_width": float(width) if width else None,
        "method": method,
        "w1": 1.0 if method == "none" else 1 - alpha,
        "w2": 0.0 if method == "none" else alpha,
        "seed": seed,
    }
    if method != "none":
        config.update({"T": T, "alpha": alpha, "t2_scaling": True})
    config.update(extra or {})
    key = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    base = {"schema": 1, "key": key, "config": config, "experiment": "hand"}
    if error:
        return {**base, "status": "failed", "error": {"type": "RuntimeError", "message": error}}
    latency = {
        "torch_fp32": {
            "bs1": {"latency_ms_p50": latency_ms, "latency_ms_p90": 1.2 * latency_ms, "runs": 100}
        }
    }
    efficiency = {
        "params_m": params_m,
        "mflops": mflops,
        "size_kb": 40 * params_m,
        "latency": latency,
    }
    if new_efficiency:
        for backend, factor in (("ort_fp32", 0.5), ("ort_int8", 0.3)):
            latency[backend] = {
                bs: {
                    "latency_ms_p50": factor * latency_ms * (1 if bs == "bs1" else 20),
                    "latency_ms_p90": latency_ms,
                    "runs": 50,
                }
                for bs in ("bs1", "bs32")
            }
        efficiency.update(
            onnx_fp32_size_kb=41 * params_m,
            onnx_int8_size_kb=12 * params_m,
            int8={"top1": top1 - 0.5, "top1_delta": -0.5},
        )
    return {
        **base,
        "status": "ok",
        "metrics": {"top1": top1, "f1_macro": top1 - 1, "ece": ece},
        "teacher_metrics": None if method == "none" else {"top1": teacher_top1},
        "training": {"epochs": 5, "best_val_top1": top1 if val_top1 is None else val_top1},
        "efficiency": efficiency,
        "timing": {"total_s": 1.0},
    }


def frame(records: list[dict]):
    return records_frame([(r, None) for r in records])


def base_grid() -> list[dict]:
    """cnn-w0.5 alone 90/91/92; KD(T=4) 92/94/93 (Δ 2,3,1); KD(T=1) seeds 0,1 ok + seed 2 failed."""
    recs = [make_record(method="none", seed=s, top1=t) for s, t in enumerate((90, 91, 92))]
    recs += [
        make_record(seed=s, top1=t, ece=e) for s, t, e in zip(range(3), (92, 94, 93), (2, 1, 3))
    ]
    recs += [make_record(T=1.0, seed=s, top1=t) for s, t in ((0, 90), (1, 93))]
    recs.append(make_record(T=1.0, seed=2, error="CUDA out of memory"))
    return recs


def row(summary, **where):
    mask = True
    for k, v in where.items():
        mask = mask & (summary[k] == v)
    (index,) = summary.index[mask]
    return summary.loc[index]


def test_mean_std_n_delta_and_gap_closed_match_hand_computation():
    s = summarize(frame(base_grid()))
    alone = row(s, method="none")
    assert (alone["n"], alone["top1_mean"], alone["top1_std"]) == (3, 91.0, 1.0)
    assert math.isnan(alone["delta_top1_mean"]) and math.isnan(alone["gap_closed"])

    kd = row(s, method="kd", T=4.0)
    assert kd["n"] == 3 and kd["n_failed"] == 0
    assert kd["top1_mean"] == pytest.approx(93.0) and kd["top1_std"] == pytest.approx(1.0)
    # paired by seed: 92-90, 94-91, 93-92 = 2, 3, 1
    assert kd["delta_top1_mean"] == pytest.approx(2.0) and kd["delta_top1_std"] == pytest.approx(
        1.0
    )
    assert kd["delta_n"] == 3
    assert kd["alone_top1_mean"] == pytest.approx(91.0)
    assert kd["teacher_top1_mean"] == pytest.approx(96.0)
    assert kd["gap_closed"] == pytest.approx((93 - 91) / (96 - 91))
    assert kd["ece_mean"] == pytest.approx(2.0)

    t1 = row(s, method="kd", T=1.0)  # seeds 0, 1 ok; seed 2 failed
    assert (t1["n"], t1["n_failed"]) == (2, 1)
    assert t1["delta_top1_mean"] == pytest.approx(((90 - 90) + (93 - 91)) / 2)
    assert t1["delta_top1_std"] == pytest.approx(math.sqrt(2))


def test_delta_falls_back_to_difference_of_means_without_common_seeds():
    recs = [make_record(method="none", seed=s, top1=t) for s, t in ((10, 80), (11, 82))]
    recs += [make_record(seed=s, top1=t) for s, t in ((0, 85), (1, 86))]
    kd = row(summarize(frame(recs)), method="kd")
    assert kd["delta_n"] == 0
    assert kd["delta_top1_mean"] == pytest.approx(85.5 - 81.0)
    assert math.isnan(kd["delta_top1_std"])


def test_gap_closed_is_empty_when_teacher_is_not_better():
    recs = [make_record(method="none", top1=95.0), make_record(top1=96.0, teacher_top1=94.0)]
    assert math.isnan(row(summarize(frame(recs)), method="kd")["gap_closed"])


def test_gap_closed_is_empty_when_the_gap_is_within_the_seed_spread():
    """Alone 90/92 (mean 91, std 1.41): a teacher at 92 is 1 point above, inside the noise."""
    recs = [make_record(method="none", seed=s, top1=t) for s, t in ((0, 90.0), (1, 92.0))]
    recs += [make_record(seed=s, top1=90.5, teacher_top1=92.0) for s in (0, 1)]
    kd = row(summarize(frame(recs)), method="kd")
    assert kd["alone_top1_std"] == pytest.approx(math.sqrt(2))
    assert math.isnan(kd["gap_closed"])
    # the same spread under a teacher 3 points above: the gap is defined again
    recs = recs[:2] + [make_record(seed=s, top1=92.5, teacher_top1=94.0) for s in (0, 1)]
    assert row(summarize(frame(recs)), method="kd")["gap_closed"] == pytest.approx(1.5 / 3)


def test_groups_cover_method_specific_settings_and_students_and_data():
    recs = base_grid()
    # another method with its own setting, at two values: two groups
    recs += [
        make_record(method="dkd", seed=s, top1=94 + b, extra={"beta": b})
        for s in range(2)
        for b in (1.0, 2.0)
    ]
    # another student and another data set: their own baselines
    recs += [make_record("mlp-w0.5", "none", s, 70.0 + s) for s in range(2)]
    recs += [make_record("mlp-w0.5", "kd", s, 75.0 + s) for s in range(2)]
    recs += [make_record(method="none", data="synthetic", seed=0, top1=50.0)]
    recs += [make_record(data="synthetic", seed=0, top1=55.0)]
    s = summarize(frame(recs))
    assert sorted(s.loc[s["method"] == "dkd", "beta"]) == [1.0, 2.0]
    dkd = row(s, method="dkd", beta=2.0)
    assert dkd["n"] == 2 and dkd["delta_top1_mean"] == pytest.approx((96 - 90 + 96 - 91) / 2)
    mlp = row(s, student="mlp-w0.5", method="kd")
    assert mlp["delta_top1_mean"] == pytest.approx(5.0) and mlp["delta_top1_std"] == pytest.approx(
        0.0
    )
    syn = row(s, data="synthetic", method="kd")
    assert syn["delta_top1_mean"] == pytest.approx(5.0) and syn["alone_top1_mean"] == 50.0
    # the student alone comes first within each student
    digits_cnn = s[(s["data"] == "digits") & (s["student"] == "cnn-w0.5")]
    assert digits_cnn["method"].iloc[0] == "none"


def test_a_group_whose_every_seed_failed_is_kept():
    recs = base_grid() + [make_record(T=8.0, seed=s, error="boom") for s in range(2)]
    summary = summarize(frame(recs))
    t8 = row(summary, method="kd", T=8.0)
    assert (t8["n"], t8["n_failed"]) == (0, 2) and math.isnan(t8["top1_mean"])
    # ... in summary.csv; the tables show it only among the failed cells (issue 28)
    md = to_markdown(summary, failure_table(frame(recs)))
    main, _, failed = md.partition("Failed cells")
    assert "| 8 " not in main and "| 4 " in main
    assert console_table(summary).count("\n") == console_table(summary[summary["T"] != 8]).count(
        "\n"
    )


def test_failed_records_are_listed_with_their_error():
    df = frame(base_grid())
    failures = failure_table(df)
    assert len(failures) == 1
    assert failures.loc[0, "error"] == "RuntimeError: CUDA out of memory"
    assert failures.loc[0, "seed"] == 2 and failures.loc[0, "T"] == 1.0
    md = to_markdown(summarize(df), failures)
    assert "## Failed cells" in md and "RuntimeError: CUDA out of memory" in md
    tex = to_latex(summarize(df), failures)
    assert "% Failed cells" in tex and "RuntimeError: CUDA out of memory" in tex


def test_old_and_new_efficiency_blocks_flatten_to_unit_bearing_columns():
    old = flatten_record(make_record())
    assert old["latency_ms_p50_bs1"] == 0.05 and old["params_m"] == 0.01 and old["size_kb"] == 0.4
    assert old["val_top1"] == 90.0 and old["teacher_top1"] == 96.0
    new = flatten_record(make_record(top1=91.0, new_efficiency=True))
    assert new["latency_ms_p50_bs1"] == 0.05
    assert new["latency_ms_p50_bs1_ort_fp32"] == pytest.approx(0.025)
    assert new["latency_ms_p50_bs32_ort_int8"] == pytest.approx(0.3)
    assert new["latency_ms_p90_bs32_ort_fp32"] == 0.05
    assert new["int8_top1"] == 90.5 and new["int8_top1_delta"] == -0.5
    assert new["onnx_int8_size_kb"] == pytest.approx(0.12)
    assert not any(k.endswith("runs") for k in new)
    # both shapes in one frame: the old rows simply have no ORT numbers
    s = summarize(frame([make_record(method="none"), make_record(new_efficiency=True)]))
    assert math.isnan(row(s, method="none")["latency_ms_p50_bs1_ort_fp32_mean"])
    assert row(s, method="kd")["int8_top1_mean"] == pytest.approx(89.5)


def test_markdown_and_latex_rows_cells_and_bold_best():
    s = summarize(frame(base_grid()))
    md = to_markdown(s, failure_table(frame(base_grid())))
    lines = md.splitlines()
    kd4 = next(line for line in lines if line.startswith("| cnn-w0.5") and "| 4 " in line)
    assert "**93.00 ± 1.00**" in kd4  # best top-1
    assert "**2.00 ± 1.00**" in kd4  # best Δ
    alone = next(line for line in lines if "| none " in line)
    assert "91.00 ± 1.00" in alone and "**91.00" not in alone
    # the student alone has no teacher: the teacher is said for the rows that have one
    assert "Same in every row: data=digits." in md
    assert "Same in the rows of kd: teacher=cnn-w2, alpha=0.9" in md
    tex = to_latex(s, failure_table(frame(base_grid())))
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "\\textbf{93.00 $\\pm$ 1.00}" in tex
    assert "91.00 $\\pm$ 1.00" in tex
    assert "top-1 (\\%)" in tex and "cnn-w0.5" in tex


def test_best_is_min_for_ece_and_latency_and_max_for_accuracy():
    recs = [make_record(method="none", top1=90.0, ece=5.0, latency_ms=0.2)]
    # latency is one per architecture: the smaller student is the fast one
    recs += [make_record("cnn-w0.25", T=1.0, top1=92.0, ece=1.0, latency_ms=0.1)]
    recs += [make_record(T=4.0, top1=95.0, ece=3.0, latency_ms=0.3)]
    table = to_markdown(summarize(frame(recs)), failure_table(frame(recs)))
    block = table.split("\n\n")[1].splitlines()  # after the "Same in every row" line
    header = [c.strip() for c in block[0].split("|")]
    rows = {
        r.split("|")[header.index("T")].strip(): [c.strip() for c in r.split("|")]
        for r in block[2:]
    }
    assert rows["4"][header.index("top-1 (%)")] == "**95.00**"
    assert rows["1"][header.index("ECE (%)")] == "**1.00**"
    assert rows["1"][header.index("torch bs1 (ms)")] == "**0.100**"
    # the two cnn-w0.5 cells (0.2 and 0.3 ms) share their median, ± the std over both
    for key in ("", "4"):
        assert rows[key][header.index("torch bs1 (ms)")] == "0.250 ± 0.071"
    assert rows[""][header.index("ECE (%)")] == "5.00"


def test_validation_not_test_chooses_the_setting_figures_show():
    recs = [
        make_record(T=1.0, top1=95.0, val_top1=80.0),
        make_record(T=4.0, top1=91.0, val_top1=85.0),
    ]
    chosen = chosen_on_validation(summarize(frame(recs)))
    assert list(chosen["T"]) == [4.0]


def test_write_report_from_several_folders(tmp_path, capsys):
    recs = base_grid()
    for i, rec in enumerate(recs):
        folder = tmp_path / ("a" if i % 2 else "b") / "cells" / f"c{i}"
        folder.mkdir(parents=True)
        (folder / "record.json").write_text(json.dumps(rec))
    # the same cell reported twice (overlapping folders) counts once
    dup = tmp_path / "b" / "cells" / "dup"
    dup.mkdir()
    (dup / "record.json").write_text(json.dumps(recs[0]))
    df = load_records([tmp_path / "a", tmp_path / "b"])
    assert len(df) == len(recs)
    paths = write_report([tmp_path / "a", tmp_path / "b"], tmp_path / "out", figures=False)
    for kind in ("csv", "md", "tex", "records"):
        assert paths[kind].stat().st_size > 100
    assert "93.00±1.00" in capsys.readouterr().out  # the console table (summary.md: " ± ")
    assert "93.00 ± 1.00" in paths["md"].read_text()
    import pandas as pd

    csv = pd.read_csv(paths["csv"])
    kd = csv[(csv["method"] == "kd") & (csv["T"] == 4.0)].iloc[0]
    assert kd["gap_closed"] == pytest.approx(0.4, abs=1e-12)  # full precision


def test_missing_or_empty_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(KdbenchError, match="no such sweep folder"):
        load_records([tmp_path / "nope"])
    with pytest.raises(KdbenchError, match="no readable record.json found"):
        load_records([tmp_path])


def test_report_cli_writes_tables(tmp_path):
    from kdbench.cli import report_main

    for i, rec in enumerate(base_grid()):
        folder = tmp_path / "sweep" / "cells" / f"c{i}"
        folder.mkdir(parents=True)
        (folder / "record.json").write_text(json.dumps(rec))
    report_main([str(tmp_path / "sweep"), "--no-figures"])
    assert (tmp_path / "sweep" / "summary.tex").is_file()
    assert not (tmp_path / "sweep" / "figures").exists()
    with pytest.raises(SystemExit) as exc:
        report_main([str(tmp_path / "missing")])
    assert exc.value.code == 2
