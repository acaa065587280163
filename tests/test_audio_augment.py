"""Keyed audio augmentation: a sample's view is a function of its key alone.

SNR in dB: 10 log10(P_signal / P_noise), powers as mean squares over the sample.
"""

from __future__ import annotations

import math

import pytest
import torch

from kdbench.data.audio.augment import add_noise, keyed_normal, shift_draws, time_shift
from kdbench.data.augment import view_keys


def test_time_shift_moves_each_sample_by_its_draw_with_zero_fill():
    x = torch.arange(1, 41, dtype=torch.float32).reshape(4, 10)
    keys = view_keys(0, 3, torch.arange(4))
    shifts = shift_draws(keys, 3).tolist()
    out = time_shift(x, keys, 3)
    for i, s in enumerate(shifts):
        expected = [x[i, t - s].item() if 0 <= t - s < 10 else 0.0 for t in range(10)]
        assert out[i].tolist() == expected


def test_time_shift_of_feature_frames_moves_whole_frames():
    x = torch.randn(3, 12, 5)
    keys = view_keys(1, 0, torch.arange(3))
    out = time_shift(x, keys, 4, fill=-23.0)
    for i, s in enumerate(shift_draws(keys, 4).tolist()):
        for t in range(12):
            row = x[i, t - s] if 0 <= t - s < 12 else torch.full((5,), -23.0)
            assert torch.equal(out[i, t], row)


def test_shift_draws_cover_the_whole_range_and_no_shift_is_identity():
    draws = shift_draws(view_keys(7, 0, torch.arange(5000)), 4)
    assert sorted(set(draws.tolist())) == list(range(-4, 5))
    counts = torch.bincount(draws + 4).float()
    assert counts.min() > 0.8 * 5000 / 9  # roughly uniform
    x = torch.randn(2, 9)
    assert time_shift(x, view_keys(0, 0, torch.arange(2)), 0) is x


def test_same_key_same_view_whatever_the_batch():
    index = torch.arange(10)
    x = torch.randn(10, 800)
    keys = view_keys(42, 5, index)
    full = add_noise(time_shift(x, keys, 50), keys, 5.0)
    pick = torch.tensor([7, 2, 9])
    part = add_noise(time_shift(x[pick], keys[pick], 50), keys[pick], 5.0)
    assert torch.equal(full[pick], part)
    other_epoch = view_keys(42, 6, index)
    assert not torch.equal(add_noise(x, other_epoch, 5.0), add_noise(x, keys, 5.0))


@pytest.mark.parametrize("snr_db", [0.0, 10.0, 20.0])
def test_noise_is_added_at_the_target_snr(snr_db):
    t = torch.arange(16000, dtype=torch.float64) / 16000
    amplitudes = torch.tensor([0.5, 0.05, 1.0], dtype=torch.float64)
    x = (amplitudes[:, None] * torch.sin(2 * math.pi * 440 * t)).float()
    y = add_noise(x, view_keys(3, 0, torch.arange(3)), snr_db)
    noise = (y - x).double()
    measured = 10 * torch.log10(x.double().square().mean(1) / noise.square().mean(1))
    assert measured.tolist() == pytest.approx([snr_db] * 3, abs=0.2)


def test_a_snr_range_draws_each_samples_snr_inside_it():
    x = torch.randn(64, 4000)
    y = add_noise(x, view_keys(0, 0, torch.arange(64)), (5.0, 15.0))
    snr = 10 * torch.log10(x.square().mean(1) / (y - x).square().mean(1))
    assert snr.min() > 4.7 and snr.max() < 15.3
    assert snr.max() - snr.min() > 5  # spread over the range, not one value


def test_a_silent_sample_stays_silent():
    x = torch.zeros(2, 100)
    assert torch.equal(add_noise(x, view_keys(0, 0, torch.arange(2)), 10.0), x)


def test_keyed_noise_is_standard_normal_and_independent_across_keys():
    z = keyed_normal(view_keys(9, 1, torch.arange(4)), (50000,)).double()
    assert z.mean(1).abs().max() < 0.02
    assert (z.std(1) - 1).abs().max() < 0.02
    within_one = (z.abs() < 1).double().mean()
    assert within_one.item() == pytest.approx(math.erf(1 / math.sqrt(2)), abs=0.005)
    corr = torch.corrcoef(z)
    assert (corr - torch.eye(4, dtype=torch.float64)).abs().max() < 0.02
