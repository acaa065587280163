"""kdbench: a benchmark harness for knowledge distillation aimed at edge deployment."""

__version__ = "0.1.0"
