"""Results a reviewer can trust (issue 12): every differing setting is its own row, the method
is the option the user chose, a diverged run is a failure, and Δ carries a CI and a test.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from matplotlib.container import BarContainer

from kdbench.cli import CONF_DIR, report_main
from kdbench.config import RecipeConfig
from kdbench.distill import METHODS
from kdbench.errors import ConfigError, KdbenchError
from kdbench.models import create_model
from kdbench.module import DistillationModule
from kdbench.records import canonical_config, cell_key, report_settings
from kdbench.report import failure_table, load_records, records_frame, summarize, to_markdown
from kdbench.report.figures import write_figures
from kdbench.report.figures.methods import methods_figure
from kdbench.report.stats import holm, paired_stats
from kdbench.report.tables import to_latex
from kdbench.runner import run_cell
from kdbench.validate import validate

from .conftest import SMOKE, compose_config
from .test_report import make_record
from .test_resume import cli

# ---------------------------------------------------------------- identity: one row per setting


def fake_record(cfg, top1: float) -> dict:
    """A record as run_cell writes it for `cfg` (settings and resolved config), made-up metrics."""
    return {
        "schema": 1,
        "key": cell_key(cfg),
        "config": report_settings(cfg),
        "resolved": canonical_config(cfg),
        "status": "ok",
        "metrics": {"top1": top1},
        "training": {"best_val_top1": top1, "epochs": 1},  # the smoke trainer caps epochs at 1
    }


def grid_records(tmp_path: Path) -> list[dict]:
    """distill=none,kd x train.epochs=1,2 x data.num_samples=300,600 x seed=0,1,2.

    Composed once per method (Hydra compose is the slow part); the swept settings are
    then set on copies of the config, as the sweep's overrides would set them.
    """
    recs = []
    for method in ("none", "kd"):
        base = validate(compose_config(SMOKE + [f"distill={method}"], tmp_path))
        for epochs, samples, seed in itertools.product((1, 2), (300, 600), (0, 1, 2)):
            cfg = copy.deepcopy(base)
            cfg.train.epochs, cfg.data.num_samples, cfg.seed = epochs, samples, seed
            top1 = 50 + 10 * epochs + samples / 100 + seed + (2 if method == "kd" else 0)
            recs.append(fake_record(cfg, top1))
    return recs


def test_a_grid_over_epochs_and_a_data_setting_gives_one_row_per_setting(tmp_path):
    df = records_frame([(r, None) for r in grid_records(tmp_path)])
    s = summarize(df)
    assert len(s) == 8 and (s["n"] == 3).all()  # 2 methods x 2 epochs x 2 sizes, 3 seeds each
    assert sorted(set(zip(s["epochs"], s["num_samples"]))) == [
        (1, 300),
        (1, 600),
        (2, 300),
        (2, 600),
    ]
    # Δ pairs within its own setting: kd is +2 over the student alone of the same epochs/size
    kd = s[s["method"] == "kd"]
    assert np.allclose(kd["delta_top1_mean"], 2.0) and (kd["delta_top1_n"] == 3).all()
    md = to_markdown(s, failure_table(df))
    const = next(line for line in md.splitlines() if line.startswith("Same in every row"))
    header = md.split("\n\n")[1].splitlines()[0]
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert {"student", "method", "epochs", "num_samples"} <= set(columns)

    # constants said once, in the header line, with short labels; seed never a setting there
    def settings(line, prefix):
        return dict(p.split("=", 1) for p in line.removeprefix(prefix).rstrip(". ").split(", "))

    said = settings(const, "Same in every row: ")
    for key, value in (("data", "synthetic"), ("lr", "0.05")):
        assert said[key] == value and key not in columns
    # the teacher's settings are the kd rows' only: the student alone has no teacher
    kd_line = next(line for line in md.splitlines() if line.startswith("Same in the rows of kd"))
    assert settings(kd_line, "Same in the rows of kd: ")["teacher_epochs"] == "30"
    assert "teacher_epochs" not in said and "teacher_epochs" not in columns
    assert "seed" not in said and not any("efficiency" in k or "." in k for k in said)
    # a label's parts are never shown twice
    for part in ("student_name", "student_width", "teacher_name", "base_method"):
        assert part not in columns and part not in said


def test_labels_are_short_and_disambiguated_only_on_clashes(smoke_config):
    c = report_settings(smoke_config("distill=kd", "data.train_subset=100"))
    assert c["epochs"] == 20 and c["teacher_epochs"] == 30  # train.* vs teacher.recipe.*
    assert c["lr"] == 0.05 and c["teacher_lr"] == 0.05 and c["train_subset"] == 100
    assert c["student"] == "cnn_small" and c["student_width"] == 0.25 and c["teacher"] == "cnn_x2"
    assert not any(k.startswith("efficiency") or "." in k for k in c)
    # a method without a teacher has the same labels for the student's settings
    alone = report_settings(smoke_config("distill=none"))
    assert alone["student_width"] == 0.25 and "teacher_epochs" not in alone


def test_records_without_resolved_fall_back_to_their_config_block():
    old = [make_record(method="none", seed=s, top1=90 + s) for s in range(2)]
    old += [make_record(seed=s, top1=92 + s) for s in range(2)]
    s = summarize(records_frame([(r, None) for r in old]))
    assert list(s["n"]) == [2, 2] and s.loc[1, "delta_top1_mean"] == pytest.approx(2.0)


# ---------------------------------------------------------------- the method the user chose

# Options that report under another method's name on purpose.
SAME_AS = {"dkd_short": "dkd"}


@pytest.mark.parametrize("option", sorted(p.stem for p in Path(CONF_DIR, "distill").glob("*.yaml")))
def test_every_distill_option_reports_as_itself(option, tmp_path):
    # a method that adds to its student (DeiT's token) needs a student that can take it
    student = ["student=vit_micro"] if option.startswith("deit") else []
    cfg = validate(compose_config(SMOKE + [f"distill={option}", *student], tmp_path))
    settings = report_settings(cfg)
    assert settings["method"] == SAME_AS.get(option, option)
    assert settings["base_method"] == cfg.distill.name and cfg.distill.name in METHODS


def test_kd_ls_and_kd_are_separate_rows_and_separate_bars():
    recs = [make_record(method="none", seed=s, top1=90.0 + s) for s in range(2)]
    recs += [make_record(seed=s, top1=92.0 + s) for s in range(2)]
    recs += [
        make_record(seed=s, top1=93.0 + s, T=2.0, extra={"method": "kd_ls", "base_method": "kd"})
        for s in range(2)
    ]
    s = summarize(records_frame([(r, None) for r in recs]))
    assert sorted(s["method"]) == ["kd", "kd_ls", "none"]
    fig = methods_figure(s)
    bars = [c for c in fig.axes[0].containers if isinstance(c, BarContainer)]
    assert sorted(b.get_label() for b in bars) == ["kd", "kd_ls"]


# ---------------------------------------------------------------- statistics


def t2_cdf(t: float) -> float:
    """CDF of Student's t with 2 degrees of freedom (closed form)."""
    return 0.5 + t / (2 * math.sqrt(2 + t * t))


def test_ci_and_p_match_the_t_formulas():
    d = [1.0, 1.2, 0.8]
    n = 3
    mean = sum(d) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
    se = std / math.sqrt(n)
    # t_{0.975, 2} solves t2_cdf(t) = 0.975: t^2 = 2 q^2 / (1 - q^2) with q = 2 * 0.975 - 1
    q = 2 * 0.975 - 1
    t_crit = math.sqrt(2 * q * q / (1 - q * q))
    assert t2_cdf(t_crit) == pytest.approx(0.975)
    t = mean / se
    p = 2 * (1 - t2_cdf(t))
    got = paired_stats(d)
    assert got["mean"] == pytest.approx(1.0) and got["n"] == 3
    assert got["std"] == pytest.approx(std)
    assert got["ci95"] == pytest.approx(t_crit * se) and round(got["ci95"], 3) == 0.497
    assert got["p"] == pytest.approx(p) and round(got["p"], 4) == 0.0131


def test_fewer_than_two_pairs_have_no_ci_or_p():
    one = paired_stats([1.5])
    assert one["mean"] == 1.5 and all(math.isnan(one[k]) for k in ("std", "ci95", "p"))


def test_holm_on_a_known_set():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> kept at 0.06
    got = holm([0.01, 0.04, 0.03, 0.005, float("nan")])
    assert np.allclose(got[:4], [0.03, 0.06, 0.06, 0.02]) and math.isnan(got[4])
    assert np.allclose(holm([0.5, 0.6]), [1.0, 1.0])  # capped at 1


def stat_records() -> list[dict]:
    """Alone 90/91/92; kd T=4 Δ = 1.0, 1.2, 0.8 (significant); kd T=1 Δ = 0.5, -0.4, 0.2."""
    recs = [make_record(method="none", seed=s, top1=t) for s, t in enumerate((90.0, 91.0, 92.0))]
    recs += [make_record(seed=s, top1=t) for s, t in enumerate((91.0, 92.2, 92.8))]
    recs += [make_record(seed=s, top1=t, T=1.0) for s, t in enumerate((90.5, 90.6, 92.2))]
    return recs


def test_summary_has_ci_p_and_holm_and_the_table_marks_and_explains_them():
    s = summarize(records_frame([(r, None) for r in stat_records()]))
    kd4 = s[(s["method"] == "kd") & (s["T"] == 4.0)].iloc[0]
    kd1 = s[(s["method"] == "kd") & (s["T"] == 1.0)].iloc[0]
    assert kd4["delta_top1_ci95"] == pytest.approx(paired_stats([1.0, 1.2, 0.8])["ci95"])
    p = [kd4["delta_top1_p"], kd1["delta_top1_p"]]
    assert kd4["delta_top1_p_holm"] == pytest.approx(min(1, 2 * min(p)))
    assert kd1["delta_top1_p_holm"] == pytest.approx(max(2 * min(p), max(p)))
    for col in ("n", "top1_mean", "top1_std", "delta_top1_mean", "delta_top1_ci95"):
        assert col in s
    md = to_markdown(s, failure_table(records_frame([(r, None) for r in stat_records()])))
    assert "+1.00 ± 0.50†" in md
    assert "+0.10 ± 1.14 " in md  # not significant: no mark
    assert "95 % t-interval over n = 3 seed-paired differences" in md
    assert "Holm–Bonferroni-adjusted over the 2 tested rows" in md
    tex = to_latex(s, failure_table(records_frame([(r, None) for r in stat_records()])))
    assert "$^\\dagger$" in tex and "95 \\% t-interval" in tex


def test_single_seed_footnote_says_why_ci_and_p_are_empty():
    recs = [make_record(method="none", top1=90.0), make_record(top1=91.0)]
    s = summarize(records_frame([(r, None) for r in recs]))
    assert math.isnan(s.loc[1, "delta_top1_ci95"]) and math.isnan(s.loc[1, "delta_top1_p"])
    md = to_markdown(s, failure_table(records_frame([(r, None) for r in recs])))
    assert "+1.00" in md and "Rows with n < 2 pairs have no CI or p" in md


def test_reference_compares_every_method_with_the_named_one():
    recs = stat_records()
    recs += [make_record(method="dkd", seed=s, top1=t) for s, t in enumerate((92.0, 93.0, 93.5))]
    s = summarize(records_frame([(r, None) for r in recs]), reference="kd")
    dkd = s[s["method"] == "dkd"].iloc[0]
    # the reference is kd's setting chosen on validation (T=4: val = top1 here, higher)
    assert dkd["delta_ref_top1_mean"] == pytest.approx(np.mean([1.0, 0.8, 0.7]))
    assert dkd["delta_ref_top1_ci95"] == pytest.approx(paired_stats([1.0, 0.8, 0.7])["ci95"])
    assert "delta_ref_top1_p_holm" in s
    kd1 = s[(s["method"] == "kd") & (s["T"] == 1.0)].iloc[0]
    assert kd1["delta_ref_top1_mean"] == pytest.approx(np.mean([-0.5, -1.6, -0.6]))
    kd4 = s[(s["method"] == "kd") & (s["T"] == 4.0)].iloc[0]
    assert math.isnan(kd4["delta_ref_top1_mean"])  # the reference itself
    assert "Δ vs kd" in to_markdown(s, failure_table(records_frame([(r, None) for r in recs])))
    with pytest.raises(KdbenchError, match="--reference nope: no such method"):
        summarize(records_frame([(r, None) for r in recs]), reference="nope")


# ---------------------------------------------------------------- divergence and failures


def test_a_nan_loss_ends_the_cell_diverged_and_the_sweep_exits_1(tmp_path, monkeypatch, capsys):
    args = SMOKE + ["distill=none", "efficiency.enabled=false", f"results_dir={tmp_path}"]
    code, out, err = cli(["-m", *args, "train.optim.lr=1e30"], monkeypatch, capsys)
    assert code == 1 and "0 ok, 1 failed (1 diverged), 0 skipped" in out
    assert "Traceback" not in err
    (path,) = Path(tmp_path).rglob("record.json")
    record = json.loads(path.read_text())
    assert record["status"] == "diverged"
    msg = record["error"]["message"]
    assert msg.startswith("loss became NaN/Inf at epoch 1, step ")
    assert msg.endswith("(try a lower train.optim.lr)")
    # the report lists it as a failure, never as a result; no figures, no traceback
    report_main([str(tmp_path / "default"), "--out", str(tmp_path / "rep")])
    md = (tmp_path / "rep" / "summary.md").read_text()
    assert "every cell failed or diverged" in md and "## Failed cells" in md
    assert "| diverged |" in md and "loss became NaN/Inf" in md
    assert not (tmp_path / "rep" / "figures").exists()


def test_a_diverging_teacher_fails_the_cell_naming_the_teacher(smoke_config):
    cfg = smoke_config("distill=kd", "teacher.recipe.optim.lr=1e30", "efficiency.enabled=false")
    record = run_cell(cfg)
    assert record["status"] == "diverged"
    assert record["error"]["message"].startswith("teacher cnn_x2: loss became NaN/Inf")
    assert record["error"]["message"].endswith("(try a lower teacher.recipe.optim.lr)")


def test_all_failed_summary_draws_no_figure(tmp_path):
    recs = [make_record(seed=s, error="boom") for s in range(2)]
    df = records_frame([(r, None) for r in recs])
    s = summarize(df)
    assert write_figures(s, tmp_path) == {}
    assert "every cell failed" in to_markdown(s, failure_table(df))
    assert "every cell failed" in to_latex(s, failure_table(df))


def test_unreadable_records_are_named_and_skipped(tmp_path, capsys):
    good = make_record()
    for name, payload in (
        ("ok", json.dumps(good).encode()),
        ("latin1", b'{"status": "ok", "x": "\xe9"}'),
        ("list", b"[1, 2]"),
        ("broken", b'{"status": '),
    ):
        folder = tmp_path / "cells" / name
        folder.mkdir(parents=True)
        (folder / "record.json").write_bytes(payload)
    with pytest.warns(UserWarning) as caught:
        df = load_records([tmp_path])
    assert len(df) == 1
    text = "\n".join(str(w.message) for w in caught)
    assert "latin1/record.json: not UTF-8" in text
    assert "list/record.json: not a JSON object" in text
    assert "broken/record.json: not valid JSON" in text
    report_main([str(tmp_path), "--no-figures"])
    err = capsys.readouterr().err
    assert err.count("kdbench-report: warning: skipping record") == 3


# ---------------------------------------------------------------- small correctness items


def test_loss_with_w2_zero_is_w1_times_ce():
    torch.manual_seed(0)
    student = create_model("mlp", 10, 1, width=0.25)
    teacher = create_model("mlp", 10, 1, width=0.25)
    x, y = torch.randn(8, 1, 8, 8), torch.randint(0, 10, (8,))
    kd = METHODS.get("kd")
    method = kd(kd.Params(alpha=None, w1=0.3, w2=0.0), student, teacher, x)
    module = DistillationModule(student, teacher, method, RecipeConfig(), 10)
    module.log = lambda *a, **k: None
    loss = module.training_step((x, y, torch.arange(8)), 0)
    expected = 0.3 * F.cross_entropy(student(x), y)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)


@pytest.mark.parametrize("seed", ["-1", str(2**32)])
def test_seed_out_of_range_is_a_config_error(seed, tmp_path):
    with pytest.raises(ConfigError, match=r"^seed=.* is invalid: must be an integer in 0 \.\. "):
        validate(compose_config(SMOKE + [f"seed={seed}"], tmp_path))
    assert validate(compose_config(SMOKE + [f"seed={2**32 - 1}"], tmp_path)).seed == 2**32 - 1


def test_summary_csv_keeps_its_contract(tmp_path):
    s = summarize(records_frame([(r, None) for r in stat_records()]))
    s.to_csv(tmp_path / "s.csv", index=False)
    cols = set(pd.read_csv(tmp_path / "s.csv").columns)
    for c in ("n", "top1_mean", "top1_std", "delta_top1_mean", "delta_top1_ci95"):
        assert c in cols
    assert {"delta_top1_p", "delta_top1_p_holm", "method"} <= cols


# ------------------------------------------ "Same in every row": only what every row uses (27)


def zoo_summary(tmp_path: Path) -> tuple[pd.DataFrame, str]:
    """digits, the student alone and kd, dkd, at, 2 seeds: records as run_cell writes them."""
    recs = []
    for method in ("none", "kd", "dkd", "at"):
        cfg = validate(compose_config(SMOKE + ["data=digits", f"distill={method}"], tmp_path))
        for seed in (0, 1):
            cfg.seed = seed
            recs.append(fake_record(copy.deepcopy(cfg), 90.0 + seed))
    df = records_frame([(r, None) for r in recs])
    s = summarize(df)
    return s, to_markdown(s, failure_table(df))


def said_lines(md: str) -> dict[str, dict[str, str]]:
    """'Same in ...' lines -> {scope: {setting: value}}."""
    out = {}
    for line in md.split("\n\n")[0].splitlines():
        scope, _, text = line.partition(": ")
        out[scope] = dict(p.split("=", 1) for p in text.rstrip(". ").split(", "))
    return out


def test_same_in_every_row_names_only_settings_every_row_uses(tmp_path):
    s, md = zoo_summary(tmp_path)
    said = said_lines(md)
    every = said["Same in every row"]
    for key in every:  # each has a value in every row, the student alone's included
        assert s[key].notna().all(), f"{key} is said for every row but some row lacks it"
    # settings of the synthetic set, which digits does not read, appear nowhere
    for key in ("num_samples", "channels", "image_size", "augment"):
        assert not any(key in settings for settings in said.values()), key
    assert every["data"] == "digits" and every["split_seed"] == "0"
    # a method's own settings are said for its rows; the teacher's for the rows with one
    assert said["Same in the rows of dkd"]["dkd_beta"] == "8"
    assert said["Same in the rows of at"]["at_p"] == "2"
    assert said["Same in the rows of every method but none"]["teacher"] == "cnn_x2"
    assert "T" not in every and said["Same in the rows of dkd, kd"]["T"] == "4"


def test_a_weight_that_does_not_apply_is_blank(tmp_path):
    s, md = zoo_summary(tmp_path)
    assert math.isnan(s.loc[s["method"] == "none", "w2"].iloc[0])
    table = md.split("\n\n")[1].splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    alone = next(r for r in table[2:] if "| none " in r)
    cells = [c.strip() for c in alone.strip("|").split("|")]
    assert cells[header.index("w2")] == ""
    assert cells[header.index("w1")] == ""  # kd's 0.1 and the others' 1 make it a column
    alone = report_settings(validate(compose_config(SMOKE + ["distill=none"], tmp_path)))
    assert alone["w1"] is None and alone["w2"] is None  # no weighted sum: no weights
