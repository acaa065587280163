"""`data=fsdd`: the Free Spoken Digit Dataset from ../shared/data/fsdd.tar.xz.

The archive is sha256-checked and read by `kdbench.data.audio.fsdd.read_fsdd`;
the features (front-end settings from the data config) are cached on disk,
keyed by the archive's checksum and those settings, so only the first cell on a
machine decodes (about 2 s of xz plus the front-end).

Split: the official test set is recordings 0-4 of each speaker and digit (300
clips); validation is drawn stratified by digit from the other 2,700
(`data.val_fraction`). Speakers are shared between the splits, as in the
data set's own split.
"""

from __future__ import annotations

import numpy as np

from kdbench.config import DataConfig
from kdbench.data.archives import require_archive, verify_archive
from kdbench.data.audio.fsdd import (
    DISPLAY_NAME,
    SHA256,
    WHERE,
    archive_path,
    official_test_mask,
    read_fsdd,
)
from kdbench.data.audio_features import feature_tag, featurize, frontend_config
from kdbench.data.base import TensorData
from kdbench.data.feature_cache import cached_arrays, frontend_settings
from kdbench.data.registry import DATA_CHECKS, DATASETS
from kdbench.data.sequences import sequence_data

CLASSES = [str(d) for d in range(10)]


def fsdd_arrays(cfg: DataConfig) -> dict[str, np.ndarray]:
    """Features x [N, T, F], labels y, official test mask `test` of every recording (cached)."""
    frontend_config(cfg)  # bad settings fail before the archive is read
    path = archive_path(cfg.root)

    def build() -> dict[str, np.ndarray]:
        waveforms, labels, _, index = read_fsdd(path, None, cfg.sample_rate)  # verified below
        x = featurize(waveforms, cfg)
        return {"x": x, "y": labels, "test": official_test_mask(index)}

    # Checked on every load: the cache is keyed by the published checksum, not the file.
    verify_archive(path, SHA256, DISPLAY_NAME, WHERE)
    return cached_arrays("fsdd", {"sha256": SHA256, **frontend_settings(cfg)}, build)


@DATASETS.register("fsdd")
def fsdd(cfg: DataConfig) -> TensorData:
    a = fsdd_arrays(cfg)
    x, y, test = a["x"], a["y"], a["test"].astype(bool)
    name = f"{DISPLAY_NAME} ({feature_tag(cfg, x.shape[1], x.shape[2])})"
    return sequence_data(cfg, (x[~test], y[~test]), (x[test], y[test]), 10, name, CLASSES)


@DATA_CHECKS.register("fsdd")
def check_fsdd(cfg: DataConfig) -> None:
    """The archive is there (its sha256 is checked by the loader)."""
    require_archive(archive_path(cfg.root), DISPLAY_NAME, WHERE)
