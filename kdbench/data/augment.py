"""Batched image transforms on the compute device: uint8 -> float, crop, flip, normalize.

Images stay resident as uint8 (a quarter of float32's memory, and the copy to
the device is a quarter as long); each batch is converted when it is used.
Augmentation draws its randomness per sample but runs as a few tensor ops on
the whole batch, so it costs microseconds, not a Python call per image.

During training the randomness is not drawn from a generator: each sample's
crop offset and flip come from a counter-based hash of (aug seed, epoch,
sample index), so a view does not depend on batch size, order or what else
consumed random numbers. That is what lets every cell of a grid share one
pass of the teacher over an epoch's views (kdbench/teacher_stream.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [0, 1]; float inputs pass unchanged."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x


def crop(x: torch.Tensor, padding: int, offsets: torch.Tensor) -> torch.Tensor:
    """Zero-pad by `padding` and cut each sample's H x W window at `offsets[i] = (top, left)`.

    `offsets` in [0, 2 * padding]; (padding, padding) returns the input unchanged.
    """
    b, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    rows = offsets[:, 0, None] + torch.arange(h, device=x.device)  # (B, H)
    cols = offsets[:, 1, None] + torch.arange(w, device=x.device)  # (B, W)
    batch = torch.arange(b, device=x.device)[:, None, None]
    # Advanced indices (B,1,1), (B,H,1), (B,1,W) around the channel slice -> (B, H, W, C).
    out = padded[batch, :, rows[:, :, None], cols[:, None, :]]
    return out.permute(0, 3, 1, 2).contiguous()


_MASK32 = 0xFFFFFFFF


def _mix32(h: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (xorshift-multiply), on int64 tensors holding values < 2**32.

    Both multipliers are below 2**31, so no product overflows int64 and the
    result is the same on every device and backend.
    """
    h = h ^ (h >> 16)
    h = (h * 0x7FEB352D) & _MASK32
    h = h ^ (h >> 15)
    h = (h * 0x5BD1E995) & _MASK32
    return h ^ (h >> 16)


def view_keys(seed: int, epoch: int, index: torch.Tensor) -> torch.Tensor:
    """Per-sample 32-bit keys (int64) of the views of samples `index` in `epoch`.

    A function of (seed, epoch, index) alone: the same sample in the same epoch
    gets the same key whatever batch it sits in.
    """
    h = _mix32(index.to(torch.int64) & _MASK32)
    h = _mix32(h ^ (int(epoch) & _MASK32))
    h = _mix32(h ^ (int(seed) & _MASK32))
    return _mix32(h ^ ((int(seed) >> 32) & _MASK32))


def keyed_draws(keys: torch.Tensor, padding: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop offsets (B, 2) in [0, 2 * padding] and flip bits (B,) from per-sample keys."""
    span = 2 * padding + 1
    top = _mix32(keys ^ 0x1B873593) % span
    left = _mix32(keys ^ 0x2C1B3C6D) % span
    flips = (_mix32(keys ^ 0x297A2D39) & 1).bool()
    return torch.stack([top, left], dim=1), flips


def random_crop(
    x: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random crop with `padding` pixels of zero padding, an independent offset per sample."""
    offsets = torch.randint(
        0, 2 * padding + 1, (x.shape[0], 2), device=x.device, generator=generator
    )
    return crop(x, padding, offsets)


def flip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror (left-right) the samples where `mask` is true."""
    return torch.where(mask[:, None, None, None], x.flip(3), x)


def random_flip(
    x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Horizontal flip of each sample with probability `p`, independently."""
    mask = torch.rand(x.shape[0], device=x.device, generator=generator) < p
    return flip(x, mask)


def normalize(x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """Per-channel (x - mean) / std; mean and std on the [0, 1] scale."""
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device)[None, :, None, None]
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device)[None, :, None, None]
    return (x - m) / s


def standard_augment(
    x: torch.Tensor, keys: torch.Tensor | None = None, padding: int = 4
) -> torch.Tensor:
    """The CIFAR recipe: random crop with `padding`, then a random horizontal flip.

    With `keys` (from `view_keys`) the crop and flip of each sample are fixed by
    its key; without, they are drawn from torch's global generator.
    """
    if keys is None:
        return random_flip(random_crop(x, padding))
    offsets, flips = keyed_draws(keys.to(x.device), padding)
    return flip(crop(x, padding, offsets), flips)


def channel_stats(
    x: torch.Tensor, chunk: int = 4096
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of images (N, C, H, W) on the [0, 1] scale, in chunks."""
    c = x.shape[1]
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for start in range(0, x.shape[0], chunk):
        part = to_float(x[start : start + chunk]).double()
        total += part.sum(dim=(0, 2, 3))
        total_sq += (part * part).sum(dim=(0, 2, 3))
    n = x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / n
    std = (total_sq / n - mean * mean).clamp_min(1e-12).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())
