"""The teacher store under concurrency and damage: trained once, never loaded broken."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kdbench.data import load_data
from kdbench.teachers import TeacherStore

from .conftest import REPO, SMOKE

# One racer: compose the config, wait until all racers are ready, then ask the store.
RACER = """
import json, sys, time
from pathlib import Path
from kdbench.validate import validate
from kdbench.data import load_data
from kdbench.teachers import TeacherStore
from tests.conftest import compose_config
tmp, me, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
cfg = validate(compose_config(json.loads(sys.argv[4]), tmp))
data = load_data(cfg.data)
(tmp / f"ready-{me}").touch()
while len(list(tmp.glob("ready-*"))) < n:
    time.sleep(0.01)
_, meta = TeacherStore(cfg.teacher_store).get(cfg, data)
print(json.dumps({"cached": meta["cached"], "sha256": meta["sha256"], "key": meta["key"]}))
"""

# Enough batches that training takes longer than the racers' spread in start-up.
TEACHER = [*SMOKE, "trainer.limit_train_batches=20"]


def test_three_processes_racing_for_one_teacher_train_it_once(tmp_path):
    n = 3
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path), str(i), str(n), json.dumps(TEACHER)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(n)
    ]
    results = []
    for p in racers:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["cached"] for r in results) == [False, True, True]  # trained exactly once
    assert len({r["sha256"] for r in results}) == 1 and len({r["key"] for r in results}) == 1
    assert len(list((tmp_path / "teachers").iterdir())) == 1


@pytest.fixture
def stored(smoke_config):
    cfg = smoke_config()
    data = load_data(cfg.data)
    store = TeacherStore(cfg.teacher_store)
    _, meta = store.get(cfg, data)
    return cfg, data, store, store.path(meta["key"])


def test_truncated_teacher_weights_are_retrained_with_a_warning(stored):
    cfg, data, store, folder = stored
    weights = folder / "weights.pt"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.warns(UserWarning, match="do not match their checksum; retraining"):
        _, again = store.get(cfg, data)
    assert again["cached"] is False
    assert json.loads((folder / "meta.json").read_text())["sha256"] == again["sha256"]
    _, third = store.get(cfg, data)  # the repaired teacher is reused
    assert third["cached"] is True


def test_a_corrupted_teacher_meta_file_is_retrained_with_a_warning(stored):
    cfg, data, store, folder = stored
    (folder / "meta.json").write_text('{"sha256": "ab')
    with pytest.warns(UserWarning, match="checksum"):
        _, again = store.get(cfg, data)
    assert again["cached"] is False
    assert not list(folder.glob("*.tmp"))  # atomic writes leave no temp files behind
