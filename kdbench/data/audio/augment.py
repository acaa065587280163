"""Keyed audio augmentations: time shift and additive Gaussian noise at a chosen SNR.

Inputs are batches of raw waveforms [B, T] or feature frames [B, T, C]; time is
axis 1. As for images (kdbench/data/augment.py), every random draw of sample i
is a counter-based hash of its key `keys[i]` (from `view_keys(aug_seed, epoch,
index)`), never a generator's state: a sample's view does not depend on the
batch it sits in, so the grid-shared teacher stream stays exact. The noise
itself is such a hash too (key, position) -> Box-Muller normal, so it is the
same on every device and batch size.
"""

from __future__ import annotations

import math

import torch

from kdbench.data.augment import MASK32, Transform, mix32, register_augmentation
from kdbench.errors import ConfigError

# Salts separating the draws made from one key (arbitrary odd 32-bit constants).
_SHIFT_SALT = 0x68E31DA4
_SNR_SALT = 0x1B56C4E9
_NOISE_SALT_A = 0x3C6EF372
_NOISE_SALT_B = 0x7F4A7C15
_GOLDEN = 0x9E3779B9


def _unit(h: torch.Tensor) -> torch.Tensor:
    """32-bit hashes -> float64 uniforms in the open interval (0, 1)."""
    return (h.to(torch.float64) + 0.5) / 4294967296.0


def shift_draws(keys: torch.Tensor, max_shift: int) -> torch.Tensor:
    """Per-sample shifts (int64) in [-max_shift, max_shift]; positive delays the signal."""
    span = 2 * max_shift + 1
    return mix32(keys.to(torch.int64) ^ _SHIFT_SALT) % span - max_shift


def time_shift(
    x: torch.Tensor, keys: torch.Tensor, max_shift: int, fill: float = 0.0
) -> torch.Tensor:
    """Shift each sample along time by its keyed draw in [-max_shift, max_shift]; vacated
    steps hold `fill` (0: silence for waveforms; pass the log floor for log-mel frames)."""
    if max_shift <= 0:
        return x
    t = x.shape[1]
    shifts = shift_draws(keys.to(x.device), max_shift)
    src = torch.arange(t, device=x.device)[None, :] - shifts[:, None]  # (B, T)
    valid = (src >= 0) & (src < t)
    index = src.clamp(0, t - 1)
    if x.dim() == 3:
        index, valid = index[:, :, None].expand_as(x), valid[:, :, None]
    out = torch.gather(x, 1, index)
    return torch.where(valid, out, torch.full_like(out, fill))


def keyed_normal(keys: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """Standard normals [B, *shape] (float32): element j of sample i from (keys[i], j) alone."""
    n = math.prod(shape)
    j = torch.arange(n, device=keys.device, dtype=torch.int64)
    base = keys.to(torch.int64)[:, None]
    counter = (j * _GOLDEN) & MASK32
    u1 = _unit(mix32(mix32(base ^ _NOISE_SALT_A) ^ counter))
    u2 = _unit(mix32(mix32(base ^ _NOISE_SALT_B) ^ counter))
    z = torch.sqrt(-2.0 * torch.log(u1)) * torch.cos(2.0 * math.pi * u2)  # Box-Muller
    return z.to(torch.float32).reshape(keys.shape[0], *shape)


def snr_draws(keys: torch.Tensor, snr_db: float | tuple[float, float]) -> torch.Tensor:
    """Per-sample SNR in dB (float64): `snr_db` itself, or uniform in the range (lo, hi)."""
    if isinstance(snr_db, (int, float)):
        return torch.full(keys.shape, float(snr_db), dtype=torch.float64, device=keys.device)
    lo, hi = (float(v) for v in snr_db)
    return lo + (hi - lo) * _unit(mix32(keys.to(torch.int64) ^ _SNR_SALT))


def add_noise(
    x: torch.Tensor, keys: torch.Tensor, snr_db: float | tuple[float, float]
) -> torch.Tensor:
    """Add white Gaussian noise to each sample at its SNR (dB) against that sample's power.

    Noise power = mean(x_i^2) / 10^(snr / 10), over all of sample i's elements; a
    silent sample gets no noise. A (lo, hi) range draws each sample's SNR uniformly.
    """
    keys = keys.to(x.device)
    power = x.detach().to(torch.float64).square().flatten(1).mean(1)
    snr = snr_draws(keys, snr_db)
    std = torch.sqrt(power / 10.0 ** (snr / 10.0)).to(x.dtype)
    noise = keyed_normal(keys, tuple(x.shape[1:])).to(x.dtype)
    return x + std.reshape(-1, *([1] * (x.dim() - 1))) * noise


# Registered for frame data (kind "sequence": [B, T, C]; MFCC frames, sensor windows) so a
# data yaml can list them: `augment: [{name: time_shift, max_shift: 4}, {name: noise, snr_db: 20}]`.
@register_augmentation("time_shift", kinds=("sequence",))
def time_shift_transform(max_shift: int = 4, fill: float | None = None) -> Transform:
    """Shift each sample by up to `max_shift` frames either way. Vacated frames hold `fill`,
    or (None, the default) repeat the edge frame: for features, 0 is not silence (an MFCC
    frame of silence has a large negative c0), while the edge frame of a padded clip is."""
    if max_shift < 0:
        raise ConfigError(f"time_shift max_shift must be >= 0, got {max_shift}")
    if fill is not None:
        return lambda x, keys: time_shift(x, keys, int(max_shift), float(fill))
    return lambda x, keys: edge_shift(x, keys, int(max_shift))


def edge_shift(x: torch.Tensor, keys: torch.Tensor, max_shift: int) -> torch.Tensor:
    """`time_shift` with the vacated steps holding copies of the nearest edge step."""
    if max_shift <= 0:
        return x
    t = x.shape[1]
    shifts = shift_draws(keys.to(x.device), max_shift)
    index = (torch.arange(t, device=x.device)[None, :] - shifts[:, None]).clamp(0, t - 1)
    if x.dim() == 3:
        index = index[:, :, None].expand_as(x)
    return torch.gather(x, 1, index)


@register_augmentation("noise", kinds=("sequence",))
def noise_transform(snr_db: float | list[float] = 20.0) -> Transform:
    """Additive white Gaussian noise at `snr_db` (or uniform in a [lo, hi] range) per sample."""
    snr = tuple(float(v) for v in snr_db) if isinstance(snr_db, (list, tuple)) else float(snr_db)
    if isinstance(snr, tuple) and (len(snr) != 2 or snr[0] > snr[1]):
        raise ConfigError(f"noise snr_db={list(snr)} is invalid: give a number or [lo, hi]")
    return lambda x, keys: add_noise(x, keys, snr)
