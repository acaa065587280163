"""File names of a cell's kept student, beside its record.json (read by runner, profile, report)."""

from __future__ import annotations

STUDENT_PT = "student.pt"  # state dict of the selected checkpoint's student
# artifact name (kdbench.efficiency.backends.Backend.artifact) -> file name
ONNX_FILES = {"onnx_fp32": "student.onnx", "onnx_int8": "student.int8.onnx"}
# A few real model inputs (and the input spec): what re-measuring runs the student on,
# with no data set present (kdbench-profile DIR on a device).
INPUTS_PT = "inputs.pt"
MODEL_FILES = (STUDENT_PT, INPUTS_PT, *ONNX_FILES.values())
