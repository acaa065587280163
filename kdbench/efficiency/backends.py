"""Inference backends whose latency is measured: one registry entry each.

A backend turns the profiled artifacts (the eager model, the ONNX files) into
a `Runner`: the call that is timed, how an input is prepared for it outside
the timer, and the context (threads, inference mode) the timing runs in. The
`artifact` a backend needs tells the profiler what to export or quantise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from kdbench.efficiency.export import INPUT, onnx_input, ort_session
from kdbench.efficiency.latency import measure_latency, torch_threads
from kdbench.registry import Registry


@dataclass
class Artifacts:
    """What the backends run: the eager model and the exported files by artifact name."""

    model: nn.Module
    threads: int
    files: dict[str, Path] = field(default_factory=dict)  # "onnx_fp32", "onnx_int8"


@dataclass
class Runner:
    fn: Callable[[Any], Any]
    prepare: Callable[[np.ndarray], Any]
    context: Callable[[], AbstractContextManager[Any]] = nullcontext


@dataclass
class Backend:
    artifact: str  # "torch", "onnx_fp32" or "onnx_int8"
    build: Callable[[Artifacts], Runner]


BACKENDS: Registry[Backend] = Registry("efficiency backend")


@contextmanager
def _torch_inference(threads: int) -> Iterator[None]:
    with torch_threads(threads), torch.inference_mode():
        yield


def _torch_runner(art: Artifacts) -> Runner:
    return Runner(art.model.eval(), torch.from_numpy, lambda: _torch_inference(art.threads))


def _ort_runner(artifact: str) -> Callable[[Artifacts], Runner]:
    def build(art: Artifacts) -> Runner:
        session = ort_session(art.files[artifact], art.threads)
        return Runner(
            lambda x: session.run(None, {INPUT: x}),
            onnx_input,
        )

    return build


BACKENDS.add("torch_fp32", Backend("torch", _torch_runner))
BACKENDS.add("ort_fp32", Backend("onnx_fp32", _ort_runner("onnx_fp32")))
BACKENDS.add("ort_int8", Backend("onnx_int8", _ort_runner("onnx_int8")))


def time_backend(
    name: str,
    art: Artifacts,
    x: np.ndarray,
    warmup: int,
    min_time_s: float,
    min_runs: int,
) -> dict[str, float]:
    """Latency of backend `name` on input `x` (batch included), timed in its own context."""
    runner = BACKENDS.get(name).build(art)
    with runner.context():
        return measure_latency(runner.fn, runner.prepare(x), warmup, min_time_s, min_runs)
