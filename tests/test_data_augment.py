"""Batched augmentation: shapes and dtypes kept, crops and flips exactly as specified."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from kdbench.data.augment import (
    channel_stats,
    crop,
    flip,
    normalize,
    random_crop,
    random_flip,
    standard_augment,
    to_float,
)
from kdbench.data.base import TensorData


def known(b: int = 6, c: int = 3, h: int = 5, w: int = 7) -> torch.Tensor:
    """Distinct, non-zero values, so every pixel's origin is recognisable."""
    return (torch.arange(b * c * h * w) % 250 + 1).to(torch.uint8).reshape(b, c, h, w)


def test_crop_at_the_centre_is_the_identity_and_shifts_otherwise():
    x = known()
    centre = torch.full((6, 2), 4)
    assert torch.equal(crop(x, 4, centre), x)
    shifted = crop(x, 4, torch.tensor([[4, 5]] * 6))  # window one pixel to the right
    assert torch.equal(shifted[..., :-1], x[..., 1:])
    assert (shifted[..., -1] == 0).all()  # zero padding enters at the edge
    corner = crop(x, 4, torch.zeros(6, 2, dtype=torch.long))
    assert torch.equal(corner[..., 4:, 4:], x[..., :1, :3]) and (corner[..., :4, :] == 0).all()


def test_random_crop_gives_each_sample_its_own_window_of_the_padded_image():
    x = known(b=64)
    out = random_crop(x, 4, generator=torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == torch.uint8
    padded = F.pad(x, (4, 4, 4, 4))
    seen = set()
    for i in range(64):
        matches = [
            (dy, dx)
            for dy in range(9)
            for dx in range(9)
            if torch.equal(out[i], padded[i, :, dy : dy + 5, dx : dx + 7])
        ]
        assert matches, f"sample {i} is not a crop of its padded image"
        seen.add(matches[0])
    assert len(seen) > 10  # offsets drawn per sample, not one per batch


def test_flip_mirrors_exactly_the_masked_samples():
    x = known(b=4)
    out = flip(x, torch.tensor([True, False, True, False]))
    assert torch.equal(out[0], x[0].flip(-1)) and torch.equal(out[1], x[1])
    assert torch.equal(out[2, :, :, 0], x[2, :, :, -1])
    rnd = random_flip(known(b=200), generator=torch.Generator().manual_seed(1))
    flipped = [torch.equal(rnd[i], known(b=200)[i].flip(-1)) for i in range(200)]
    assert 60 < sum(flipped) < 140  # about half, chosen per sample


def test_standard_augment_keeps_shape_and_dtype():
    for x in (known(), known().float() / 255):
        out = standard_augment(x)
        assert out.shape == x.shape and out.dtype == x.dtype


def test_to_float_and_normalize_and_statistics():
    x = torch.tensor([0, 255], dtype=torch.uint8).reshape(1, 1, 1, 2).repeat(2, 3, 2, 1)
    f = to_float(x)
    assert f.dtype == torch.float32 and f.min() == 0 and f.max() == 1
    assert to_float(f) is f
    mean, std = channel_stats(x, chunk=1)
    assert torch.allclose(torch.tensor(mean), torch.full((3,), 0.5), atol=1e-6)
    assert torch.allclose(torch.tensor(std), torch.full((3,), 0.5), atol=1e-6)
    z = normalize(f, mean, std)
    assert torch.allclose(z.abs(), torch.ones_like(z), atol=1e-5)


def test_tensordata_prepare_augments_only_training_batches():
    x = known(b=8)
    y = torch.zeros(8, dtype=torch.long)
    calls = []

    def spy(batch):
        calls.append(batch.shape)
        return batch

    data = TensorData((x, y), (x, y), (x, y), 2, "t", mean=(0.5,) * 3, std=(0.25,) * 3, augment=spy)
    out = data.prepare(x)
    assert calls == [] and out.dtype == torch.float32
    assert torch.allclose(out, (x.float() / 255 - 0.5) / 0.25)
    data.prepare(x, training=True)
    assert calls == [x.shape]
    assert torch.equal(data.example(3), out[:3])
