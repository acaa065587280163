"""The figure registry: name (the file stem) -> draw(summary of one data set) -> Figure.

A figure returns None when the sweep has no data for it (no temperature axis,
no size ladder, ...): it is skipped, never drawn empty.
"""

from __future__ import annotations

from collections.abc import Callable

import matplotlib.pyplot as plt
import pandas as pd

from kdbench.registry import Registry

FigureFn = Callable[[pd.DataFrame], "plt.Figure | None"]
FIGURES: Registry[FigureFn] = Registry("figure")
