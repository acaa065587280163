"""The Free Spoken Digit Dataset (Jakobovski et al., v1.0.10; CC BY-SA 4.0).

3,000 mono 16-bit 8 kHz recordings `fsdd/recordings/<digit>_<speaker>_<index>.wav`,
6 speakers x 10 digits x 50 recordings, 0.14-2.28 s long (median 0.42 s, 99 % under
0.92 s). The archive is checked against its sha256, then the WAVs are read straight
from the tar (about 2 s, mostly xz): no unpacked copy on disk.

Official split (the data set's README): recordings with index 0-4 of each speaker
and digit are the test set (300 clips), 5-49 the training set (2,700).

Not registered as a data set here: the data registry wires it in.
"""

from __future__ import annotations

import os
import re
import tarfile
from pathlib import Path

import numpy as np
import torch

from kdbench.data.archives import verify_archive
from kdbench.data.audio.frontend import FrontEnd, FrontEndConfig
from kdbench.data.audio.wav import Side, decode_wav, fit_length, resample
from kdbench.errors import DataError

SHA256 = "d81206ece44bc83ad25b89362fd6099b79a5b2788980bfe1e38b0201065f9f63"
DISPLAY_NAME = "FSDD"
SAMPLE_RATE = 8000
NUM_CLIPS = 3000
TEST_INDICES = range(5)  # recordings 0-4 of each speaker and digit
DEFAULT_DURATION = 1.0  # seconds: 99.3 % of clips fit; 20 of 3,000 lose their end
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_ARCHIVE = REPO_ROOT.parent / "shared" / "data" / "fsdd.tar.xz"
# how to point kdbench at the archive, in every message about it
WHERE = "set data.root=<path to fsdd.tar.xz> or KDBENCH_FSDD"
_NAME = re.compile(r"(?:^|/)recordings/(\d)_([A-Za-z]+)_(\d+)\.wav$")


def archive_path(root: str | None = None) -> Path:
    """`root`, else $KDBENCH_FSDD, else ../shared/data/fsdd.tar.xz beside the repository."""
    chosen = root or os.environ.get("KDBENCH_FSDD")
    return Path(chosen).expanduser() if chosen else DEFAULT_ARCHIVE


def read_fsdd(
    archive: str | Path, expected: str | None = SHA256, sample_rate: int = SAMPLE_RATE
) -> tuple[list[np.ndarray], np.ndarray, list[str], np.ndarray]:
    """(waveforms, labels, speakers, recording indices) of every recording in the archive.

    Waveforms are float32 mono at `sample_rate` with their own lengths; labels int64
    digits; indices int64 (`official_test_mask` turns them into the split). Sorted by
    (digit, speaker, index). `expected=None` skips the checksum (tests' small archives).
    """
    path = Path(archive)
    if expected is not None:
        verify_archive(path, expected, DISPLAY_NAME, WHERE)
    items = []
    try:
        with tarfile.open(path, "r:*") as tar:
            for member in tar:
                match = _NAME.search(member.name)
                if not member.isfile() or match is None:
                    continue
                blob = tar.extractfile(member).read()
                x, rate = decode_wav(blob, f"{path}:{member.name}")
                key = (int(match[1]), match[2], int(match[3]))
                items.append((key, resample(x, rate, sample_rate)))
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DataError(
            f"{path}: cannot read the archive ({exc}); copy fsdd.tar.xz again"
        ) from None
    if not items:
        raise DataError(f"{path} holds no recordings/<digit>_<speaker>_<index>.wav; is it FSDD?")
    items.sort(key=lambda item: item[0])
    labels = np.array([k[0] for k, _ in items], dtype=np.int64)
    speakers = [k[1] for k, _ in items]
    index = np.array([k[2] for k, _ in items], dtype=np.int64)
    return [x for _, x in items], labels, speakers, index


def official_test_mask(recording_index: np.ndarray) -> np.ndarray:
    """True for the official test recordings (index 0-4 of each speaker and digit)."""
    return np.isin(recording_index, np.asarray(TEST_INDICES))


def clip_features(
    waveforms: list[np.ndarray],
    cfg: FrontEndConfig,
    duration: float = DEFAULT_DURATION,
    side: Side = "end",
    batch_size: int = 256,
) -> np.ndarray:
    """Clips (at cfg.sample_rate) fitted to `duration` s, through the front-end:
    float32 [N, frames, features] (MFCC or log-mel per `cfg.features`)."""
    length = round(duration * cfg.sample_rate)
    frontend = FrontEnd(cfg)
    out = np.empty((len(waveforms), cfg.num_frames(length), cfg.num_features), np.float32)
    with torch.no_grad():
        for start in range(0, len(waveforms), batch_size):
            chunk = waveforms[start : start + batch_size]
            batch = torch.from_numpy(np.stack([fit_length(x, length, side) for x in chunk]))
            out[start : start + len(chunk)] = frontend(batch).numpy()
    return out
