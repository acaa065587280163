"""The FSDD archive reader: file names to labels and split, checksum, bad archives.

The small archives are built here; the real one (../shared/data/fsdd.tar.xz or
$KDBENCH_FSDD) is read whole when present (about 3 s).
"""

from __future__ import annotations

import io
import re
import tarfile
import wave

import numpy as np
import pytest

from kdbench.data.audio.frontend import FrontEndConfig
from kdbench.data.audio.fsdd import (
    NUM_CLIPS,
    SHA256,
    archive_path,
    clip_features,
    official_test_mask,
    read_fsdd,
)
from kdbench.errors import DataError, KdbenchError
from kdbench.fileio import sha256_file


def wav_bytes(samples: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())
    return buf.getvalue()


def write_archive(path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:xz") as tar:
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))


def test_names_give_digit_speaker_index_sorted_and_the_official_split(tmp_path):
    clip = wav_bytes(np.full(800, 1000), 8000)
    names = ["7_theo_12.wav", "3_alice_4.wav", "3_alice_10.wav", "3_bob_0.wav", "7_theo_5.wav"]
    members = {f"fsdd/recordings/{n}": clip for n in names}
    members["fsdd/README.md"] = b"not a recording"
    members["fsdd/recordings/16k_0_x_1.txt"] = b"ignored"
    write_archive(tmp_path / "f.tar.xz", members)
    waves, labels, speakers, index = read_fsdd(tmp_path / "f.tar.xz", expected=None)
    assert labels.tolist() == [3, 3, 3, 7, 7]
    assert speakers == ["alice", "alice", "bob", "theo", "theo"]
    assert index.tolist() == [4, 10, 0, 5, 12]  # numeric, not string, order
    assert official_test_mask(index).tolist() == [True, False, True, False, False]
    assert all(w.dtype == np.float32 and w.shape == (800,) for w in waves)
    assert waves[0][0] == pytest.approx(1000 / 32768)


def test_a_clip_at_another_rate_is_resampled(tmp_path):
    t = np.arange(16000) / 16000
    tone = np.round(10000 * np.sin(2 * np.pi * 1000 * t))
    write_archive(tmp_path / "f.tar.xz", {"fsdd/recordings/1_ann_0.wav": wav_bytes(tone, 16000)})
    (wave_8k,), *_ = read_fsdd(tmp_path / "f.tar.xz", expected=None)
    assert wave_8k.shape == (8000,)
    assert np.argmax(np.abs(np.fft.rfft(wave_8k))) == 1000  # 1 Hz bins: still 1 kHz


def test_a_corrupt_recording_is_a_data_error_naming_the_member(tmp_path):
    write_archive(tmp_path / "f.tar.xz", {"fsdd/recordings/2_ann_3.wav": b"RIFF junk"})
    with pytest.raises(DataError, match=re.escape("f.tar.xz:fsdd/recordings/2_ann_3.wav")):
        read_fsdd(tmp_path / "f.tar.xz", expected=None)


def test_a_wrong_checksum_a_missing_file_and_an_empty_archive_are_refused(tmp_path):
    write_archive(tmp_path / "fsdd.tar.xz", {"x/y.txt": b"1"})
    with pytest.raises(KdbenchError, match="has sha256 .*expected d81206ece44bc83a"):
        read_fsdd(tmp_path / "fsdd.tar.xz")
    with pytest.raises(KdbenchError, match="not found; set data.root=<path to fsdd.tar.xz>"):
        read_fsdd(tmp_path / "missing.tar.xz")
    with pytest.raises(DataError, match="holds no recordings"):
        read_fsdd(tmp_path / "fsdd.tar.xz", expected=None)
    (tmp_path / "bad.tar.xz").write_bytes(b"not an archive")
    with pytest.raises(DataError, match="cannot read the archive"):
        read_fsdd(tmp_path / "bad.tar.xz", expected=None)


def test_clip_features_fit_each_clip_then_run_the_front_end():
    cfg = FrontEndConfig(sample_rate=8000)
    clips = [np.zeros(3000, np.float32), np.ones(12000, np.float32) * 0.1]
    feats = clip_features(clips, cfg, duration=1.0, batch_size=1)
    assert feats.shape == (2, 49, 10) and feats.dtype == np.float32
    assert feats[0, :, 0] == pytest.approx(np.sqrt(40) * np.log(1e-10), rel=1e-5)  # silence
    assert feats[1, :, 0].min() > feats[0, 0, 0] + 10


def test_the_shared_archive():
    path = archive_path()
    if not path.is_file():
        pytest.skip(f"{path} not present (set KDBENCH_FSDD)")
    assert sha256_file(path) == SHA256
    waves, labels, speakers, index = read_fsdd(path)
    assert len(waves) == NUM_CLIPS == 3000
    assert np.bincount(labels).tolist() == [300] * 10
    assert sorted(set(speakers)) == ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    assert sorted(set(index.tolist())) == list(range(50))
    assert official_test_mask(index).sum() == 300
    seconds = np.array([len(w) for w in waves]) / 8000
    assert seconds.min() > 0.14 and seconds.max() < 2.29 and 0.41 < np.median(seconds) < 0.43
    feats = clip_features(waves, FrontEndConfig(sample_rate=8000))
    assert feats.shape == (3000, 49, 10) and np.isfinite(feats).all()
