"""WAV files to float32 mono waveforms in [-1, 1], at a chosen rate and length.

The RIFF chunks are parsed here (struct + numpy) rather than with the standard
library's `wave`, because `wave` refuses 32-bit float files (WAVE_FORMAT_IEEE_FLOAT)
and, before Python 3.12, WAVE_FORMAT_EXTENSIBLE, both of which common recorders
write. Supported: integer PCM of 8 (unsigned), 16, 24 and 32 bits, float of 32 and
64 bits, any sample rate, any number of channels (mixed down to mono by averaging).

Integer samples are scaled by 2**(bits-1) (8-bit: (x - 128) / 128), so full scale
maps to [-1, 1); float samples are kept as written.
"""

from __future__ import annotations

import struct
from math import gcd
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np

from kdbench.errors import DataError

WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_IEEE_FLOAT = 0x0003
WAVE_FORMAT_EXTENSIBLE = 0xFFFE
_FIX = "convert it to PCM WAV (e.g. `ffmpeg -i IN -c:a pcm_s16le OUT.wav`) or remove it"

Side = Literal["end", "center"]


def _fail(name: str, problem: str) -> DataError:
    return DataError(f"{name}: {problem}; {_FIX}")


def _chunks(data: bytes, name: str) -> dict[bytes, bytes]:
    """The RIFF/WAVE file's top-level chunks by id (first of each); checks the header."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        size = "an empty file" if not data else "no RIFF/WAVE header"
        raise _fail(name, f"not a WAV file ({size})")
    chunks: dict[bytes, bytes] = {}
    pos = 12
    while pos + 8 <= len(data):
        cid, size = data[pos : pos + 4], struct.unpack_from("<I", data, pos + 4)[0]
        body = data[pos + 8 : pos + 8 + size]
        if len(body) < size:
            raise _fail(name, f"truncated WAV file ({cid.decode('latin-1')!r} chunk cut short)")
        chunks.setdefault(cid, body)
        pos += 8 + size + (size & 1)  # chunks are word-aligned
    return chunks


def decode_wav(data: bytes, name: str = "<bytes>") -> tuple[np.ndarray, int]:
    """(mono float32 waveform, sample rate) of a WAV file's bytes; `name` is for messages."""
    chunks = _chunks(data, name)
    if b"fmt " not in chunks or b"data" not in chunks:
        missing = "fmt" if b"fmt " not in chunks else "data"
        raise _fail(name, f"WAV file without a {missing} chunk (truncated?)")
    fmt = chunks[b"fmt "]
    if len(fmt) < 16:
        raise _fail(name, "WAV fmt chunk too short")
    tag, channels, rate, _, block, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack_from("<H", fmt, 24)[0]  # first two bytes of the SubFormat GUID
    if channels < 1 or rate < 1 or bits not in (8, 16, 24, 32, 64) or block != channels * bits // 8:
        raise _fail(name, f"WAV header is inconsistent ({channels} ch, {rate} Hz, {bits} bit)")
    raw = chunks[b"data"]
    raw = raw[: len(raw) - len(raw) % block]
    if tag == WAVE_FORMAT_PCM and bits in (8, 16, 24, 32):
        x = _pcm(raw, bits)
    elif tag == WAVE_FORMAT_IEEE_FLOAT and bits in (32, 64):
        x = np.frombuffer(raw, dtype=f"<f{bits // 8}").astype(np.float32)
    else:
        raise _fail(name, f"unsupported WAV encoding (format tag {tag:#06x}, {bits} bit)")
    x = x.reshape(-1, channels)
    mono = x[:, 0] if channels == 1 else x.mean(axis=1, dtype=np.float64)
    return np.ascontiguousarray(mono, dtype=np.float32), rate


def _pcm(raw: bytes, bits: int) -> np.ndarray:
    """Integer PCM bytes (little-endian; 8-bit unsigned) to float32 in [-1, 1)."""
    if bits == 8:
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if bits == 24:  # no numpy dtype: assemble 3 bytes, then sign-extend from bit 23
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        return v.astype(np.float32) / float(1 << 23)
    ints = np.frombuffer(raw, dtype=f"<i{bits // 8}")
    return (ints.astype(np.float64) / float(1 << (bits - 1))).astype(np.float32)


def read_wav(path: str | Path | BinaryIO, name: str | None = None) -> tuple[np.ndarray, int]:
    """(mono float32 waveform, sample rate) of a WAV file on disk or an open binary file."""
    if isinstance(path, (str, Path)):
        name = name or str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise DataError(f"{name}: cannot read ({exc.strerror}); check the path") from None
    else:
        data = path.read()
    return decode_wav(data, name or "<stream>")


def resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    """`x` at `rate` Hz resampled to `target` Hz (scipy's polyphase filter, up/down by the gcd)."""
    if rate == target:
        return x
    from scipy.signal import resample_poly

    g = gcd(rate, target)
    return resample_poly(x, target // g, rate // g).astype(np.float32)


def fit_length(x: np.ndarray, length: int, side: Side = "end") -> np.ndarray:
    """Zero-pad or cut `x` (time on the last axis) to `length` samples.

    side="end" keeps the start of the clip: it pads or cuts at the end (the onset of
    a word is where the clip starts). side="center" pads or cuts both ends equally
    (the extra sample at the end), which keeps a centered keyword centered.
    """
    n = x.shape[-1]
    if n == length:
        return x
    if side not in ("end", "center"):
        raise ValueError(f"side={side!r}: use 'end' or 'center'")
    if n > length:
        start = (n - length) // 2 if side == "center" else 0
        return x[..., start : start + length]
    before = (length - n) // 2 if side == "center" else 0
    pad = [(0, 0)] * (x.ndim - 1) + [(before, length - n - before)]
    return np.pad(x, pad)


def load_wav(
    path: str | Path,
    sample_rate: int | None = None,
    duration: float | None = None,
    side: Side = "end",
) -> np.ndarray:
    """A WAV file as float32 mono, resampled to `sample_rate` and fitted to `duration` s.

    None keeps the file's rate (then `duration` counts samples at that rate) or length.
    """
    x, rate = read_wav(path)
    if sample_rate is not None:
        x, rate = resample(x, rate, sample_rate), sample_rate
    if duration is not None:
        x = fit_length(x, round(duration * rate), side)
    return x
