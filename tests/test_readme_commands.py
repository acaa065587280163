"""The README's commands, run as written (grids shrunk), so the README cannot drift.

Fast: every `kdbench` command of the README is composed and checked (the up-front check a
sweep runs) on points that take every value of every axis once, with the cell's training
replaced by the same check. Slow: `make sweep` with RESULTS and a `name=` in ARGS trains the quick grid
(trainer=smoke) and reports exactly the folder it wrote.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

import kdbench.cli as cli_module
from kdbench.validate import check_cell

from .conftest import SMOKE
from .test_resume import cli

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def readme_commands(program: str) -> list[list[str]]:
    """The README's shell lines running `program` (continuations joined), as argv lists."""
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    out = []
    for line in lines:
        argv = shlex.split(line, comments=True)
        if argv and Path(argv[0]).name == program:
            out.append(argv[1:])
    return out


KDBENCH_COMMANDS = readme_commands("kdbench")


def in_process(argv: list[str]) -> list[str]:
    """The command as this test runs it: other launchers run cells in other processes, where
    the stub below would not reach, so launcher options are dropped."""
    return [a for a in argv if not a.startswith("hydra/launcher=") and "hydra.launcher." not in a]


def with_experiment_axes(argv: list[str]) -> list[str]:
    """The command with its experiment's sweep axes (`hydra.sweeper.params` of
    conf/experiment/<name>.yaml) written out as command-line axes, which take their place."""
    names = [a.partition("=")[2] for a in argv if a.startswith("experiment=")]
    if not names:
        return argv
    conf = OmegaConf.load(REPO / "conf" / "experiment" / f"{names[-1]}.yaml")
    params = OmegaConf.select(conf, "hydra.sweeper.params") or {}
    given = {a.partition("=")[0] for a in argv}
    return argv + [f"{k}={v}" for k, v in params.items() if k not in given]


def every_value_once(argv: list[str]) -> list[list[str]]:
    """The grid as few points as cover every value of every axis: point i takes the i-th
    value of each comma list (the last where a list is shorter). The README's first sweep is
    a 96-point cross product whose composing alone took a minute; its 4 points here check
    each teacher, student, method, T, alpha and seed it names."""
    argv = with_experiment_axes(argv)
    axes = [a.partition("=")[2].split(",") if "," in a and "=" in a else [a] for a in argv]
    keys = [a.partition("=")[0] + "=" if len(v) > 1 else "" for a, v in zip(argv, axes)]
    n = max(len(v) for v in axes)
    return [[k + v[min(i, len(v) - 1)] for k, v in zip(keys, axes)] for i in range(n)]


# Distinct after dropping launcher options (the README runs one grid on three launchers;
# composing and checking it once covers all three: tests/test_launchers.py runs launchers).
CHECKED = list({" ".join(in_process(c)): in_process(c) for c in KDBENCH_COMMANDS}.values())


def test_every_value_once_covers_each_axis_value():
    argv = ["-m", "teacher=a", "student=b,c", "distill.T=1,2,4", "name=x"]
    assert every_value_once(argv) == [
        ["-m", "teacher=a", "student=b", "distill.T=1", "name=x"],
        ["-m", "teacher=a", "student=c", "distill.T=2", "name=x"],
        ["-m", "teacher=a", "student=c", "distill.T=4", "name=x"],
    ]
    # an experiment's own axes are written out, so they are covered the same way
    quick = every_value_once(["-m", "experiment=quick", "seed=0"])
    assert len(quick) == 2 and all("seed=0" in p for p in quick)
    assert [p[3] for p in quick] == ["student=cnn_tiny", "student=mlp_small"]
    assert {p[-1] for p in quick} == {"distill.alpha=0.5", "distill.alpha=0.9"}


def test_the_readme_has_the_commands_this_test_runs():
    assert len(KDBENCH_COMMANDS) >= 4
    assert any("distill=none,kd" in c for c in KDBENCH_COMMANDS)  # the first sweep has Δ


@pytest.mark.parametrize("argv", CHECKED, ids=[" ".join(c) for c in CHECKED])
def test_every_readme_kdbench_command_composes_and_checks(argv, tmp_path, monkeypatch, capsys):
    checked = []

    def check_only(cfg):
        checked.append(check_cell(cfg).name)
        return "ok"

    monkeypatch.setattr(cli_module, "_cell", check_only)
    for point in every_value_once(argv):
        code, out, err = cli([*point, *SMOKE[:1], f"results_dir={tmp_path}"], monkeypatch, capsys)
        assert code == 0, f"{' '.join(point)}: {err}"
        assert "Traceback" not in out + err
    assert checked


@pytest.mark.slow
def test_make_sweep_writes_and_reports_where_results_and_name_say(tmp_path):
    venv = Path(sys.executable).parent.parent
    results = tmp_path / "R"
    args = "trainer=smoke data=synthetic efficiency.enabled=false seed=0 name=mine"
    run = subprocess.run(
        ["make", "-o", f"{venv}/.installed", f"VENV={venv}", "sweep", "EXP=quick"]
        + [f"RESULTS={results}", f"ARGS={args}"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert (results / "mine" / "summary.md").is_file()
    assert not (REPO / "results" / "mine").exists() and not (results / "quick").exists()
    assert "0 failed" in run.stdout
