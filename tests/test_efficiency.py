"""Efficiency: exact FLOPs, published ResNet-20 counts, ONNX parity for every model,
the int8 path, latency statistics and thread settings, the record's block, the CLI."""

from __future__ import annotations

import csv
import math
from datetime import datetime

import numpy as np
import pytest
import torch
from torch import nn

from kdbench.config import EfficiencyConfig
from kdbench.efficiency import (
    count_flops,
    count_params,
    export_onnx,
    max_abs_diff,
    measure_latency,
    ort_session,
    profile_student,
)
from kdbench.efficiency.backends import Artifacts, time_backend
from kdbench.errors import ConfigError
from kdbench.models import create_model, models_for
from kdbench.runner import run_cell

CHEAP = {"warmup": 1, "min_time_s": 0.0, "min_runs": 3}


def test_flops_of_a_conv_linear_net_match_the_hand_count():
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=True),  # 8x8 -> 4x4
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 10),
    )
    conv_macs = (8 * 4 * 4) * (3 * 3 * 3)  # outputs x (kernel area x input channels) = 3456
    linear_macs = 128 * 10  # = 1280
    assert count_flops(net, (1, 3, 8, 8)) == 2 * (conv_macs + linear_macs) == 9472
    assert count_flops(net, (2, 3, 8, 8)) == 2 * 9472
    assert count_params(net) == (3 * 9 * 8 + 8) + (128 * 10 + 10)
    net[0].requires_grad_(False)
    assert count_params(net, trainable_only=True) == 128 * 10 + 10


def test_resnet20_matches_the_published_counts():
    model = create_model("resnet20", num_classes=10)
    assert round(count_params(model) / 1e6, 3) == 0.272
    macs = count_flops(model, (1, 3, 32, 32)) / 2
    assert 40.5e6 < macs < 41.5e6  # "about 41 M MACs"


@pytest.mark.parametrize("name", models_for("image"))
def test_onnx_export_matches_torch(name, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, num_classes=10, in_channels=1).eval()
    path = export_onnx(model, (1, 8, 8), tmp_path / f"{name}.onnx")
    session = ort_session(path, threads=1)
    # batch 3: not the export example's batch, so the dynamic batch axis is exercised
    assert max_abs_diff(model, session, torch.randn(3, 1, 8, 8)) <= 1e-4


def _separable(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    prototypes = torch.randn(4, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.arange(n) % 4
    return prototypes[y] + 0.3 * torch.randn(n, 1, 8, 8, generator=g), y


def test_int8_path_gives_an_accuracy_and_a_smaller_file():
    torch.manual_seed(0)
    model = create_model("cnn", num_classes=4, in_channels=1, width=0.25)
    x, y = _separable(256, seed=1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(40):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    test = _separable(200, seed=2)
    cfg = EfficiencyConfig(batch_sizes=[1], calibration_size=64, **CHEAP)
    eff = profile_student(model, (1, 8, 8), cfg, calibration=x, test=test)

    model.eval()
    with torch.no_grad():
        fp32_top1 = 100.0 * (model(test[0]).argmax(1) == test[1]).float().mean().item()
    assert fp32_top1 > 90  # trained: the int8 comparison below means something
    int8 = eff["int8"]
    assert 0 <= int8["top1"] <= 100
    assert int8["top1"] - int8["top1_delta"] == pytest.approx(fp32_top1)
    assert abs(int8["top1_delta"]) <= 5  # a calibrated int8 model keeps its accuracy
    assert eff["onnx_int8_size_kb"] < eff["onnx_fp32_size_kb"]
    assert eff["onnx_max_abs_diff"] <= 1e-4


def test_the_efficiency_block_has_the_record_schema():
    model = create_model("mlp", num_classes=3, in_channels=1, width=0.25)
    test = (torch.randn(30, 1, 8, 8), torch.arange(30) % 3)
    cfg = EfficiencyConfig(batch_sizes=[1, 4], calibration_size=16, **CHEAP)
    eff = profile_student(model, (1, 8, 8), cfg, calibration=torch.randn(40, 1, 8, 8), test=test)
    assert set(eff) == {
        "params", "params_m", "params_trainable", "flops", "macs", "mflops", "size_bytes",
        "size_kb", "onnx_fp32_size_kb", "onnx_int8_size_kb", "onnx_max_abs_diff", "int8",
        "latency", "host", "measured_at", "settings",
    }  # fmt: skip
    assert set(eff["latency"]) == {"torch_fp32", "ort_fp32", "ort_int8"}
    for by_batch in eff["latency"].values():
        assert set(by_batch) == {"bs1", "bs4"}
        for stats in by_batch.values():
            assert set(stats) == {"latency_ms_p50", "latency_ms_p90", "runs"}
            assert 0 < stats["latency_ms_p50"] <= stats["latency_ms_p90"] < math.inf
    assert eff["macs"] * 2 == eff["flops"] and eff["params"] == eff["params_trainable"]
    assert eff["size_kb"] == eff["size_bytes"] / 1024
    assert set(eff["host"]) == {
        "cpu", "threads", "cores", "machine", "platform", "python", "torch", "onnxruntime",
    }  # fmt: skip
    assert eff["settings"]["batch_sizes"] == [1, 4] and "keep_models" not in eff["settings"]
    assert datetime.fromisoformat(eff["measured_at"]).tzinfo is not None
    assert set(eff["int8"]) == {"top1", "top1_delta", "mode"} and eff["int8"]["mode"] == "static"


def test_backends_can_be_switched_off():
    model = create_model("mlp", num_classes=3, in_channels=1, width=0.25)
    cfg = EfficiencyConfig(batch_sizes=[2], backends=["torch_fp32"], **CHEAP)
    eff = profile_student(model, (1, 8, 8), cfg, test=(torch.randn(6, 1, 8, 8), torch.zeros(6)))
    assert list(eff["latency"]) == ["torch_fp32"] and list(eff["latency"]["torch_fp32"]) == ["bs2"]
    assert eff["onnx_fp32_size_kb"] is None and eff["int8"]["top1"] is None


def test_latency_statistics_are_finite_positive_and_cover_the_runs():
    stats = measure_latency(lambda x: x.sum(), torch.ones(100), warmup=2, min_time_s=0, min_runs=7)
    assert stats["runs"] == 7
    assert 0 < stats["latency_ms_p50"] <= stats["latency_ms_p90"] < math.inf


class _Spy(nn.Module):
    """Records the torch thread count and inference mode seen inside the timed call."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[tuple[int, bool]] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.add((torch.get_num_threads(), torch.is_inference_mode_enabled()))
        return x


def test_torch_latency_honours_the_thread_setting_and_restores_it():
    torch.set_num_threads(1)
    spy = _Spy()
    art = Artifacts(spy, threads=2)
    time_backend("torch_fp32", art, np.zeros((1, 4), np.float32), 1, 0.0, 2)
    assert spy.seen == {(2, True)}
    assert torch.get_num_threads() == 1


def test_ort_sessions_get_the_thread_setting(monkeypatch):
    import kdbench.efficiency.backends as backends

    threads_seen = []

    def spy(path, threads=1):
        threads_seen.append(threads)
        session = ort_session(path, threads)
        assert session.get_session_options().intra_op_num_threads == threads
        return session

    monkeypatch.setattr(backends, "ort_session", spy)
    model = create_model("mlp", num_classes=3, in_channels=1, width=0.25)
    cfg = EfficiencyConfig(threads=2, batch_sizes=[1], backends=["ort_fp32", "ort_int8"], **CHEAP)
    eff = profile_student(model, (1, 8, 8), cfg)
    assert threads_seen == [2, 2] and eff["host"]["threads"] == 2


def test_unknown_backend_is_a_config_error(smoke_config):
    with pytest.raises(ConfigError, match=r"efficiency.backends.*known backends: ort_fp32"):
        smoke_config("efficiency.backends=[torch_fp32,tflite]")


def test_a_cell_record_carries_the_efficiency_block(smoke_config):
    record = run_cell(smoke_config("name=eff", "efficiency.batch_sizes=[1,8]"))
    assert record["status"] == "ok"
    eff = record["efficiency"]
    assert set(eff["latency"]) == {"torch_fp32", "ort_fp32", "ort_int8"}
    assert set(eff["latency"]["ort_int8"]) == {"bs1", "bs8"}
    assert eff["onnx_max_abs_diff"] <= 1e-4
    # int8 accuracy is measured on the same test split as the cell's own top-1
    assert eff["int8"]["top1"] - eff["int8"]["top1_delta"] == pytest.approx(
        record["metrics"]["top1"], abs=1e-3
    )


def test_kdbench_profile_prints_a_table_and_writes_csv(tmp_path, capsys):
    from kdbench.profile import main

    out = tmp_path / "profile.csv"
    main(
        ["--models", "resnet8,mlp", "--input-shape", "1,8,8", "--batch-sizes", "1,2"]
        + ["--warmup", "0", "--min-time-s", "0", "--min-runs", "1", "--out", str(out)]
    )
    printed = capsys.readouterr().out
    assert "resnet8" in printed and "bs2_ort_int8_ms" in printed
    rows = list(csv.DictReader(out.open()))
    assert [r["model"] for r in rows] == ["resnet8", "mlp"]
    r8 = rows[0]
    assert float(r8["mflops"]) == count_flops(create_model("resnet8", 10, 1), (1, 1, 8, 8)) / 1e6
    assert np.isfinite(float(r8["latency_ms_p50_bs1_ort_fp32"])) and r8["host_threads"] == "1"


def test_kdbench_profile_rejects_an_unknown_model(tmp_path, capsys):
    from kdbench.profile import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--models", "resnet9", "--out", str(tmp_path / "p.csv")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kdbench-profile: error: unknown model 'resnet9'; known models:")
