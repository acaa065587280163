"""Data settings -> audio features: the one path from waveforms to frames for every audio set.

Clips are resampled to `data.sample_rate`, padded or cut to `data.duration`
seconds at `data.pad_side` (`end`: keep the clip's start, pad or cut its end;
`center`: both ends equally) and turned into MFCC or log-mel frames by the
front-end (kdbench/data/audio/frontend.py; Hello Edge defaults: 40 ms windows,
20 ms hop, 40 mel bands, 10 MFCCs).
"""

from __future__ import annotations

import numpy as np

from kdbench.config import DataConfig
from kdbench.data.audio.frontend import FrontEndConfig
from kdbench.data.audio.fsdd import clip_features
from kdbench.errors import ConfigError

PAD_SIDES = ("end", "center")


def frontend_config(cfg: DataConfig) -> FrontEndConfig:
    """The front-end the data config asks for; ConfigError naming the bad setting."""
    if cfg.pad_side not in PAD_SIDES:
        raise ConfigError(f"data.pad_side={cfg.pad_side!r} is invalid: use end or center")
    if cfg.sample_rate < 1000 or cfg.duration <= 0:
        raise ConfigError(
            f"data.sample_rate={cfg.sample_rate}, data.duration={cfg.duration}: "
            "need a sample rate >= 1000 Hz and a positive duration"
        )
    fe = FrontEndConfig(
        sample_rate=cfg.sample_rate,
        window_ms=cfg.window_ms,
        hop_ms=cfg.hop_ms,
        n_mels=cfg.n_mels,
        n_mfcc=cfg.n_mfcc,
        fmin=cfg.fmin,
        fmax=cfg.fmax,
        features=cfg.features,  # type: ignore[arg-type]
        log_floor=cfg.log_floor,
    )
    try:
        fe.check()
    except ValueError as exc:
        raise ConfigError(f"data front-end settings: {exc}") from None
    return fe


def featurize(waveforms: list[np.ndarray], cfg: DataConfig) -> np.ndarray:
    """Waveforms at `data.sample_rate` -> float32 [N, frames, features]."""
    fe = frontend_config(cfg)
    return clip_features(waveforms, fe, cfg.duration, cfg.pad_side)  # type: ignore[arg-type]


def feature_tag(cfg: DataConfig, frames: int, features: int) -> str:
    """How reports name the features, e.g. `MFCC 49x10`."""
    kind = "MFCC" if cfg.features == "mfcc" else "log-mel"
    return f"{kind} {frames}x{features}"
