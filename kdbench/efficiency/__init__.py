"""The cost side of a student: parameters, FLOPs, size, CPU latency (torch and ONNX
Runtime, fp32 and static int8) and the int8 model's accuracy.

Importing this package is cheap: onnx and onnxruntime load only when a model
is exported or a session is built.
"""

from kdbench.efficiency.backends import BACKENDS
from kdbench.efficiency.counts import count_flops, count_params, state_dict_bytes
from kdbench.efficiency.export import EXPORTERS, export_onnx, max_abs_diff, ort_session
from kdbench.efficiency.int8 import ort_top1, quantize_int8
from kdbench.efficiency.latency import (
    cpu_model,
    host_info,
    measure_latency,
    torch_threads,
)
from kdbench.efficiency.profiler import profile_student

__all__ = [
    "BACKENDS",
    "EXPORTERS",
    "count_flops",
    "count_params",
    "cpu_model",
    "export_onnx",
    "host_info",
    "max_abs_diff",
    "measure_latency",
    "ort_session",
    "ort_top1",
    "profile_student",
    "quantize_int8",
    "state_dict_bytes",
    "torch_threads",
]
