"""The teacher store: trained once, reused, tamper detected."""

import json

import pytest

from kdbench.data import load_data
from kdbench.teachers import TeacherStore


def test_second_use_does_not_retrain(smoke_config):
    cfg = smoke_config()
    data = load_data(cfg.data)
    store = TeacherStore(cfg.teacher_store)
    _, first = store.get(cfg, data)
    _, second = store.get(cfg, data)
    assert first["cached"] is False and second["cached"] is True
    assert first["sha256"] == second["sha256"]


def test_a_different_recipe_is_a_different_teacher(smoke_config):
    a = smoke_config()
    b = smoke_config("teacher.recipe.optim.lr=0.01")
    data = load_data(a.data)
    store = TeacherStore(a.teacher_store)
    _, meta_a = store.get(a, data)
    _, meta_b = store.get(b, data)
    assert meta_a["key"] != meta_b["key"] and meta_b["cached"] is False


def test_tampered_weights_are_detected_and_retrained(smoke_config):
    cfg = smoke_config()
    data = load_data(cfg.data)
    store = TeacherStore(cfg.teacher_store)
    _, meta = store.get(cfg, data)
    weights = store.path(meta["key"]) / "weights.pt"
    blob = bytearray(weights.read_bytes())
    blob[-10] ^= 0xFF
    weights.write_bytes(bytes(blob))
    with pytest.warns(UserWarning, match="checksum"):
        _, again = store.get(cfg, data)
    assert again["cached"] is False
    stored = json.loads((store.path(meta["key"]) / "meta.json").read_text())
    assert stored["sha256"] == again["sha256"]


def test_same_identity_gives_the_same_weights_whatever_ran_before(smoke_config, tmp_path):
    """A teacher's key promises (architecture, data, recipe, seed): two stores that train
    it must produce identical weights, even when the global RNG was used differently."""
    import torch

    cfg = smoke_config()
    data = load_data(cfg.data)
    shas = []
    for i, noise in enumerate((0, 12345)):
        torch.manual_seed(noise)  # whatever the process did before must not matter
        _, meta = TeacherStore(tmp_path / f"store{i}").get(cfg, data)
        assert meta["cached"] is False
        shas.append(meta["sha256"])
    assert shas[0] == shas[1]
