"""bench/train_speed.py runs both paths and writes both ratios (tiny sizes; no times asserted)."""

from __future__ import annotations

from .conftest import load_bench


def test_train_speed_writes_both_ratios(tmp_path, capsys):
    out = tmp_path / "train_speed.md"
    args = ["--student", "cnn", "--teacher", "cnn", "--batch-size", "8", "--steps", "2"]
    args += ["--warmup", "1", "--repeats", "1", "--out", str(out)]
    ratios = load_bench("train_speed").main(args)
    assert set(ratios) == {"overhead_ratio", "kd_ratio", "stream_kd_ratio"}
    assert all(r > 0 for r in ratios.values())
    text = out.read_text()
    assert "| kdbench / plain loop |" in text and "| KD step / student-alone step, live" in text
    assert f"shared teacher stream | {ratios['stream_kd_ratio']:.3f}" in text
    assert f"{ratios['overhead_ratio']:.3f}" in text
    assert "kdbench / plain loop" in capsys.readouterr().out
