"""bench/grid_stream.py times a grid both ways and checks both give the same results (tiny)."""

from __future__ import annotations

from .conftest import load_bench


def test_grid_stream_times_both_grids_and_finds_the_same_results(tmp_path):
    out = tmp_path / "grid_stream.md"
    args = ["--teacher", "cnn", "--temperatures", "2", "4", "--alphas", "0.9"]
    args += ["--epochs", "1", "--samples", "200", "--out", str(out)]
    result = load_bench("grid_stream").main(args)
    assert result["live_s"] > 0 and result["stream_s"] > 0
    assert result["same_top1"] == 1.0  # the stream changes the speed, never the result
    text = out.read_text()
    assert "| shared teacher stream |" in text and "| live teacher in every cell |" in text
    assert "teacher passes" in text
