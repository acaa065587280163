"""Log-mel and MFCC features in plain torch (torchaudio has no build for our torch).

The steps and their conventions, so results can be compared with other tools:

* Framing: frames of `window_ms` every `hop_ms`, starting at sample 0, no padding
  (TensorFlow's convention, as in Hello Edge; librosa and torchaudio centre frames
  by default): `1 + (T - win) // hop` frames; a clip shorter than a window is
  zero-padded to one window.
* Window: periodic Hann of the window length, `w[n] = 0.5 - 0.5 cos(2 pi n / win)`;
  each windowed frame is zero-padded at the end to `n_fft` (the next power of two
  >= win) and its power spectrum `|rfft|^2` has `n_fft // 2 + 1` bins.
* Mel filterbank: HTK mel scale `mel(f) = 2595 log10(1 + f / 700)`; `n_mels + 2`
  points equally spaced in mel between `fmin` and `fmax`; filter m is the
  triangle rising from point m to m+1 and falling to m+2, evaluated at the bin
  frequencies `k * sample_rate / n_fft`, peak 1, no area normalization (the
  shape of torchaudio's `melscale_fbanks(norm=None, mel_scale="htk")`).
* Log: natural log of the mel energies floored at `log_floor` (1e-10): `ln(max(E, floor))`.
* MFCC: the first `n_mfcc` coefficients of the orthonormal DCT-II of the log-mel
  vector, `c_k = s_k sum_m x_m cos(pi k (m + 1/2) / M)`, `s_0 = sqrt(1/M)`,
  `s_k = sqrt(2/M)`.

Defaults follow Hello Edge (Zhang et al., 2017): 40 ms windows, 20 ms hop,
40 mel bands, 10 MFCCs. It is an `nn.Module` (buffers only, no parameters) so it
can be exported, but the pipeline runs it once at load time and caches features.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

Features = Literal["mfcc", "logmel"]


@dataclass(frozen=True)
class FrontEndConfig:
    """Front-end settings; lengths in milliseconds and Hz, as in the papers."""

    sample_rate: int = 16000
    window_ms: float = 40.0
    hop_ms: float = 20.0
    n_mels: int = 40
    n_mfcc: int = 10
    fmin: float = 20.0
    fmax: float | None = None  # None: sample_rate / 2
    features: Features = "mfcc"
    log_floor: float = 1e-10

    @property
    def win_length(self) -> int:
        return round(self.sample_rate * self.window_ms / 1000)

    @property
    def hop_length(self) -> int:
        return round(self.sample_rate * self.hop_ms / 1000)

    @property
    def n_fft(self) -> int:
        return 1 << max(0, (self.win_length - 1).bit_length())

    @property
    def top_hz(self) -> float:
        return self.sample_rate / 2 if self.fmax is None else self.fmax

    @property
    def num_features(self) -> int:
        return self.n_mfcc if self.features == "mfcc" else self.n_mels

    def num_frames(self, num_samples: int) -> int:
        """Frames of a clip of `num_samples` (at least one)."""
        return 1 + max(0, num_samples - self.win_length) // self.hop_length

    def check(self) -> None:
        """ValueError naming the setting when the settings cannot make features."""
        if self.win_length < 1 or self.hop_length < 1:
            raise ValueError("window_ms and hop_ms must be at least one sample long")
        if not 0 <= self.fmin < self.top_hz <= self.sample_rate / 2:
            raise ValueError(
                f"need 0 <= fmin < fmax <= sample_rate / 2, got fmin={self.fmin}, "
                f"fmax={self.top_hz}, sample_rate={self.sample_rate}"
            )
        if self.features not in ("mfcc", "logmel"):
            raise ValueError(f"features={self.features!r}: use 'mfcc' or 'logmel'")
        if self.features == "mfcc" and not 1 <= self.n_mfcc <= self.n_mels:
            raise ValueError(f"n_mfcc={self.n_mfcc} must be in [1, n_mels={self.n_mels}]")


def hz_to_mel(f: torch.Tensor) -> torch.Tensor:
    """HTK mel scale."""
    return 2595.0 * torch.log10(1.0 + f / 700.0)


def mel_to_hz(m: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_filterbank(
    n_freqs: int, sample_rate: int, n_mels: int, fmin: float, fmax: float
) -> torch.Tensor:
    """Triangular HTK mel filters, [n_freqs, n_mels], float64, peak 1 (no normalization)."""
    freqs = torch.linspace(0.0, sample_rate / 2, n_freqs, dtype=torch.float64)
    lo, hi = hz_to_mel(torch.tensor([fmin, fmax], dtype=torch.float64)).tolist()
    pts = mel_to_hz(torch.linspace(lo, hi, n_mels + 2, dtype=torch.float64))
    left, centre, right = pts[:-2], pts[1:-1], pts[2:]
    rise = (freqs[:, None] - left) / (centre - left)
    fall = (right - freqs[:, None]) / (right - centre)
    return torch.clamp(torch.minimum(rise, fall), min=0.0)


def dct_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """Orthonormal DCT-II as an [n_in, n_out] matrix: features @ D = first n_out coefficients."""
    m = torch.arange(n_in, dtype=torch.float64)
    k = torch.arange(n_out, dtype=torch.float64)
    d = torch.cos(math.pi * (m[:, None] + 0.5) * k[None, :] / n_in) * math.sqrt(2.0 / n_in)
    d[:, 0] /= math.sqrt(2.0)
    return d


class FrontEnd(nn.Module):
    """Waveforms [T] or [B, T] (float, at cfg.sample_rate) -> features [frames, F] / [B, frames, F]."""

    def __init__(self, cfg: FrontEndConfig) -> None:
        super().__init__()
        cfg.check()
        self.cfg = cfg
        n = torch.arange(cfg.win_length, dtype=torch.float64)
        window = 0.5 - 0.5 * torch.cos(2 * math.pi * n / cfg.win_length)  # periodic Hann
        fbank = mel_filterbank(
            cfg.n_fft // 2 + 1, cfg.sample_rate, cfg.n_mels, cfg.fmin, cfg.top_hz
        )
        self.register_buffer("window", window.float(), persistent=False)
        self.register_buffer("fbank", fbank.float(), persistent=False)
        self.register_buffer("dct", dct_matrix(cfg.n_mels, cfg.n_mfcc).float(), persistent=False)

    def power_spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """|STFT|^2, [..., frames, n_fft // 2 + 1]."""
        win, hop = self.cfg.win_length, self.cfg.hop_length
        if x.shape[-1] < win:
            x = torch.nn.functional.pad(x, (0, win - x.shape[-1]))
        frames = x.unfold(-1, win, hop) * self.window
        spec = torch.fft.rfft(frames, n=self.cfg.n_fft)
        return spec.real.square() + spec.imag.square()

    def log_mel(self, x: torch.Tensor) -> torch.Tensor:
        """ln(max(mel energies, log_floor)), [..., frames, n_mels]."""
        mel = self.power_spectrum(x) @ self.fbank
        return torch.log(torch.clamp(mel, min=self.cfg.log_floor))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logmel = self.log_mel(x.float())
        return logmel @ self.dct if self.cfg.features == "mfcc" else logmel
