"""Text data (SST-2, the user's own file), the text models, logits-file teachers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from kdbench.config import DataConfig
from kdbench.data import load_data
from kdbench.data.text.tables import read_table
from kdbench.errors import ConfigError, DataError, KdbenchError
from kdbench.inputs import InputSpec
from kdbench.logits_file import write_logits_file
from kdbench.models import create_model
from kdbench.runner import run_cell

WORDS = {
    "good": ["great", "fine", "lovely", "superb", "moving", "warm", "funny", "bright"],
    "bad": ["awful", "dull", "boring", "weak", "flat", "tedious", "stale", "clumsy"],
}
FAST = ["efficiency.min_time_s=0.01", "efficiency.warmup=1", "efficiency.calibration_size=16"]


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    """One cache for the session: SST-2 is unpacked once."""
    monkeypatch.setenv("KDBENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def write_reviews(path, n=120, seed=0, sep=","):
    rng = np.random.default_rng(seed)
    lines = [f"text{sep}label"]
    for i in range(n):
        label = ("good", "bad")[i % 2]
        words = rng.choice(WORDS[label], size=int(rng.integers(2, 7))).tolist()
        lines.append(f"the film is {' '.join(words)}{sep}{label}")
    path.write_text("\n".join(lines) + "\n")
    return path


def textfile_overrides(path, *extra):
    return [
        "data=textfile",
        f"data.path={path}",
        "data.text_column=text",
        "data.max_length=12",
        "data.vocab_size=60",
        *extra,
    ]


# --- reading files: every bad input is one DataError naming the fix ---------------------


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"text,label\n", "no rows"),
        (b"sentence,label\nok,1\n", "no column 'text'"),
        (b"text,label\ncaf\xe9 bien,1\nmal,0\n", "not UTF-8"),
        (b"text,label\ngood,1\nbad,\n", "line 3 has no label"),
        (b"text,label\ngood,1\nbad,NaN\n", "line 3 has no label"),
    ],
)
def test_bad_text_files_are_one_line(tmp_path, content, message):
    path = tmp_path / "reviews.csv"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        read_table(path, "text", "label")
    assert "\n" not in str(err.value)


def test_missing_file_and_one_class(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_table(tmp_path / "nope.csv", "text", "label")
    path = tmp_path / "one.csv"
    path.write_text("text,label\na,x\nb,x\nc,x\n")
    with pytest.raises(DataError, match="1 class"):
        load_data(DataConfig(name="textfile", path=str(path), text_column="text"))


def test_bom_is_accepted_and_string_labels_sorted(tmp_path):
    path = write_reviews(tmp_path / "r.csv")
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    table = read_table(path, "text", "label")
    assert table.labels[:2] == ["good", "bad"]
    data = load_data(DataConfig(name="textfile", path=str(path), text_column="text", max_length=10))
    assert data.classes == ["bad", "good"]  # sorted
    assert data.spec.kind == "tokens" and data.spec.shape == (10,)
    assert data.train[0].dtype == torch.int64
    assert "tokenizer.json" in data.artifacts


def test_cli_bad_text_file_exits_2(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"text,label\ncaf\xe9,1\nthe,0\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from kdbench.cli import main; main()",
            *textfile_overrides(path),
            "student=textcnn",
            "distill=none",
            "trainer=smoke",
            f"results_dir={tmp_path}/r",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "not UTF-8" in lines[0], proc.stderr


def test_tokenizer_sees_the_training_split_only(tmp_path):
    path = write_reviews(tmp_path / "train.csv")
    test = tmp_path / "test.csv"
    test.write_text("text,label\nzyzzyva quokka,good\nxylophone,bad\n")
    from tokenizers import Tokenizer

    data = load_data(
        DataConfig(name="textfile", path=str(path), test_path=str(test), text_column="text")
    )
    vocab = Tokenizer.from_str(data.artifacts["tokenizer.json"].decode()).get_vocab()
    assert "superb" in vocab and "quokka" not in vocab and "zyzzyva" not in vocab
    assert len(data.test[1]) == 2 and data.rows.test.tolist() == [0, 1]


def test_sst2_splits():
    data = load_data(DataConfig(name="sst2", max_length=16, vocab_size=500))
    assert data.display_name == "SST-2 (GLUE dev as test)"
    n_train, n_val = len(data.train[1]), len(data.val[1])
    assert n_train + n_val == 67349 and len(data.test[1]) == 872
    assert torch.bincount(data.test[1]).tolist() == [428, 444]
    assert data.rows.train_size == 67349 and data.rows.test_size == 872


# --- models ---------------------------------------------------------------------------

SPEC = InputSpec("tokens", (20,), vocab_size=50)


def lstm_params(inp, h):
    """PyTorch's LSTM: W_ih (4h x in), W_hh (4h x h), b_ih, b_hh (4h each)."""
    return 4 * h * inp + 4 * h * h + 8 * h


@pytest.mark.parametrize(
    "name, size, expected",
    [
        # embedding V*E + conv_k: E*k*F + F for k = 3,4,5 + linear 3F*C + C
        (
            "textcnn",
            dict(embed_dim=8, width=0.1),
            50 * 8 + sum(8 * k * 10 + 10 for k in (3, 4, 5)) + 30 * 3 + 3,
        ),
        # embedding + 2 directions x LSTM(E->H) + head (2H*H + H) + classifier (H*C + C)
        (
            "bilstm",
            dict(embed_dim=8, width=0.1),
            50 * 8 + 2 * lstm_params(8, 10) + 20 * 10 + 10 + 10 * 3 + 3,
        ),
        # embedding + positions (L+1)*E + cls E + per block [2 LN (4E) + qkv (3E*E+3E) + proj
        # (E*E+E) + MLP (E*2E+2E + 2E*E+E)] + final LN 2E + classifier E*C + C
        (
            "text_transformer",
            dict(embed_dim=8, depth=2, heads=2),
            50 * 8
            + 21 * 8
            + 8
            + 2 * (4 * 8 + 3 * 64 + 24 + 64 + 8 + 128 + 16 + 128 + 8)
            + 16
            + 8 * 3
            + 3,
        ),
    ],
)
def test_parameter_counts_by_hand(name, size, expected):
    model = create_model(name, 3, spec=SPEC, **size)
    assert sum(p.numel() for p in model.parameters()) == expected


@pytest.mark.parametrize("name", ["textcnn", "bilstm", "text_transformer"])
@pytest.mark.parametrize("pooling", [None, "alt"])
def test_padding_changes_nothing(name, pooling):
    """The same sentences padded to 12 or 20 tokens give the same logits."""
    alt = {"bilstm": "last", "text_transformer": "mean", "textcnn": None}[name]
    size = {"pooling": alt} if pooling and alt else {}
    torch.manual_seed(0)
    long = create_model(name, 2, spec=SPEC, **size).eval()
    short = create_model(name, 2, spec=InputSpec("tokens", (12,), vocab_size=50), **size).eval()
    state = long.state_dict()
    if "positions" in state:  # learned positions: the short model takes the first ones
        state["positions"] = state["positions"][:, : short.positions.shape[1]]
    short.load_state_dict(state)
    x = torch.randint(1, 50, (4, 20))
    for i, n in enumerate((1, 3, 7, 12)):
        x[i, n:] = 0
    torch.testing.assert_close(long(x), short(x[:, :12]), atol=1e-5, rtol=1e-5)


def test_lstm_flops_counted_by_hand():
    from kdbench.efficiency.counts import count_flops

    model = create_model("bilstm", 2, spec=SPEC, embed_dim=8, width=0.1).eval()
    x = torch.randint(1, 50, (1, 20))
    # per step and direction 2 * 4H(in + H); head 2 * (2H*H); classifier 2 * (H*C); lookups 0
    expected = 2 * 20 * 2 * 4 * 10 * (8 + 10) + 2 * 20 * 10 + 2 * 10 * 2
    assert count_flops(model, (1, 20), x) == expected


# --- end to end -------------------------------------------------------------------------


def _efficiency_filled(record):
    e = record["efficiency"]
    for key in (
        "params",
        "flops",
        "size_kb",
        "onnx_fp32_size_kb",
        "onnx_int8_size_kb",
        "onnx_max_abs_diff",
    ):
        assert e[key] is not None and e[key] > 0 or key == "onnx_max_abs_diff", key
    assert e["int8"]["top1"] is not None and e["int8"]["quantizer"] in ("static", "dynamic")
    for backend in ("torch_fp32", "ort_fp32", "ort_int8"):
        assert e["latency"][backend]["bs1"]["latency_ms_p50"] > 0


@pytest.mark.parametrize("student", ["textcnn", "bilstm", "text_transformer"])
def test_sst2_end_to_end(smoke_config, student):
    cfg = smoke_config(
        "data=sst2",
        "data.train_subset=400",
        "data.max_length=16",
        "data.vocab_size=300",
        f"student={student}",
        "teacher=textcnn",
        "distill=kd",
        *FAST,
    )
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    assert record["data_info"]["display_name"] == "SST-2 (GLUE dev as test)"
    assert record["data_info"]["input_spec"]["kind"] == "tokens"
    _efficiency_filled(record)
    assert "tokenizer.json" in record["artifacts"]["files"]
    expected = "static" if student == "textcnn" else "dynamic"
    assert record["efficiency"]["int8"]["quantizer"] == expected


def test_textfile_end_to_end(smoke_config, tmp_path):
    path = write_reviews(tmp_path / "reviews.csv", n=200)
    cfg = smoke_config(
        *textfile_overrides(path), "student=bilstm", "teacher=textcnn", "distill=kd", *FAST
    )
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    _efficiency_filled(record)


# --- logits-file teachers ---------------------------------------------------------------


def _live_and_file(smoke_config, tmp_path, *extra):
    path = write_reviews(tmp_path / "reviews.csv", n=200)
    base = [
        *textfile_overrides(path),
        "student=textcnn",
        "teacher=bilstm",
        "distill=kd",
        "efficiency.enabled=false",
        "trainer.limit_train_batches=null",
        *extra,
    ]
    live_cfg = smoke_config(*base, "name=live")
    live = run_cell(live_cfg)
    assert live["status"] == "ok", live.get("error")
    from kdbench.teachers import TeacherStore

    data = load_data(live_cfg.data)
    teacher, _ = TeacherStore(live_cfg.teacher_store).get(live_cfg, data)
    logits = write_logits_file(teacher, data, tmp_path / "teacher.npz")
    file_cfg = smoke_config(*base, "name=file", "teacher=logits_file", f"teacher.path={logits}")
    return live, run_cell(file_cfg), logits


def _weights(record, results):
    folder = next(results.glob(f"{record['experiment']}/cells/*/student.pt"))
    return torch.load(folder, weights_only=True)


@pytest.mark.parametrize("stream", ["true", "false"])
def test_logits_file_teacher_equals_live_teacher(smoke_config, tmp_path, stream):
    live, from_file, logits = _live_and_file(
        smoke_config, tmp_path, f"trainer.teacher_stream={stream}"
    )
    assert from_file["status"] == "ok", from_file.get("error")
    a, b = _weights(live, tmp_path), _weights(from_file, tmp_path)
    for key in a:
        torch.testing.assert_close(a[key], b[key], atol=1e-6, rtol=0)
    assert from_file["metrics"]["top1"] == live["metrics"]["top1"]
    assert from_file["metrics"]["agreement"] == pytest.approx(live["metrics"]["agreement"])
    assert from_file["teacher_metrics"]["top1"] == pytest.approx(live["teacher_metrics"]["top1"])
    from kdbench.fileio import sha256_file

    assert from_file["teacher"]["sha256"] == sha256_file(logits)
    assert from_file["resolved"]["teacher"] == {
        "name": "logits_file",
        "sha256": sha256_file(logits),
    }


def test_bad_logits_files_are_refused(smoke_config, tmp_path):
    path = write_reviews(tmp_path / "reviews.csv")
    base = [*textfile_overrides(path), "student=textcnn", "distill=kd", "teacher=logits_file"]
    cases = {
        "nan.npy": (np.array([[0.0, np.nan]] * 3), "NaN"),
        "flat.npy": (np.zeros(5), "shape"),
    }
    for name, (array, message) in cases.items():
        np.save(tmp_path / name, array)
        with pytest.raises(ConfigError, match=message):
            smoke_config(*base, f"teacher.path={tmp_path / name}")
    with pytest.raises(ConfigError, match="not found"):
        smoke_config(*base, f"teacher.path={tmp_path / 'missing.npy'}")
    np.save(tmp_path / "ok.npy", np.zeros((120, 2)))
    with pytest.raises(ConfigError, match="features"):
        smoke_config(*base, f"teacher.path={tmp_path / 'ok.npy'}", "distill=fitnet")
    with pytest.raises(ConfigError, match="augment"):
        smoke_config(*base, f"teacher.path={tmp_path / 'ok.npy'}", "data.augment=[flip]")
    # rows and classes are checked against the data: one line, a failed user-error record
    for name, array, message in (
        ("rows.npy", np.zeros((7, 2)), "has 7 rows"),
        ("classes.npy", np.zeros((120, 3)), "3 classes"),
    ):
        np.save(tmp_path / name, array)
        record = run_cell(smoke_config(*base, f"teacher.path={tmp_path / name}"))
        assert record["status"] == "failed" and record["error"]["user_error"]
        assert message in record["error"]["message"]


def test_logits_file_without_test_logits(tmp_path):
    from kdbench.logits_file import load_logits_teacher

    path = write_reviews(tmp_path / "reviews.csv", n=100)
    test = write_reviews(tmp_path / "test.csv", n=10, seed=1)
    data = load_data(
        DataConfig(name="textfile", path=str(path), test_path=str(test), text_column="text")
    )
    logits = np.arange(200, dtype=np.float32).reshape(100, 2)
    np.save(tmp_path / "t.npy", logits)
    teacher = load_logits_teacher(tmp_path / "t.npy", data)
    assert teacher.test_logits is None
    # row i of the file is the i-th row of the ORIGINAL training file
    np.testing.assert_array_equal(teacher.train_logits.numpy(), logits[data.rows.train.numpy()])
    with pytest.raises(KdbenchError, match="cannot run"):
        teacher(data.train[0][:2])
