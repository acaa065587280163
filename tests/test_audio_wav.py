"""WAV reading, resampling and length fitting (kdbench.data.audio.wav).

Files are written here with the standard library's `wave` (integer PCM) or by
hand with `struct` (float and WAVE_FORMAT_EXTENSIBLE, which `wave` cannot write),
and the expected floats come from the PCM scaling rule written out below.
"""

from __future__ import annotations

import re
import struct
import wave

import numpy as np
import pytest

from kdbench.data.audio.wav import fit_length, load_wav, read_wav, resample
from kdbench.errors import DataError, KdbenchError


def pcm_bytes(ints: np.ndarray, bits: int) -> bytes:
    """Interleaved little-endian PCM; 8-bit is unsigned (offset 128)."""
    flat = ints.reshape(-1).astype(np.int64)
    if bits == 8:
        return (flat + 128).astype(np.uint8).tobytes()
    if bits == 24:
        u = flat & 0xFFFFFF
        return bytes(b for v in u for b in (v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF))
    return flat.astype(f"<i{bits // 8}").tobytes()


def write_pcm(path, ints: np.ndarray, bits: int, rate: int) -> None:
    """ints [frames, channels] in the signed range of `bits`."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(ints.shape[1])
        w.setsampwidth(bits // 8)
        w.setframerate(rate)
        w.writeframes(pcm_bytes(ints, bits))


def riff(fmt: bytes, data: bytes) -> bytes:
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def extremes(bits: int) -> np.ndarray:
    top = 1 << (bits - 1)
    return np.array([-top, -top + 1, -1, 0, 1, top // 3, top - 1], dtype=np.int64)


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
@pytest.mark.parametrize("rate", [22050, 8000])
def test_integer_pcm_stereo_reads_as_the_channel_mean_scaled_by_2_pow_bits_minus_1(
    tmp_path, bits, rate
):
    left = extremes(bits)
    right = left[::-1].copy()
    path = tmp_path / f"s{bits}_{rate}.wav"
    write_pcm(path, np.stack([left, right], axis=1), bits, rate)
    x, got_rate = read_wav(path)
    scale = float(2 ** (bits - 1))  # 8-bit: (u - 128) / 128 with u = v + 128
    expected = ((left / scale) + (right / scale)) / 2
    assert got_rate == rate
    assert x.dtype == np.float32 and x.shape == (len(left),)
    np.testing.assert_allclose(x, expected, rtol=0, atol=1e-7)
    assert x.min() >= -1.0 and x.max() < 1.0


def test_24_bit_sign_extension_of_single_values(tmp_path):
    """-1 is 0xFFFFFF, -2**23 is 0x800000: the top bit of byte 3 is the sign."""
    path = tmp_path / "m24.wav"
    write_pcm(path, np.array([[-1], [-(1 << 23)], [(1 << 23) - 1], [256]]), 24, 16000)
    x, _ = read_wav(path)
    np.testing.assert_allclose(
        x, [-1 / 2**23, -1.0, (2**23 - 1) / 2**23, 256 / 2**23], rtol=0, atol=1e-9
    )


def test_ieee_float_and_extensible_files(tmp_path):
    samples = np.array([[0.5, -0.25], [-1.0, 1.0], [0.125, 0.0]], dtype="<f4")
    fmt = struct.pack("<HHIIHH", 3, 2, 16000, 16000 * 8, 8, 32)  # WAVE_FORMAT_IEEE_FLOAT
    (tmp_path / "f.wav").write_bytes(riff(fmt, samples.tobytes()))
    x, rate = read_wav(tmp_path / "f.wav")
    assert rate == 16000
    np.testing.assert_allclose(x, [0.125, 0.0, 0.0625])

    ints = np.array([1000, -2000, 32767], dtype="<i2")
    # KSDATAFORMAT_SUBTYPE_PCM, 00000001-0000-0010-8000-00aa00389b71
    pcm_guid = struct.pack("<IHH", 1, 0x0000, 0x0010) + bytes.fromhex("800000aa00389b71")
    ext = struct.pack("<HHIIHH", 0xFFFE, 1, 44100, 88200, 2, 16)
    ext += struct.pack("<HHI", 22, 16, 0x4) + pcm_guid  # cbSize, valid bits, channel mask
    (tmp_path / "e.wav").write_bytes(riff(ext, ints.tobytes()))
    x, rate = read_wav(tmp_path / "e.wav")
    assert rate == 44100
    np.testing.assert_allclose(x, ints / 32768.0, atol=1e-7)


def test_a_text_file_named_wav_is_a_one_line_data_error_naming_it(tmp_path):
    path = tmp_path / "notes.wav"
    path.write_text("this is not audio\n")
    with pytest.raises(DataError, match=re.escape(str(path)) + r".*not a WAV file") as info:
        load_wav(path)
    assert "\n" not in str(info.value) and "convert it to PCM WAV" in str(info.value)
    assert isinstance(info.value, KdbenchError)  # the CLI's one-line, exit-2 path


def test_a_truncated_wav_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "cut.wav"
    write_pcm(path, np.zeros((1000, 1), dtype=np.int64), 16, 8000)
    path.write_bytes(path.read_bytes()[:-500])
    with pytest.raises(DataError, match=re.escape(str(path)) + r".*truncated"):
        read_wav(path)
    path.write_bytes(path.read_bytes()[:30])  # cut inside the fmt chunk
    with pytest.raises(DataError, match=re.escape(str(path))):
        read_wav(path)


def test_an_empty_or_missing_file_is_a_data_error_naming_it(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(DataError, match=re.escape(str(path)) + r".*empty file"):
        read_wav(path)
    with pytest.raises(DataError, match=re.escape(str(tmp_path / "nope.wav"))):
        read_wav(tmp_path / "nope.wav")


def test_an_unsupported_encoding_is_refused(tmp_path):
    fmt = struct.pack("<HHIIHH", 0x0006, 1, 8000, 8000, 1, 8)  # A-law
    (tmp_path / "alaw.wav").write_bytes(riff(fmt, b"\x00" * 10))
    with pytest.raises(DataError, match="unsupported WAV encoding"):
        read_wav(tmp_path / "alaw.wav")


def peak_hz(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x))
    return float(np.argmax(spectrum)) * rate / len(x)


def test_resampling_a_1_khz_sine_from_16_to_8_khz_keeps_its_frequency_and_level():
    t = np.arange(16000) / 16000
    x = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    y = resample(x, 16000, 8000)
    assert y.dtype == np.float32 and y.shape == (8000,)
    assert peak_hz(y, 8000) == pytest.approx(1000.0)
    middle = y[500:-500]  # away from the filter's edge transients
    assert np.sqrt(np.mean(middle**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_resampling_by_a_non_integer_ratio_uses_the_gcd():
    """22050 -> 16000 is up 320 / down 441 (gcd 50): output length ceil(n * 320 / 441)."""
    t = np.arange(22050) / 22050
    x = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    y = resample(x, 22050, 16000)
    assert y.shape == (int(np.ceil(22050 * 320 / 441)),)
    assert peak_hz(y, 16000) == pytest.approx(440.0)
    assert resample(x, 22050, 22050) is x


def test_fit_length_pads_and_cuts_at_the_end_or_around_the_centre():
    x = np.arange(1, 6, dtype=np.float32)  # [1 2 3 4 5]
    np.testing.assert_array_equal(fit_length(x, 3), [1, 2, 3])
    np.testing.assert_array_equal(fit_length(x, 7), [1, 2, 3, 4, 5, 0, 0])
    np.testing.assert_array_equal(fit_length(x, 3, "center"), [2, 3, 4])
    np.testing.assert_array_equal(fit_length(x, 8, "center"), [0, 1, 2, 3, 4, 5, 0, 0])
    assert fit_length(x, 5) is x
    with pytest.raises(ValueError, match="side"):
        fit_length(x, 3, "start")


def test_load_wav_resamples_then_fits_the_duration(tmp_path):
    path = tmp_path / "tone.wav"
    t = np.arange(11025) / 22050  # 0.5 s
    write_pcm(path, np.round(8000 * np.sin(2 * np.pi * 500 * t))[:, None], 16, 22050)
    x = load_wav(path, sample_rate=8000, duration=1.0)
    assert x.shape == (8000,)
    assert np.all(x[4100:] == 0) and np.abs(x[:4000]).max() > 0.2
    assert peak_hz(x[:4000], 8000) == pytest.approx(500.0)
