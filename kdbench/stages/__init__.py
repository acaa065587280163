"""Stages that may follow a cell's training (fine-tuning, pruning, quantization-aware
training). Importing this package registers every stage: each module of it is
imported (pkgutil), so a stage is one file here plus its yaml in conf/compress/."""

import importlib
import pkgutil

from kdbench.stages.base import (
    STAGES,
    FitResult,
    Stage,
    StageContext,
    StageOutput,
    StageParams,
    parse_stage,
)


def import_stages() -> None:
    """Import every module of this package (each registers its stages); idempotent."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


import_stages()

__all__ = [
    "STAGES",
    "FitResult",
    "Stage",
    "StageContext",
    "StageOutput",
    "StageParams",
    "import_stages",
    "parse_stage",
]
