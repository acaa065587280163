"""Speech and sensor data end to end (issue 22): data sets, sequence models, methods,
FLOPs of recurrent cells and attention, ONNX/int8, re-measuring without the data.

Parameter and FLOP counts are checked against hand counts written out here from the
layer definitions (PyTorch's GRU/LSTM carry two bias vectors per gate), never by
calling the code under test.
"""

from __future__ import annotations

import json
import math
import wave
from pathlib import Path

import numpy as np
import pytest
import torch

from kdbench.config import DataConfig
from kdbench.data import load_data
from kdbench.data.audio.fsdd import archive_path
from kdbench.data.augment import build_augment, view_keys
from kdbench.efficiency.counts import count_flops, count_params
from kdbench.efficiency.formulas import attention_flops, rnn_layer_flops
from kdbench.errors import ConfigError, DataError, KdbenchError
from kdbench.inputs import InputSpec
from kdbench.models import create_model
from kdbench.runner import run_cell

from .test_resume import cli

SPEC = InputSpec("sequence", (49, 10))
HAS_FSDD = archive_path().is_file()
NEW_MODELS = ("gru", "lstm", "dscnn", "tcn", "transformer")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KDBENCH_CACHE", str(tmp_path / "cache"))


# ---------------------------------------------------------------- parameter counts


def test_gru_params_by_hand():
    # one layer, 64 units, 10 inputs: 3 gates x (W_ih 64x10 + W_hh 64x64 + b_ih 64 + b_hh 64)
    h, i, k = 64, 10, 10
    gru = 3 * (h * i + h * h + 2 * h)
    assert count_params(create_model("gru", k, spec=SPEC, depth=1, width=0.64)) == gru + h * k + k


def test_bidirectional_two_layer_lstm_params_by_hand():
    h, i, k = 32, 10, 10
    layer1 = 2 * 4 * (h * i + h * h + 2 * h)  # two directions
    layer2 = 2 * 4 * (h * 2 * h + h * h + 2 * h)  # input: both directions of layer 1
    head = 2 * h * k + k
    m = create_model("lstm", k, spec=SPEC, depth=2, width=0.32, bidirectional=True)
    assert count_params(m) == layer1 + layer2 + head


def test_dscnn_params_by_hand():
    c, k, blocks = 64, 10, 4
    stem = c * 1 * 10 * 4 + 2 * c  # 10x4 conv, no bias, + BN
    block = (c * 3 * 3 + 2 * c) + (c * c + 2 * c)  # depthwise 3x3 + BN, pointwise 1x1 + BN
    assert count_params(create_model("dscnn", k, spec=SPEC)) == stem + blocks * block + c * k + k


def test_tcn_params_by_hand():
    c, f, kern, k = 64, 10, 3, 10
    first = f * c * kern + 2 * c
    rest = 3 * (c * c * kern + 2 * c)
    assert count_params(create_model("tcn", k, spec=SPEC)) == first + rest + c * k + k


def test_transformer_params_by_hand():
    d, heads, ratio, depth, t, f, k = 32, 2, 2.0, 2, 49, 10, 10
    hid = int(ratio * d)
    embed = f * d + d + d + (t + 1) * d  # linear, class token, positions (T + 1)
    block = 2 * d + (3 * d * d + 3 * d) + (d * d + d) + 2 * d + (d * hid + hid) + (hid * d + d)
    head = 2 * d + d * k + k  # final LayerNorm, classifier
    m = create_model(
        "transformer", k, spec=SPEC, depth=depth, embed_dim=d, heads=heads, mlp_ratio=ratio
    )
    assert count_params(m) == embed + depth * block + head


@pytest.mark.parametrize("name", NEW_MODELS)
def test_sequence_models_give_features_and_embeddings(name):
    m = create_model(name, 10, spec=SPEC)
    out = m.forward_features(torch.randn(3, 49, 10))
    assert out.logits.shape == (3, 10) and out.embedding.shape[0] == 3 and out.features
    assert all(f.shape[0] == 3 and f.dim() in (3, 4) for f in out.features)


def test_sequence_models_refuse_images():
    with pytest.raises(ConfigError, match="takes sequence inputs"):
        create_model("gru", 10, in_channels=3)


# ---------------------------------------------------------------- FLOPs


def test_lstm_flops_by_hand():
    # Per step and direction: 2 * (4H*I + 4H*H) (gate pre-activations; 2 FLOPs per MAC);
    # classifier 2 * (2H) * K. Biases and gate nonlinearities are elementwise: not counted.
    t, i, h, k = 49, 10, 32, 10
    m = create_model("lstm", k, spec=SPEC, depth=1, width=0.32, bidirectional=True)
    expected = 2 * t * 2 * (4 * h * i + 4 * h * h) + 2 * (2 * h) * k
    assert count_flops(m, (1, 49, 10)) == expected
    assert rnn_layer_flops((t, 1, i), (4 * h, i), (4 * h, h)) == 2 * t * (4 * h * i + 4 * h * h)


def test_gru_flops_by_hand():
    t, i, h, k = 49, 10, 64, 10
    m = create_model("gru", k, spec=SPEC, depth=1, width=0.64)
    assert count_flops(m, (1, 49, 10)) == 2 * t * (3 * h * i + 3 * h * h) + 2 * h * k


def test_transformer_flops_by_hand():
    d, heads, hid, depth, n, f, k = 32, 2, 64, 1, 50, 10, 10  # n = 49 frames + class token
    linear = 2 * n * (3 * d * d + d * d + d * hid + hid * d)  # qkv, proj, MLP
    attention = 2 * n * n * d + 2 * n * n * d  # Q K^T and softmax(.) V over all heads
    expected = 2 * 49 * f * d + depth * (linear + attention) + 2 * d * k
    m = create_model("transformer", k, spec=SPEC, depth=depth, embed_dim=d, heads=heads)
    assert count_flops(m, (1, 49, 10)) == expected
    assert attention_flops(
        (1, heads, n, d // heads), (1, heads, n, d // heads), (1, heads, n, 8)
    ) == (2 * heads * n * n * (d // heads) + 2 * heads * n * n * 8)


# ---------------------------------------------------------------- augmentation


def test_time_shift_and_noise_are_registered_and_keyed():
    aug = build_augment(
        [{"name": "time_shift", "max_shift": 4}, {"name": "noise", "snr_db": 20}], "sequence"
    )
    x = torch.randn(6, 49, 10)
    keys = view_keys(0, 3, torch.arange(6))
    a = aug(x, keys)
    b = torch.cat([aug(x[:2], keys[:2]), aug(x[2:], keys[2:])])  # batch split: same views
    assert torch.equal(a, b) and not torch.equal(a, x)
    assert not torch.equal(a, aug(x, view_keys(0, 4, torch.arange(6))))  # next epoch differs
    with pytest.raises(ConfigError, match="sequence"):
        build_augment(["time_shift"], "image")


def test_edge_time_shift_repeats_the_edge_frame():
    aug = build_augment([{"name": "time_shift", "max_shift": 3}], "sequence")
    x = torch.arange(10.0).reshape(1, 10, 1).repeat(64, 1, 1)
    out = aug(x, view_keys(1, 0, torch.arange(64)))[..., 0]
    for row in out:  # a shifted copy of 0..9 with the vacated steps repeating 0 or 9
        s = int(row[5] - 5)
        assert abs(s) <= 3
        assert torch.equal(row, (torch.arange(10.0) + s).clamp(0, 9))


# ---------------------------------------------------------------- FSDD


@pytest.mark.skipif(not HAS_FSDD, reason="../shared/data/fsdd.tar.xz not present")
def test_fsdd_split_spec_and_normalization():
    data = load_data(DataConfig(name="fsdd"))
    assert data.spec == InputSpec("sequence", (49, 10))
    assert data.display_name == "FSDD (MFCC 49x10)"
    assert [len(s[1]) for s in (data.train, data.val, data.test)] == [2430, 270, 300]
    assert torch.bincount(data.test[1]).tolist() == [30] * 10  # 5 recordings x 6 speakers
    assert torch.bincount(data.val[1]).tolist() == [27] * 10  # stratified
    x = data.prepare(data.train[0])
    assert torch.allclose(x.mean(dim=(0, 1)), torch.zeros(10), atol=1e-3)
    assert torch.allclose(x.std(dim=(0, 1)), torch.ones(10), atol=1e-2)


@pytest.mark.skipif(not HAS_FSDD, reason="../shared/data/fsdd.tar.xz not present")
@pytest.mark.parametrize("student", NEW_MODELS)
def test_fsdd_cell_end_to_end_with_every_efficiency_column(smoke_config, student):
    cfg = smoke_config("data=fsdd", f"student={student}", "teacher=gru", "distill=kd")
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    assert record["data_info"]["input_spec"] == {
        "kind": "sequence",
        "shape": [49, 10],
        "vocab_size": None,
        "pad_index": 0,
    }
    _every_efficiency_column(record, "dynamic" if student in ("gru", "lstm") else "static")


def _every_efficiency_column(record: dict, mode: str) -> None:
    e = record["efficiency"]
    for key in ("params", "mflops", "onnx_fp32_size_kb", "onnx_int8_size_kb", "onnx_max_abs_diff"):
        assert e[key] is not None and e[key] > 0 or key == "onnx_max_abs_diff", key
    assert e["mflops"] > 0 and e["onnx_max_abs_diff"] < 1e-4
    assert e["int8"]["quantizer"] == mode and e["int8"]["top1"] is not None
    for backend in ("torch_fp32", "ort_fp32", "ort_int8"):
        for bs in ("bs1", "bs32"):
            assert e["latency"][backend][bs], (backend, bs)


# ---------------------------------------------------------------- audio folders


def write_wav(path: Path, x: np.ndarray, rate: int, channels: int = 1) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    if channels > 1:
        pcm = np.repeat(pcm[:, None], channels, axis=1)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())


def make_audio_folder(root: Path, classes=("low", "high"), per_class: int = 12) -> Path:
    rng = np.random.default_rng(0)
    for c, freq in zip(classes, (300.0, 2000.0, 900.0)):
        for i in range(per_class):
            rate = (8000, 16000, 11025)[i % 3]  # mixed rates: resampled to data.sample_rate
            t = np.arange(int(rate * (0.3 + 0.05 * i))) / rate
            x = 0.5 * np.sin(2 * math.pi * freq * t) + 0.01 * rng.standard_normal(len(t))
            write_wav(root / c / f"{i}.wav", x, rate, channels=1 + i % 2)
    return root


AUDIO = ["data=audiofolder", "data.sample_rate=8000", "data.duration=0.5"]


def test_audiofolder_cell_end_to_end(smoke_config, tmp_path):
    root = make_audio_folder(tmp_path / "wavs")
    cfg = smoke_config(*AUDIO, f"data.root={root}", "student=transformer", "teacher=gru")
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    assert record["data_info"]["input_spec"]["shape"] == [24, 10]  # 1 + (4000 - 320) // 160
    assert record["data_info"]["display_name"] == "audio folder wavs (MFCC 24x10)"
    _every_efficiency_column(record, "static")


def _audio_data(root: Path, **kw) -> object:
    return load_data(
        DataConfig(
            name="audiofolder",
            root=str(root),
            sample_rate=8000,
            duration=0.5,
            num_classes=None,
            **kw,
        )
    )


def test_audiofolder_skips_a_few_unreadable_files_with_one_warning(tmp_path):
    root = make_audio_folder(tmp_path / "wavs", per_class=12)
    (root / "low" / "notes.txt").write_text("not audio")
    with pytest.warns(UserWarning) as caught:
        data = _audio_data(root)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and messages[0].startswith(f"1 unreadable files under {root}")
    assert "notes.txt" in messages[0]
    assert sum(len(s[1]) for s in (data.train, data.val, data.test)) == 24


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("empty", "class folder {root}/high has no files; add .wav files to it or remove it"),
        ("single", "{root} has a single class (low); classification needs 2 or more class folders"),
        ("nowavs", "{root} has no class folders with files"),
        ("mostly_bad", "13 of 25 files under {root} cannot be read; first: {root}/high/0.wav"),
    ],
)
def test_audiofolder_bad_input_is_one_line(tmp_path, breakage, message):
    root = tmp_path / "wavs"
    if breakage == "empty":
        make_audio_folder(root, classes=("low",))
        (root / "high").mkdir()
    elif breakage == "single":
        make_audio_folder(root, classes=("low",))
    elif breakage == "nowavs":
        root.mkdir()
    else:
        make_audio_folder(root, per_class=12)
        for f in (root / "high").glob("*.wav"):
            f.write_bytes(b"junk")
        (root / "low" / "x.bin").write_bytes(b"junk")
    with pytest.raises(KdbenchError) as err:
        _audio_data(root)
    assert str(err.value).startswith(message.format(root=root))
    assert "\n" not in str(err.value)


def test_audiofolder_bad_input_exits_2_in_one_line(tmp_path, monkeypatch, capsys):
    root = make_audio_folder(tmp_path / "wavs", classes=("low",))
    args = [
        "trainer=smoke",
        *AUDIO,
        f"data.root={root}",
        "student=gru",
        "distill=none",
        f"results_dir={tmp_path}",
    ]
    code, _, err = cli(args, monkeypatch, capsys)
    assert code == 2
    assert err.splitlines() == [
        f"kdbench: error: {root} has a single class (low); classification needs 2 or more "
        "class folders"
    ]


# ---------------------------------------------------------------- arrays


def make_arrays(
    path: Path, n: int = 120, t: int = 32, c: int = 3, test: bool = True, **extra
) -> Path:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    x = rng.standard_normal((n, t, c)).astype(np.float32) + y[:, None, None]
    arrays = {"x": x, "y": y, "classes": np.array(["walk", "run", "sit"])}
    if test:
        arrays.update(x_test=x[:30] + 0.1, y_test=y[:30])
    arrays.update(extra)
    np.savez(path, **arrays)
    return path


def test_arrays_cell_end_to_end_and_profile_without_the_data(smoke_config, tmp_path, capsys):
    from kdbench.profile import main

    path = make_arrays(tmp_path / "imu.npz")
    cfg = smoke_config("data=arrays", f"data.path={path}", "student=gru", "teacher=tcn", "name=imu")
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    assert record["data_info"]["input_spec"]["shape"] == [32, 3]
    assert record["data_info"]["sizes"]["test"] == 30
    _every_efficiency_column(record, "dynamic")
    path.unlink()  # no data set present: re-measuring uses the kept student and inputs
    main([str(Path(cfg.results_dir) / "imu")])
    assert "re-measured 1 student(s)" in capsys.readouterr().out
    (folder,) = (Path(cfg.results_dir) / "imu").glob("cells/*/record.json")
    after = json.loads(folder.read_text())
    assert after["efficiency"]["measured_at"] >= record["efficiency"]["measured_at"]
    assert after["efficiency"]["latency"]["ort_int8"]["bs32"]


def test_arrays_normalizes_each_channel_and_draws_a_test_split(tmp_path):
    path = make_arrays(tmp_path / "a.npz", test=False)
    data = load_data(DataConfig(name="arrays", path=str(path), num_classes=None))
    assert [len(s[1]) for s in (data.train, data.val, data.test)] == [86, 10, 24]
    assert data.classes == ["walk", "run", "sit"] and data.num_classes == 3
    x = data.prepare(data.train[0])
    assert torch.allclose(x.mean(dim=(0, 1)), torch.zeros(3), atol=1e-4)


@pytest.mark.parametrize(
    "arrays, message",
    [
        ({"x": np.zeros((4, 5, 2))}, "has no 'y' array (has: x)"),
        ({"y": np.zeros(4, int)}, "has no 'x' array (has: y)"),
        ({"x": np.zeros((4, 5, 2)), "y": np.zeros(3, int)}, "y has shape (3,) but x has 4 windows"),
        (
            {"x": np.zeros((4, 5)), "y": np.zeros(4, int)},
            "x has shape (4, 5), need [N, T, C] (x[..., None]",
        ),
        (
            {"x": np.array([[[np.nan]]] * 4), "y": np.zeros(4, int)},
            "x holds 4 NaN/Inf values (first at x[0, 0, 0]); fill or drop",
        ),
        ({"x": np.zeros((4, 5, 2)), "y": np.full(4, 0.5)}, "y has dtype float64, need integer"),
    ],
)
def test_arrays_bad_input_is_one_line(tmp_path, arrays, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as err:
        load_data(DataConfig(name="arrays", path=str(path), num_classes=None))
    assert str(err.value).startswith(f"{path}: {message}") or str(err.value).startswith(
        f"{path} {message}"
    )
    assert "\n" not in str(err.value)


def test_arrays_bad_input_exits_2(tmp_path, monkeypatch, capsys):
    path = tmp_path / "bad.npz"
    np.savez(path, x=np.zeros((4, 5, 2)), y=np.zeros(3, int))
    args = [
        "trainer=smoke",
        "data=arrays",
        f"data.path={path}",
        "student=gru",
        "distill=none",
        f"results_dir={tmp_path}",
    ]
    code, _, err = cli(args, monkeypatch, capsys)
    assert code == 2 and len(err.splitlines()) == 1
    assert "y has shape (3,) but x has 4 windows; give one label per window of x" in err


# ---------------------------------------------------------------- methods on sequences


def test_fitnet_regresses_sequence_hints_linearly(smoke_config, tmp_path):
    path = make_arrays(tmp_path / "imu.npz")
    cfg = smoke_config(
        "data=arrays", f"data.path={path}", "student=transformer", "teacher=gru", "distill=fitnet"
    )
    record = run_cell(cfg)  # transformer hint [B, 33, 64] -> GRU hint [B, 32, 128]: resampled
    assert record["status"] == "ok", record.get("error")


def test_at_refuses_sequence_features_in_one_line(tmp_path, monkeypatch, capsys):
    path = make_arrays(tmp_path / "imu.npz")
    args = [
        "trainer=smoke",
        "data=arrays",
        f"data.path={path}",
        "student=gru",
        "teacher=transformer",
        "distill=at",
        f"results_dir={tmp_path}",
    ]
    code, _, err = cli(args, monkeypatch, capsys)
    assert code == 2
    assert err.splitlines() == [
        "kdbench: error: at cannot pair student RecurrentNet with teacher FrameTransformer: "
        "it needs spatial feature maps, got shape (32, 64); pick another method or model"
    ]


@pytest.mark.parametrize("name", NEW_MODELS)
def test_sequence_models_export_to_onnx_with_parity(name, tmp_path):
    from kdbench.efficiency.export import export_onnx, max_abs_diff, ort_session

    torch.manual_seed(0)
    model = create_model(name, 10, spec=SPEC).eval()
    path = export_onnx(model, torch.randn(2, 49, 10), tmp_path / f"{name}.onnx")
    # batch 3: not the export example's batch, so the dynamic batch axis is exercised
    assert max_abs_diff(model, ort_session(path), torch.randn(3, 49, 10)) <= 1e-4


def test_labels_name_the_direction_of_recurrent_models():
    from kdbench.config import ModelConfig, model_label

    assert model_label(ModelConfig(name="lstm", width=1.28, bidirectional=True)) == "lstm-w1.28-bi"
    assert model_label(ModelConfig(name="gru", bidirectional=False)) == "gru-uni"
