"""Decoded features cached on disk, keyed by everything that made them.

Decoding and featurizing thousands of clips costs seconds; a cell should pay it
once per machine. The key is a sha256 of the caller's parts (source identity:
an archive's checksum or every file's name, size and mtime; the front-end
settings); a change of any part is a new file, never a stale one. Written
atomically under a file lock, so parallel cells build it once.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from kdbench.data.imagefolder import cache_root
from kdbench.fileio import write_atomic

CACHE_VERSION = 1


def cache_key(parts: Any) -> str:
    """A stable hash of JSON-able `parts`."""
    text = json.dumps([CACHE_VERSION, parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def cached_arrays(
    kind: str, parts: Any, build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """The arrays `build()` makes, read from `<cache>/<kind>/<key>.npz` when present."""
    folder = cache_root() / kind
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{cache_key(parts)[:24]}.npz"
    with FileLock(str(path) + ".lock"):
        if path.is_file():
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        arrays = build()
        write_atomic(path, lambda f: np.savez(f, **arrays))
    return arrays


def frontend_settings(cfg: Any) -> dict[str, Any]:
    """The data settings that shape audio features (part of every audio cache key)."""
    keys = (
        "sample_rate",
        "duration",
        "pad_side",
        "features",
        "n_mfcc",
        "n_mels",
        "window_ms",
        "hop_ms",
        "fmin",
        "fmax",
        "log_floor",
    )
    return {k: getattr(cfg, k) for k in keys}


def source_stats(files: list[Path]) -> list[tuple[str, int, int]]:
    """(path, size, mtime) of every file: a folder's identity in a cache key."""
    out = []
    for f in files:
        st = f.stat()
        out.append((str(f.resolve()), st.st_size, st.st_mtime_ns))
    return out
