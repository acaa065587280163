"""The log-mel / MFCC front-end against its formulas, written out here in plain Python.

Mel scale (HTK): mel(f) = 2595 log10(1 + f / 700).
Filter m (HTK / torchaudio `melscale_fbanks(norm=None, mel_scale="htk")`): with
f_0 < ... < f_{M+1} equally spaced in mel between fmin and fmax,
  H_m(f) = (f - f_{m-1}) / (f_m - f_{m-1})   for f_{m-1} <= f <= f_m,
           (f_{m+1} - f) / (f_{m+1} - f_m)   for f_m <= f <= f_{m+1},  0 elsewhere.
DCT-II, orthonormal: C[k, n] = s_k cos(pi k (2n + 1) / (2N)), s_0 = sqrt(1/N), s_k = sqrt(2/N).
Periodic Hann: w[n] = 0.5 - 0.5 cos(2 pi n / N).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.fft import dct as scipy_dct

from kdbench.data.audio.frontend import FrontEnd, FrontEndConfig, hz_to_mel, mel_to_hz


def htk_mel(f: float) -> float:
    return 2595.0 * math.log10(1.0 + f / 700.0)


def htk_hz(m: float) -> float:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def triangle(f: float, lo: float, centre: float, hi: float) -> float:
    if lo <= f <= centre:
        return (f - lo) / (centre - lo)
    if centre < f <= hi:
        return (hi - f) / (hi - centre)
    return 0.0


def mel_points(n_mels: int, fmin: float, fmax: float) -> list[float]:
    a, b = htk_mel(fmin), htk_mel(fmax)
    return [htk_hz(a + (b - a) * i / (n_mels + 1)) for i in range(n_mels + 2)]


def filterbank_by_hand(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    pts = mel_points(n_mels, fmin, fmax)
    out = np.zeros((n_fft // 2 + 1, n_mels))
    for k in range(n_fft // 2 + 1):
        f = k * sr / n_fft
        for m in range(n_mels):
            out[k, m] = triangle(f, pts[m], pts[m + 1], pts[m + 2])
    return out


def dct_by_definition(n: int) -> np.ndarray:
    """[k, n] orthonormal DCT-II."""
    c = np.zeros((n, n))
    for k in range(n):
        s = math.sqrt((1.0 if k == 0 else 2.0) / n)
        for i in range(n):
            c[k, i] = s * math.cos(math.pi * k * (2 * i + 1) / (2 * n))
    return c


def hann_periodic(n: int) -> np.ndarray:
    return np.array([0.5 - 0.5 * math.cos(2 * math.pi * i / n) for i in range(n)])


def test_defaults_are_hello_edge_and_the_derived_lengths():
    cfg = FrontEndConfig()
    assert (cfg.window_ms, cfg.hop_ms, cfg.n_mels, cfg.n_mfcc) == (40.0, 20.0, 40, 10)
    assert (cfg.win_length, cfg.hop_length, cfg.n_fft) == (640, 320, 1024)
    assert cfg.num_frames(16000) == 49  # Hello Edge: a 1 s clip is 49 x 10 MFCCs
    cfg8 = FrontEndConfig(sample_rate=8000)
    assert (cfg8.win_length, cfg8.hop_length, cfg8.n_fft, cfg8.top_hz) == (320, 160, 512, 4000)
    assert FrontEndConfig(sample_rate=8000, window_ms=32).n_fft == 256  # 256 is already 2**8
    assert cfg8.num_frames(100) == 1  # shorter than a window: one zero-padded frame


def test_htk_mel_scale_values():
    f = torch.tensor([0.0, 700.0, 1000.0, 4000.0], dtype=torch.float64)
    expected = [htk_mel(v) for v in f.tolist()]
    assert hz_to_mel(f).tolist() == pytest.approx(expected, rel=1e-12)
    assert expected[1] == pytest.approx(2595 * math.log10(2))
    assert expected[2] == pytest.approx(1000.0, abs=0.5)  # the scale's anchor: 1 kHz ~ 1000 mel
    assert mel_to_hz(hz_to_mel(f)).tolist() == pytest.approx(f.tolist(), abs=1e-9)


def test_filterbank_equals_the_triangles_computed_by_hand():
    cfg = FrontEndConfig(sample_rate=8000)
    fe = FrontEnd(cfg)
    by_hand = filterbank_by_hand(8000, 512, 40, 20.0, 4000.0)
    assert tuple(fe.fbank.shape) == (257, 40)
    np.testing.assert_allclose(fe.fbank.numpy(), by_hand, atol=1e-6)
    # A few entries spelled out: bin k is at k * 8000 / 512 Hz.
    pts = mel_points(40, 20.0, 4000.0)
    for k, m in [(3, 0), (10, 5), (100, 30), (256, 39)]:
        f = k * 8000 / 512
        lo, c, hi = pts[m], pts[m + 1], pts[m + 2]
        w = (f - lo) / (c - lo) if f <= c else max(0.0, (hi - f) / (hi - c))
        assert fe.fbank[k, m].item() == pytest.approx(max(w, 0.0), abs=1e-6)
    assert fe.fbank[0].abs().sum() == 0  # DC (0 Hz) lies below fmin = 20 Hz
    assert fe.fbank.max() <= 1.0 and fe.fbank.min() >= 0.0


def test_dct_is_the_orthonormal_dct_ii_by_definition():
    fe = FrontEnd(FrontEndConfig(sample_rate=8000))
    c = dct_by_definition(40)
    np.testing.assert_allclose(fe.dct.numpy(), c[:10].T, atol=1e-6)
    full = FrontEnd(FrontEndConfig(sample_rate=8000, n_mfcc=40)).dct.double().numpy()
    np.testing.assert_allclose(full.T @ full, np.eye(40), atol=1e-6)  # orthonormal
    x = np.random.default_rng(0).normal(size=40)
    np.testing.assert_allclose(x @ full, scipy_dct(x, type=2, norm="ortho"), atol=1e-5)


def test_window_is_periodic_hann():
    fe = FrontEnd(FrontEndConfig(sample_rate=8000))
    np.testing.assert_allclose(fe.window.numpy(), hann_periodic(320), atol=1e-7)
    assert fe.window[0] == 0 and fe.window[160] == pytest.approx(1.0)  # periodic: peak at N/2


@pytest.mark.parametrize("freq", [1000.0, 1234.0, 3000.0])
def test_a_pure_sine_peaks_at_its_bin_in_every_frame(freq):
    sr, n_fft = 8000, 512
    t = np.arange(8000) / sr
    x = torch.tensor(np.sin(2 * np.pi * freq * t), dtype=torch.float32)
    power = FrontEnd(FrontEndConfig(sample_rate=sr)).power_spectrum(x)
    assert tuple(power.shape) == (49, n_fft // 2 + 1)
    assert (power.argmax(dim=-1) == round(freq * n_fft / sr)).all()


def test_parseval_each_frames_power_sums_to_n_fft_times_its_windowed_energy():
    """sum_k |X_k|^2 over all n_fft bins = n_fft * sum_n (w_n x_n)^2; the one-sided
    spectrum counts bins 1 .. n_fft/2 - 1 twice."""
    sr, win, hop, n_fft = 8000, 320, 160, 512
    x = np.random.default_rng(1).uniform(-1, 1, size=4000)
    power = FrontEnd(FrontEndConfig(sample_rate=sr)).power_spectrum(torch.tensor(x)).numpy()
    w = hann_periodic(win)
    for i in (0, 7, power.shape[0] - 1):
        frame = x[i * hop : i * hop + win] * w
        p = power[i]
        two_sided = p[0] + p[-1] + 2 * p[1:-1].sum()
        assert two_sided == pytest.approx(n_fft * np.sum(frame**2), rel=1e-4)


def test_mfcc_equals_an_independent_numpy_pipeline():
    sr, win, hop, n_fft = 8000, 320, 160, 512
    x = np.random.default_rng(2).normal(scale=0.1, size=(3, 6000))
    frames = 1 + (6000 - win) // hop
    fb = filterbank_by_hand(sr, n_fft, 40, 20.0, 4000.0)
    c = dct_by_definition(40)[:10]
    expected = np.zeros((3, frames, 10))
    for b in range(3):
        for i in range(frames):
            seg = x[b, i * hop : i * hop + win] * hann_periodic(win)
            p = np.abs(np.fft.rfft(seg, n=n_fft)) ** 2
            logmel = np.log(np.maximum(p @ fb, 1e-10))
            expected[b, i] = c @ logmel
    got = FrontEnd(FrontEndConfig(sample_rate=sr))(torch.tensor(x, dtype=torch.float32))
    assert tuple(got.shape) == (3, frames, 10)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-3, atol=2e-3)


def test_batched_equals_per_clip_and_log_mel_shape():
    x = torch.randn(4, 8000)
    fe = FrontEnd(FrontEndConfig(sample_rate=8000))
    batched = fe(x)
    assert tuple(batched.shape) == (4, 49, 10)
    for i in range(4):
        torch.testing.assert_close(fe(x[i]), batched[i], rtol=1e-5, atol=1e-4)
    logmel = FrontEnd(FrontEndConfig(sample_rate=8000, features="logmel"))(x)
    assert tuple(logmel.shape) == (4, 49, 40)


def test_silence_hits_the_log_floor():
    """Zero input: every log-mel energy is ln(1e-10); the DCT of a constant vector c
    has c_0 = sqrt(M) * c and zeros elsewhere."""
    zeros = torch.zeros(8000)
    logmel = FrontEnd(FrontEndConfig(sample_rate=8000, features="logmel"))(zeros)
    assert torch.allclose(logmel, torch.full_like(logmel, math.log(1e-10)))
    mfcc = FrontEnd(FrontEndConfig(sample_rate=8000))(zeros)
    assert mfcc[:, 0] == pytest.approx(math.sqrt(40) * math.log(1e-10), rel=1e-5)
    assert mfcc[:, 1:].abs().max() < 1e-3


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fmin": 5000.0}, "fmin < fmax"),
        ({"fmax": 9000.0}, "fmax <= sample_rate / 2"),
        ({"n_mfcc": 41}, "n_mfcc=41"),
        ({"features": "spectrogram"}, "features="),
    ],
)
def test_impossible_settings_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        FrontEnd(FrontEndConfig(sample_rate=8000, **kwargs))
