"""Vision transformers (vit, cct), DeiT's distillation token, the transformer recipe, and
transformers in the efficiency pipeline and beside CNNs in feature methods."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
from omegaconf import OmegaConf

from kdbench.config import CONF_DIR, ModelConfig, OptimConfig
from kdbench.distill import METHODS
from kdbench.efficiency.counts import count_flops, count_params
from kdbench.efficiency.export import export_onnx, max_abs_diff, ort_session
from kdbench.efficiency.int8 import quantize_int8
from kdbench.errors import ConfigError, KdbenchError
from kdbench.inputs import image_spec
from kdbench.models import build_model, create_model
from kdbench.optim import decay_exempt_names, param_groups, with_warmup
from kdbench.runner import run_cell

from .conftest import compose_config

TINY = {"depth": 2, "embed_dim": 16, "heads": 2, "mlp_ratio": 2.0}


def student_yaml(name: str) -> ModelConfig:
    node = OmegaConf.load(f"{CONF_DIR}/student/{name}.yaml")
    return ModelConfig(**OmegaConf.to_container(node))


# Hassani et al. (2021), Table 1 (CIFAR-10), in millions, as printed.
PUBLISHED = [("cct_2_3x2", 0.284), ("cct_7_3x1", 3.76), ("vit_lite_7_4", 3.717)]


@pytest.mark.parametrize(("name", "millions"), PUBLISHED)
def test_published_configs_have_the_published_parameter_counts(name, millions):
    model = build_model(student_yaml(name), image_spec(3, 32), 10)
    digits = len(str(millions).split(".")[1])
    assert round(count_params(model) / 1e6, digits) == millions


def test_sinusoidal_positions_are_not_parameters():
    learnable = count_params(create_model("cct", 10, **TINY, conv_layers=2))
    sine = count_params(create_model("cct", 10, **TINY, conv_layers=2, positional="sine"))
    assert learnable - sine == 8 * 8 * 16  # 64 tokens x 16 dims, only when learned


@pytest.mark.parametrize("name", ["vit", "cct"])
@pytest.mark.parametrize("side", [8, 32])
def test_features_are_patch_tokens_on_the_token_grid(name, side):
    size = {"patch_size": 4} if name == "vit" else {"conv_layers": 2}
    model = create_model(name, 5, spec=image_spec(3, side), **TINY, **size).eval()
    out = model.forward_features(torch.randn(2, 3, side, side))
    grid = side // 4
    assert out.logits.shape == (2, 5) and out.embedding.shape == (2, 16)
    assert [f.shape for f in out.features] == [(2, 16, grid, grid)] * 2


def test_bad_patch_size_and_heads_are_one_line_errors():
    with pytest.raises(ConfigError, match="patch_size=5 does not divide"):
        create_model("vit", 10, patch_size=5)
    with pytest.raises(ConfigError, match="multiple of heads"):
        create_model("vit", 10, embed_dim=10, heads=4)


# ------------------------------------------------------------------ the distillation token


@pytest.mark.parametrize("name", ["vit", "cct"])
def test_distillation_token_adds_a_head_and_the_logits_are_the_mean(name):
    torch.manual_seed(0)
    model = create_model(name, 7, spec=image_spec(1, 8), **TINY).eval()
    before = count_params(model)
    model.enable_distillation_token()
    model.enable_distillation_token()  # idempotent
    assert count_params(model) - before == 16 + (16 * 7 + 7)  # token + head
    x = torch.randn(3, 1, 8, 8)
    out = model.forward_features(x)
    assert not torch.allclose(out.heads["cls"], out.heads["dist"])
    assert torch.allclose(out.logits, (out.heads["cls"] + out.heads["dist"]) / 2)
    assert torch.equal(model(x), out.logits)
    # a kept DeiT student reloads as one from its weights alone
    fresh = create_model(name, 7, spec=image_spec(1, 8), **TINY).eval()
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh(x), model(x))


def test_deit_refuses_a_cnn_student_before_anything_trains():
    with pytest.raises(ConfigError, match="distill=deit needs a student with a distillation"):
        from kdbench.validate import validate

        validate(compose_config(["distill=deit", "student=resnet8"]))
    cls = METHODS.get("deit")
    with pytest.raises(KdbenchError, match="deit needs a student with a distillation token"):
        cls(cls.Params(), create_model("cnn", 10), None, None)


# -------------------------------------------------------------------------- the recipe


def test_decay_exempt_groups_hold_norms_biases_tokens_and_positions():
    model = create_model("vit", 10, **TINY)
    model.enable_distillation_token()
    exempt = decay_exempt_names(model)
    assert {"cls_token", "dist_token", "pos_embed", "norm.weight", "head.bias"} <= exempt
    assert "blocks.0.norm1.weight" in exempt and "blocks.0.attn.qkv.weight" not in exempt
    assert "tokenizer.weight" not in exempt and "head.weight" not in exempt
    groups = param_groups(model, OptimConfig(name="adamw", decay_exempt=True))
    assert groups[1]["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    assert {names[id(p)] for p in groups[1]["params"]} == exempt
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert len(param_groups(model, OptimConfig())) == len(list(model.parameters()))


def test_warmup_is_linear_then_the_schedule_over_the_rest():
    factor = with_warmup(lambda step, total: 1.0 - step / total, warmup=4)
    assert [factor(s, 14) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert factor(4, 14) == 1.0 and factor(9, 14) == 0.5  # 5 of the remaining 10 steps


def test_label_smoothing_reaches_the_ce_term():
    cls = METHODS.get("kd")
    kd = cls(cls.Params(), None, None, None)
    z, y = torch.randn(4, 10, dtype=torch.float64), torch.tensor([0, 1, 2, 3])
    kd.label_smoothing = 0.1
    logp = torch.log_softmax(z, 1)
    smoothed = -(0.9 * logp[torch.arange(4), y] + 0.1 * logp.mean(1)).mean()  # eps/K on all
    assert torch.allclose(kd.ce(z, y), smoothed)


def test_transformer_recipe_composes_and_is_part_of_the_identity():
    from kdbench.records import cell_key
    from kdbench.validate import validate

    plain = validate(compose_config(["student=vit_tiny"]))
    recipe = validate(compose_config(["student=vit_tiny", "recipe=transformer"]))
    assert recipe.train.optim.name == "adamw" and recipe.train.optim.decay_exempt
    assert recipe.train.label_smoothing == 0.1 and recipe.train.optim.warmup_epochs == 10
    assert cell_key(plain) != cell_key(recipe)
    smoothing = validate(compose_config(["student=vit_tiny", "train.label_smoothing=0.2"]))
    assert cell_key(smoothing) != cell_key(plain)


# ------------------------------------------------------------------------- efficiency


def test_flops_of_one_block_equal_the_hand_count():
    """FlopCounterMode counts 2 per multiply-add of QKV, QK^T, AV, the projection and the MLP."""
    from kdbench.models.vit import Block

    n, d, heads, ratio = 17, 32, 4, 2.0
    hidden = int(d * ratio)
    qkv = 2 * n * d * 3 * d
    qk = 2 * heads * n * n * (d // heads)
    av = 2 * heads * n * n * (d // heads)
    proj = 2 * n * d * d
    mlp = 2 * n * d * hidden + 2 * n * hidden * d
    block = Block(d, heads, ratio)
    assert count_flops(block, (1, n, d)) == qkv + qk + av + proj + mlp


def test_flops_of_a_whole_vit_are_tokenizer_blocks_and_head():
    model = create_model("vit", 10, spec=image_spec(3, 32), **TINY, patch_size=4)
    n, d, hidden = 65, 16, 32  # 8 x 8 patches + the class token
    patch = 2 * 64 * (3 * 4 * 4) * d
    block = 2 * n * d * 3 * d + 2 * 2 * n * n * d + 2 * n * d * d + 2 * 2 * n * d * hidden
    assert count_flops(model, (1, 3, 32, 32)) == patch + 2 * block + 2 * d * 10


@pytest.mark.parametrize("name", ["vit", "cct"])
def test_exported_deit_student_gives_the_mean_of_both_heads(name, tmp_path):
    torch.manual_seed(0)
    model = create_model(name, 10, spec=image_spec(3, 32), **TINY)
    model.enable_distillation_token()
    with torch.no_grad():  # heads that differ, so the mean is a real check
        model.head_dist.bias.add_(torch.linspace(-1, 1, 10))
    model.eval()
    path = export_onnx(model, (3, 32, 32), tmp_path / f"{name}.onnx")
    session = ort_session(path, threads=1)
    x = torch.randn(3, 3, 32, 32)
    assert max_abs_diff(model, session, x) <= 1e-4
    heads = model.forward_features(x).heads
    (logits,) = session.run(None, {"input": x.numpy()})
    mean = ((heads["cls"] + heads["dist"]) / 2).detach().numpy()
    assert np.abs(logits - mean).max() <= 1e-4


def test_int8_transformer_quantizes_the_matmuls_and_keeps_softmax_and_layernorm_fp32(tmp_path):
    torch.manual_seed(0)
    model = create_model("vit", 10, spec=image_spec(3, 32), **TINY).eval()
    fp32 = export_onnx(model, (3, 32, 32), tmp_path / "vit.onnx")
    int8 = quantize_int8(
        fp32, tmp_path / "vit.int8.onnx", np.random.rand(16, 3, 32, 32).astype("f")
    )
    graph = onnx.load(str(int8)).graph
    produced_by = {o: node for node in graph.node for o in node.output}

    def quantized_inputs(op: str) -> set[bool]:
        return {
            any(
                i in produced_by and produced_by[i].op_type == "DequantizeLinear"
                for i in node.input
            )
            for node in graph.node
            if node.op_type == op
        }

    assert quantized_inputs("MatMul") == {True}  # QKV, QK^T, AV, projections, MLP: int8
    for op in ("Softmax", "LayerNormalization"):
        # fp32 ops: ORT's static QDQ leaves them in float (no int8 kernel on CPU)
        nodes = [n for n in graph.node if n.op_type == op]
        assert nodes and not any(
            o in {i for m in graph.node if m.op_type == "QuantizeLinear" for i in m.input}
            and produced_by[o].op_type == "DequantizeLinear"
            for n in nodes
            for o in n.input
        )


# ------------------------------------------------------------------ heterogeneous pairs


PAIRS = [("vit", "cnn"), ("cnn", "vit"), ("cct", "resnet8")]


@pytest.mark.parametrize(("student", "teacher"), PAIRS)
@pytest.mark.parametrize("method", ["fitnet", "at", "sp", "pkt", "rkd", "kd", "dkd", "dist"])
def test_feature_and_logit_methods_pair_cnns_with_transformers(student, teacher, method):
    torch.manual_seed(0)
    spec = image_spec(3, 32)
    size = {"vit": TINY, "cct": {**TINY, "conv_layers": 2}}
    s = create_model(student, 10, spec=spec, **size.get(student, {}))
    t = create_model(teacher, 10, spec=spec, **size.get(teacher, {})).eval()
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    cls = METHODS.get(method)
    m = cls(cls.Params(), s, t, x[:2], 4, y)
    with torch.no_grad():
        teacher_out = t.forward_features(x)
    terms = m.loss_terms(s.forward_features(x), teacher_out, y, index=torch.arange(4))
    total = sum(terms.values())
    assert torch.isfinite(total)
    total.backward()


# -------------------------------------------------------------------------- end to end


@pytest.mark.parametrize(
    ("student", "method"),
    [
        ("vit_tiny", "deit"),
        ("cct_tiny", "deit_soft"),
        ("cct_tiny", "kd"),
        ("cct_tiny", "kd_ls"),
        ("cct_tiny", "dkd"),
        ("cct_tiny", "dist"),
        ("cct_tiny", "deit"),
    ],
)
def test_transformer_students_run_end_to_end_with_every_logit_method(smoke_config, student, method):
    cfg = smoke_config(
        f"student={student}",
        f"distill={method}",
        "teacher=cnn",
        "recipe=transformer",
        "train.optim.warmup_epochs=0.5",
    )
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    e = record["efficiency"]
    assert e["params"] > 0 and e["flops"] > 0 and e["onnx_max_abs_diff"] <= 1e-4
    assert e["onnx_fp32_size_kb"] > e["onnx_int8_size_kb"] > 0 and "top1" in e["int8"]
    assert set(e["latency"]) == {"torch_fp32", "ort_fp32", "ort_int8"}
    if method.startswith("deit"):
        assert record["training"]["teacher_stream"]["key"]  # logits from the shared stream


def test_a_transformer_teacher_distils_into_a_cnn_student(smoke_config):
    cfg = smoke_config("teacher=vit_tiny", "student=cnn_tiny", "distill=kd")
    assert cfg.teacher.recipe.optim.name == "adamw" and cfg.teacher.recipe.optim.decay_exempt
    record = run_cell(cfg)
    assert record["status"] == "ok", record.get("error")
    assert record["teacher_metrics"] is not None
