"""The cost side of a student: parameters, FLOPs, size and measured CPU latency.

Everything here looks at the student alone (never teacher or method adapters),
in evaluation mode, as it would be deployed.
"""

from __future__ import annotations

import io
import platform
import statistics
import time
from typing import Any

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_flops(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Forward FLOPs for one input of `input_shape` (with batch dim), 2 per MAC."""
    x = torch.zeros(input_shape)
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    model.train(was_training)
    return int(counter.get_total_flops())


def state_dict_bytes(model: nn.Module) -> int:
    """Size of the fp32 state dict as `torch.save` writes it."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


def measure_latency(
    fn: Any, x: torch.Tensor, warmup: int = 10, min_time_s: float = 0.3, min_runs: int = 10
) -> dict[str, float]:
    """Median and p90 wall time of `fn(x)` in milliseconds over enough runs to cover `min_time_s`."""
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


def torch_latency(
    model: nn.Module,
    input_shape: tuple[int, ...],
    threads: int = 1,
    warmup: int = 10,
    min_time_s: float = 0.3,
) -> dict[str, float]:
    """Eager CPU latency under `torch.inference_mode` with `threads` intra-op threads."""
    model = model.eval().cpu()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = torch.randn(input_shape)
        with torch.inference_mode():
            return measure_latency(model, x, warmup=warmup, min_time_s=min_time_s)
    finally:
        torch.set_num_threads(previous)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def profile_student(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    threads: int = 1,
    batch_sizes: tuple[int, ...] = (1,),
    warmup: int = 10,
    min_time_s: float = 0.3,
) -> dict[str, Any]:
    """The `efficiency` block of a record: counts, size and latency per batch size."""
    flops = count_flops(model, (1, *input_shape))
    size = state_dict_bytes(model)
    params = count_params(model)
    latency = {
        f"bs{b}": torch_latency(model, (b, *input_shape), threads, warmup, min_time_s)
        for b in batch_sizes
    }
    return {
        "params": params,
        "params_m": params / 1e6,
        "flops": flops,
        "macs": flops // 2,
        "mflops": flops / 1e6,
        "size_bytes": size,
        "size_kb": size / 1024,
        "latency": {"torch_fp32": latency},
        "host": {"cpu": cpu_model(), "threads": threads, "torch": torch.__version__},
    }
