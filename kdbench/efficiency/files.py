"""File names of a cell's kept student, beside its record.json (read by runner, profile, report)."""

from __future__ import annotations

STUDENT_PT = "student.pt"  # state dict of the selected checkpoint's student
# artifact name (kdbench.efficiency.backends.Backend.artifact) -> file name
ONNX_FILES = {"onnx_fp32": "student.onnx", "onnx_int8": "student.int8.onnx"}
MODEL_FILES = (STUDENT_PT, *ONNX_FILES.values())
