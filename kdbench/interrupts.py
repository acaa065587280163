"""Ctrl-C and SIGTERM end a sweep cleanly, and are never mistaken for a finished cell.

SIGTERM is what SLURM sends before it kills a job; Ctrl-C is SIGINT. Both become
a KeyboardInterrupt in the main thread, so every layer unwinds as for Ctrl-C
(no record is written for the cell that was running: a record is only written
for a cell that finished or raised an ordinary exception). Lightning catches a
KeyboardInterrupt inside `trainer.fit` and turns it into `sys.exit(1)` (2.6; older
versions returned from `fit` as if training had ended), so the signal that
arrived is remembered here: the runner refuses to record a cell trained while it
was set, and the CLI turns it into exit 128 + signal number.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

_received: int | None = None
_previous: dict[int, Any] = {}
SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _handle(signum: int, frame: FrameType | None) -> None:
    global _received
    _received = signum
    raise KeyboardInterrupt(signal.Signals(signum).name)


def install() -> None:
    """Route SIGINT and SIGTERM through `_handle` (main thread only, as Python requires)."""
    global _received
    _received = None
    for s in SIGNALS:
        _previous[s] = signal.signal(s, _handle)


def restore() -> None:
    """Put back the handlers `install` replaced (and Lightning's SIG_IGN after a Ctrl-C)."""
    global _received
    _received = None
    for s, handler in _previous.items():
        signal.signal(s, handler)
    _previous.clear()


def received() -> int | None:
    """The signal number that interrupted this process, if any."""
    return _received


def exit_code(signum: int) -> int:
    """The shell's convention: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signum
