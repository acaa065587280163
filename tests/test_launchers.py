"""Cells in other processes (joblib, submitit): same records, same tally and exit code."""

from __future__ import annotations

import os
import subprocess

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from kdbench.cli import CONF_DIR
from kdbench.config import register_configs
from kdbench.sweep import job_threads

from .conftest import SMOKE
from .test_resume import KDBENCH, records_of


def sweep(args: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run(KDBENCH + args, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_joblib_launcher_runs_a_tiny_grid_with_a_tally(tmp_path):
    grid = ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *SMOKE, "name=par"]
    grid += ["distill=none"]
    # An invalid grid point is refused before any worker starts: exit 2, one line, no record.
    run = sweep([*grid, "train.epochs=0,5"], tmp_path)
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines() == ["kdbench: error: train.epochs=0 is invalid: must be >= 1"]
    assert not records_of(tmp_path / "results")
    # Two cells in two worker processes: the same tally as in one process.
    run = sweep([*grid, "seed=0,1"], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "2 ok, 0 failed, 0 skipped"
    records = records_of(tmp_path / "results/par")
    assert [r["status"] for r in records] == ["ok", "ok"]
    # Each job trains with its share of the cores, not all of them.
    assert records[0]["training"]["threads"] == max(1, (os.cpu_count() or 1) // 2)


@pytest.mark.slow
def test_submitit_local_launcher_runs_a_tiny_grid(tmp_path):
    grid = ["-m", "hydra/launcher=submitit_local", "hydra.launcher.cpus_per_task=1", *SMOKE]
    grid += ["name=sub", "distill=none", "seed=0,1"]
    run = sweep(grid, tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "2 ok, 0 failed, 0 skipped"
    records = records_of(tmp_path / "results/sub")
    assert sorted(r["config"]["seed"] for r in records) == [0, 1]
    assert all(r["status"] == "ok" for r in records)
    assert {r["training"]["threads"] for r in records} == {1}  # cpus_per_task
    failing = sweep([*grid[:-1], "seed=2", "distill.T=0"], tmp_path)
    assert failing.returncode == 2
    assert failing.stdout.splitlines()[-1] == "0 ok, 0 failed, 0 skipped, 1 invalid"


def test_the_slurm_launcher_config_composes_from_config():
    register_configs()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
        full = compose(
            config_name="config",
            overrides=["hydra/launcher=slurm", "hydra.launcher.partition=gpu"],
            return_hydra_config=True,
        )
    launcher = OmegaConf.to_container(full.hydra.launcher, resolve=False)
    assert launcher["_target_"].endswith("SlurmLauncher")
    assert launcher["partition"] == "gpu"
    assert {"timeout_min", "gpus_per_node", "mem_gb", "cpus_per_task"} <= set(launcher)


def test_threads_per_job(monkeypatch):
    from hydra.core.hydra_config import HydraConfig

    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    assert job_threads(3) == 3  # trainer.threads wins
    assert job_threads(0) == 0  # no launcher: torch's default

    def launcher(node: dict) -> None:
        cfg = OmegaConf.create({"hydra": {"launcher": node}})
        monkeypatch.setattr(HydraConfig, "initialized", staticmethod(lambda: True))
        monkeypatch.setattr(HydraConfig, "get", staticmethod(lambda: cfg.hydra))

    launcher({"_target_": "x.JoblibLauncher", "n_jobs": 4})
    assert job_threads(0) == 2
    launcher({"_target_": "x.JoblibLauncher", "n_jobs": -1})
    assert job_threads(0) == 1
    launcher(
        {"_target_": "hydra_plugins.hydra_submitit_launcher.x.SlurmLauncher", "cpus_per_task": 6}
    )
    assert job_threads(0) == 6
    launcher({"_target_": "hydra._internal.core_plugins.basic_launcher.BasicLauncher"})
    assert job_threads(0) == 0
