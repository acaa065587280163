"""Imported by the race test's subprocesses before `kdbench.cli.main` (not a test).

It counts real trainings (one line per `_train_cell` call, appended to
$KDBENCH_TEST_COUNTER), and makes the two sweeps meet: each process waits at its
first cell until both have arrived, so they start the same cell together and
the lock, not luck, decides who trains it.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import kdbench.cli as cli
import kdbench.runner as runner

COUNTER = Path(os.environ["KDBENCH_TEST_COUNTER"])
real_train, real_run_cell = runner._train_cell, cli.run_cell
arrived = [False]


def counting_train(cfg, directory):
    with open(COUNTER, "a") as f:  # O_APPEND: one whole line per write
        f.write(f"{os.getpid()} {directory.name}\n")
    time.sleep(1.0)  # hold the lock long enough for the other process to find it
    return real_train(cfg, directory)


def meeting_run_cell(cfg, wait=False):
    if not arrived[0]:
        arrived[0] = True
        (COUNTER.parent / f"arrived-{os.getpid()}").touch()
        deadline = time.monotonic() + 120
        while len(list(COUNTER.parent.glob("arrived-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    return real_run_cell(cfg, wait=wait)


runner._train_cell = counting_train
cli.run_cell = meeting_run_cell
