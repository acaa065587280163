"""Batched augmentation: shapes and dtypes kept, crops and flips exactly as specified."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from kdbench.data.augment import (
    AUGMENTATIONS,
    build_augment,
    channel_stats,
    crop,
    crop_offsets,
    flip,
    normalize,
    random_crop,
    random_flip,
    standard_augment,
    to_float,
    view_keys,
)
from kdbench.data.base import TensorData
from kdbench.errors import ConfigError


def keys(b: int, seed: int = 0) -> torch.Tensor:
    return view_keys(seed, 0, torch.arange(b))


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
    out = random_crop(4)(x, keys(64))
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
    rnd = random_flip()(known(b=200), keys(200, seed=1))
    flipped = [torch.equal(rnd[i], known(b=200)[i].flip(-1)) for i in range(200)]
    assert 60 < sum(flipped) < 140  # about half, chosen per sample


def test_standard_augment_keeps_shape_and_dtype():
    for x in (known(), known().float() / 255):
        out = standard_augment(x, keys(len(x)))
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


def test_prepare_converts_and_normalizes_and_example_is_its_prefix():
    x = known(b=8)
    y = torch.zeros(8, dtype=torch.long)
    data = TensorData((x, y), (x, y), (x, y), 2, "t", mean=(0.5,) * 3, std=(0.25,) * 3)
    out = data.prepare(x)
    assert out.dtype == torch.float32
    assert torch.allclose(out, (x.float() / 255 - 0.5) / 0.25)
    assert torch.equal(data.example(3), out[:3])
    assert data.spec.kind == "image" and data.spec.shape == (3, 5, 7)


def test_sequence_normalization_is_per_feature_on_the_last_axis():
    x = torch.randn(50, 20, 4) * torch.tensor([1.0, 2.0, 3.0, 4.0]) + torch.tensor([0, 1, 2, 3.0])
    mean, std = channel_stats(x, chunk=7, axis=-1)
    flat = x.reshape(-1, 4).double()
    assert torch.allclose(torch.tensor(mean, dtype=torch.float64), flat.mean(0), atol=1e-9)
    assert torch.allclose(
        torch.tensor(std, dtype=torch.float64), flat.std(0, unbiased=False), atol=1e-9
    )
    z = normalize(x, mean, std, axis=-1)
    assert torch.allclose(z.reshape(-1, 4).mean(0), torch.zeros(4), atol=1e-5)


def test_the_yaml_list_names_registered_transforms_applied_in_order():
    x = known(b=16)
    k = keys(16, seed=3)
    composed = build_augment(["crop", {"name": "flip"}], "image")
    assert torch.equal(composed(x, k), standard_augment(x, k))
    assert build_augment([], "image") is None
    jitter = build_augment([{"name": "jitter", "pixels": 2}], "image")
    assert torch.equal(jitter(x, k), crop(x, 2, crop_offsets(k, 2)))
    assert {"crop", "flip", "jitter"} <= set(AUGMENTATIONS.names())


@pytest.mark.parametrize(
    ("entries", "kind", "message"),
    [
        (["rotate"], "image", "unknown augmentation"),
        (
            [{"name": "crop", "pad": 2}],
            "image",
            "crop has no parameter pad; its parameters: padding",
        ),
        (["flip"], "tokens", "flip applies to image inputs, not to this data set's tokens inputs"),
        ([3], "image", r"data.augment\[0\]=3 is invalid"),
    ],
)
def test_bad_augment_entries_are_one_line_config_errors(entries, kind, message):
    with pytest.raises((ConfigError, KeyError), match=message):
        build_augment(entries, kind)


def test_calibration_is_class_balanced_even_when_the_split_is_sorted_by_class():
    y = torch.arange(10).repeat_interleave(30)  # sorted by class, as image folders are
    x = y.view(-1, 1, 1, 1).to(torch.uint8).expand(-1, 1, 2, 2).contiguous()
    data = TensorData((x, y), (x, y), (x, y), 10, "sorted")
    inputs, histogram = data.calibration(25, seed=0)
    assert len(inputs) == 25
    assert set(histogram) == {str(c) for c in range(10)}
    assert sorted(histogram.values()) == [2] * 5 + [3] * 5  # 25 over 10 classes
    # the first n training items would have been one class
    assert torch.unique(y[:25]).tolist() == [0]
    assert torch.equal(data.calibration_index(25, 0), data.calibration_index(25, 0))
    assert not torch.equal(data.calibration_index(25, 0), data.calibration_index(25, 1))
