"""Distillation methods and their losses. Importing this package registers every method.

Every module of this package is imported (pkgutil), so a method is one file
here (its `Params` dataclass, its loss, its `@METHODS.register`d class) plus
its yaml in conf/distill/: no list to extend.
"""

import importlib
import pkgutil

from kdbench.distill.base import METHODS, DistillMethod, MethodParams, identity
from kdbench.distill.functional import (
    at_loss,
    crd_nce_loss,
    deit_distill_term,
    deit_loss,
    dist_loss,
    dkd_loss,
    fitnet_loss,
    kd_loss,
    pkt_loss,
    rkd_loss,
    soft_cross_entropy,
    soft_kl,
    sp_loss,
    standardize,
    weighted_sum,
)
from kdbench.distill.params import parse_params


def import_methods() -> None:
    """Import every module of this package (each registers its methods); idempotent."""
    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")


import_methods()

__all__ = [
    "METHODS",
    "DistillMethod",
    "MethodParams",
    "at_loss",
    "crd_nce_loss",
    "deit_distill_term",
    "deit_loss",
    "dist_loss",
    "dkd_loss",
    "fitnet_loss",
    "identity",
    "import_methods",
    "kd_loss",
    "parse_params",
    "pkt_loss",
    "rkd_loss",
    "soft_cross_entropy",
    "soft_kl",
    "sp_loss",
    "standardize",
    "weighted_sum",
]
