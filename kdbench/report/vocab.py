"""The report's vocabulary, defined once: what tables and figures both need to know.

Kept below `stats`, `tables` and `figures` so none of them imports another for a name.
"""

from __future__ import annotations

from typing import Any

BASELINE = "none"  # the method that is "the same student trained alone"
# Settings that never split a group: the seed is what we average over.
NOT_GROUPING = ("seed",)
# Settings a baseline record is not matched on when pairing a method with its
# student alone (the baseline has no teacher and its own loss weights).
NOT_BASELINE_IDENTITY = ("method", "teacher", "w1", "w2", "seed")
IDENTITY = ("data", "teacher", "student", "method")
# Parts of the student's label (`cnn-d2-w0.5`): never a column of their own in the tables.
STUDENT_PARTS = ("student_name", "student_depth", "student_width")


def is_number(value: Any) -> bool:
    """A real number (bools are settings, not measurements)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)
