"""Keyed, batched augmentation on the compute device, chosen per data set in its yaml.

Every augmentation is a registered transform `(batch, keys) -> batch` whose draw
for a sample is a function of that sample's 32-bit key alone, and the key is a
function of (aug seed, epoch, sample index) (`view_keys`). A view therefore does
not depend on batch size, order or what else consumed random numbers: every cell
of a grid can share one pass of the teacher over an epoch's views
(kdbench/teacher_stream.py), and a rerun sees the same views.

A data set's yaml lists its transforms in order, by name or with parameters:
`augment: [crop, flip]`, `augment: [{name: jitter, pixels: 2}]`; `[]` for none
(digits and MNIST are never mirrored). Transforms of other modalities (time shift,
noise) register here too, from their own modules.

Images stay resident as uint8 (a quarter of float32's memory); crop and flip run
on uint8, before `TensorData.prepare` turns a batch into float model input.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from kdbench.errors import ConfigError
from kdbench.registry import Registry

#: (batch, per-sample keys) -> batch; fixed by the keys.
Transform = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
#: factory(**params) -> Transform; `kinds` attribute: the input kinds it applies to.
AUGMENTATIONS: Registry[Callable[..., Transform]] = Registry("augmentation")


def register_augmentation(
    name: str, kinds: tuple[str, ...]
) -> Callable[[Callable[..., Transform]], Callable[..., Transform]]:
    """Register a transform factory under `name` for input `kinds` (image, sequence, tokens)."""

    def decorator(factory: Callable[..., Transform]) -> Callable[..., Transform]:
        factory.kinds = kinds  # type: ignore[attr-defined]
        AUGMENTATIONS.add(name, factory)
        return factory

    return decorator


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 images in [0, 255] -> float32 in [0, 1]; float and integer (token) inputs pass."""
    return x.float().div_(255.0) if x.dtype == torch.uint8 else x


MASK32 = 0xFFFFFFFF


def mix32(h: torch.Tensor) -> torch.Tensor:
    """A 32-bit integer hash (xorshift-multiply), on int64 tensors holding values < 2**32.

    Both multipliers are below 2**31, so no product overflows int64 and the
    result is the same on every device and backend.
    """
    h = h ^ (h >> 16)
    h = (h * 0x7FEB352D) & MASK32
    h = h ^ (h >> 15)
    h = (h * 0x5BD1E995) & MASK32
    return h ^ (h >> 16)


def view_keys(seed: int, epoch: int, index: torch.Tensor) -> torch.Tensor:
    """Per-sample 32-bit keys (int64) of the views of samples `index` in `epoch`.

    A function of (seed, epoch, index) alone: the same sample in the same epoch
    gets the same key whatever batch it sits in.
    """
    h = mix32(index.to(torch.int64) & MASK32)
    h = mix32(h ^ (int(epoch) & MASK32))
    h = mix32(h ^ (int(seed) & MASK32))
    return mix32(h ^ ((int(seed) >> 32) & MASK32))


def uniform01(keys: torch.Tensor, salt: int) -> torch.Tensor:
    """A float in [0, 1) per key, independent across salts (24 bits of the hash)."""
    return (mix32(keys ^ salt) >> 8).double().div(1 << 24)


# Salts: each draw of a transform reads its own hash of the key.
_SALT_TOP, _SALT_LEFT, _SALT_FLIP = 0x1B873593, 0x2C1B3C6D, 0x297A2D39


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


def flip(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mirror (left-right) the samples where `mask` is true."""
    return torch.where(mask[:, None, None, None], x.flip(3), x)


def crop_offsets(keys: torch.Tensor, padding: int) -> torch.Tensor:
    """Crop offsets (B, 2) in [0, 2 * padding] from per-sample keys."""
    span = 2 * padding + 1
    return torch.stack([mix32(keys ^ _SALT_TOP) % span, mix32(keys ^ _SALT_LEFT) % span], dim=1)


def flip_bits(keys: torch.Tensor) -> torch.Tensor:
    """A mirror bit (B,) per key, true for about half of them."""
    return (mix32(keys ^ _SALT_FLIP) & 1).bool()


def keyed_draws(keys: torch.Tensor, padding: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop offsets (B, 2) in [0, 2 * padding] and flip bits (B,) from per-sample keys."""
    return crop_offsets(keys, padding), flip_bits(keys)


@register_augmentation("crop", kinds=("image",))
def random_crop(padding: int = 4) -> Transform:
    """Zero-pad by `padding` pixels and cut a window of the original size (CIFAR recipe)."""
    if padding < 0:
        raise ConfigError(f"crop padding must be >= 0, got {padding}")
    return lambda x, keys: crop(x, padding, crop_offsets(keys.to(x.device), padding))


@register_augmentation("jitter", kinds=("image",))
def jitter(pixels: int = 2) -> Transform:
    """Translate by up to `pixels` in each direction, zero fill (Hinton et al. 2015's MNIST).

    The same operation as `crop` with `padding = pixels`, named as the paper names it.
    """
    return random_crop(pixels)


@register_augmentation("flip", kinds=("image",))
def random_flip() -> Transform:
    """Mirror left-right with probability 1/2 (never for digits or text in images)."""
    return lambda x, keys: flip(x, flip_bits(keys.to(x.device)))


def standard_augment(x: torch.Tensor, keys: torch.Tensor, padding: int = 4) -> torch.Tensor:
    """The CIFAR recipe, `[crop, flip]`: random crop with `padding`, then a horizontal flip."""
    return random_flip()(random_crop(padding)(x, keys), keys)


def _entry(entry: Any, position: int) -> tuple[str, dict[str, Any]]:
    if isinstance(entry, str):
        return entry, {}
    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
        return entry["name"], {k: v for k, v in entry.items() if k != "name"}
    raise ConfigError(
        f"data.augment[{position}]={entry!r} is invalid: give a transform name or "
        f"{{name: ..., <param>: ...}}; transforms: {', '.join(AUGMENTATIONS.names())}"
    )


def build_augment(entries: Sequence[Any] | None, kind: str) -> Transform | None:
    """The transforms a data set's `augment` list names, composed in order (None if empty).

    Unknown names, unknown parameters and transforms for another input kind are
    ConfigErrors naming the entry.
    """
    transforms: list[Transform] = []
    for position, entry in enumerate(entries or []):
        name, params = _entry(entry, position)
        factory = AUGMENTATIONS.get(name)
        if kind not in factory.kinds:  # type: ignore[attr-defined]
            raise ConfigError(
                f"data.augment: {name} applies to {'/'.join(factory.kinds)} inputs, "  # type: ignore[attr-defined]
                f"not to this data set's {kind} inputs"
            )
        accepted = set(inspect.signature(factory).parameters)
        unknown = sorted(set(params) - accepted)
        if unknown:
            raise ConfigError(
                f"data.augment: {name} has no parameter {', '.join(unknown)}; "
                f"its parameters: {', '.join(sorted(accepted)) or 'none'}"
            )
        transforms.append(factory(**params))
    if not transforms:
        return None

    def composed(x: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        for transform in transforms:
            x = transform(x, keys)
        return x

    return composed


def channel_axis(kind: str) -> int:
    """Where a batch keeps its channels: images (B, C, H, W) on 1, frames (B, T, F) last."""
    return 1 if kind == "image" else -1


def normalize(
    x: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...], axis: int = 1
) -> torch.Tensor:
    """Per-channel (x - mean) / std along `axis` (1 for images: on the [0, 1] scale)."""
    shape = [1] * x.dim()
    shape[axis] = -1
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(shape)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(shape)
    return (x - m) / s


def channel_stats(
    x: torch.Tensor, chunk: int = 4096, axis: int = 1
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std (channels on `axis`; images on the [0, 1] scale), in chunks."""
    axis = axis % x.dim()
    c = x.shape[axis]
    reduce = tuple(d for d in range(x.dim()) if d != axis)
    total = torch.zeros(c, dtype=torch.float64)
    total_sq = torch.zeros(c, dtype=torch.float64)
    for start in range(0, x.shape[0], chunk):
        part = to_float(x[start : start + chunk]).double()
        total += part.sum(dim=reduce)
        total_sq += (part * part).sum(dim=reduce)
    n = x.numel() // c
    mean = total / n
    std = (total_sq / n - mean * mean).clamp_min(1e-12).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())
