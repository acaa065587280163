"""Shared fixtures: compose the real Hydra config, run cells in a temp results dir."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra

from kdbench.cli import CONF_DIR
from kdbench.config import KdbenchConfig, register_configs
from kdbench.validate import validate

REPO = Path(__file__).resolve().parent.parent
SMOKE = ["trainer=smoke", "data=synthetic", "efficiency.min_time_s=0.01", "efficiency.warmup=1"]


def load_bench(name: str) -> ModuleType:
    """A benchmark script of bench/ as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def compose_config(overrides: list[str], tmp_path: Path | None = None):
    """The real config tree, composed as `kdbench` would, with `overrides`."""
    register_configs()
    GlobalHydra.instance().clear()
    extra = [f"results_dir={tmp_path}"] if tmp_path is not None else []
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        return compose(config_name="config", overrides=overrides + extra)


@pytest.fixture
def smoke_config(tmp_path):
    """Build a validated smoke-sized config: smoke_config("distill=kd", ...)."""

    def make(*overrides: str) -> KdbenchConfig:
        return validate(compose_config(SMOKE + list(overrides), tmp_path))

    return make


@pytest.fixture(autouse=True)
def _single_thread_torch():
    import torch

    torch.set_num_threads(1)
    os.environ.setdefault("PYTHONHASHSEED", "0")
    yield
