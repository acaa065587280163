"""Inputs described by the data: the input spec, models built from it, efficiency on real inputs."""

from __future__ import annotations

import pytest
import torch

from kdbench.efficiency import count_flops, profile_student
from kdbench.efficiency.export import onnx_input
from kdbench.errors import ConfigError
from kdbench.inputs import InputSpec, repeat_to
from kdbench.models import create_model, models_for


def test_spec_round_trips_and_knows_what_a_model_needs():
    image = InputSpec("image", (3, 32, 32))
    frames = InputSpec("sequence", (49, 10))
    tokens = InputSpec("tokens", (64,), vocab_size=8000, pad_index=0)
    assert (image.channels, image.length, image.dtype) == (3, None, torch.float32)
    assert (frames.channels, frames.length) == (10, 49)
    assert (tokens.length, tokens.dtype) == (64, torch.int64)
    for spec in (image, frames, tokens):
        assert InputSpec.from_dict(spec.to_dict()) == spec
    ids = tokens.random(50, seed=1)
    assert ids.dtype == torch.int64 and ids.min() >= 1 and ids.max() < 8000  # never padding
    assert frames.random(4).shape == (4, 49, 10)


@pytest.mark.parametrize(
    ("kind", "shape", "vocab"),
    [("video", (3, 8, 8), None), ("image", (3, 8), None), ("tokens", (16,), None)],
)
def test_impossible_specs_are_config_errors(kind, shape, vocab):
    with pytest.raises(ConfigError):
        InputSpec(kind, shape, vocab_size=vocab)


def test_repeat_to_cycles_the_examples():
    x = torch.arange(3).view(3, 1)
    assert repeat_to(x, 7).flatten().tolist() == [0, 1, 2, 0, 1, 2, 0]


def test_an_image_model_refuses_other_kinds_in_one_line():
    frames = InputSpec("sequence", (49, 10))
    with pytest.raises(
        ConfigError, match="model 'resnet20' takes image inputs, but the data gives"
    ):
        create_model("resnet20", 10, spec=frames)
    assert "resnet20" in models_for("image")


def test_models_get_channels_from_the_spec():
    grey = create_model("cnn", 10, spec=InputSpec("image", (1, 28, 28)))
    assert grey(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert count_flops(grey, (1, 1, 28, 28)) > count_flops(grey, (1, 1, 8, 8))


def test_onnx_inputs_keep_integer_ids_and_make_features_float32():
    import numpy as np

    assert onnx_input(np.arange(4)).dtype == np.int64
    assert onnx_input(np.ones(4, dtype=np.float64)).dtype == np.float32


def test_efficiency_runs_on_the_examples_given(tmp_path):
    """FLOPs, export, parity and latency all run on the real inputs passed, not random ones."""
    model = create_model("mlp", 4, spec=InputSpec("image", (1, 8, 8)), depth=1, width=0.125)
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0][:1].clone()))
    examples = torch.full((3, 1, 8, 8), 0.5)
    from kdbench.config import EfficiencyConfig

    cfg = EfficiencyConfig(warmup=0, min_time_s=0.0, min_runs=1, backends=["torch_fp32"])
    eff = profile_student(model, InputSpec("image", (1, 8, 8)), cfg, examples=examples)
    assert eff["params"] > 0 and eff["latency"]["torch_fp32"]["bs32"]["latency_ms_p50"] >= 0
    assert seen and all(torch.equal(s, examples[:1]) for s in seen)
