"""Wall-clock latency: warm-up, then timed runs covering a minimum time; p50 and p90.

Thread counts are part of the measurement (a small device has one or two
cores), so every timer here runs under an explicit setting and restores the
previous one afterwards.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch


def measure_latency(
    fn: Callable[[Any], Any],
    x: Any,
    warmup: int = 10,
    min_time_s: float = 1.0,
    min_runs: int = 5,
) -> dict[str, float]:
    """Median and p90 wall time of `fn(x)` in ms over enough runs to cover `min_time_s`."""
    for _ in range(warmup):
        fn(x)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_time_s:
        t0 = time.perf_counter()
        fn(x)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return {
        "latency_ms_p50": statistics.median(times),
        "latency_ms_p90": times[min(len(times) - 1, int(0.9 * len(times)))],
        "runs": len(times),
    }


@contextmanager
def torch_threads(threads: int) -> Iterator[None]:
    """Run the block with `threads` torch intra-op threads, then restore the setting."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def host_info(threads: int) -> dict[str, Any]:
    """What the latency figures depend on, recorded beside them."""
    try:
        import onnxruntime

        ort_version: str | None = onnxruntime.__version__
    except ImportError:  # pragma: no cover - onnxruntime is a dependency
        ort_version = None
    return {
        "cpu": cpu_model(),
        "threads": threads,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "onnxruntime": ort_version,
    }
