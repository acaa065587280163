"""GLUE SST-2 (Socher et al., 2013; Wang et al., 2019) from the shared archive.

67,349 training sentences (0 negative, 1 positive). GLUE keeps its test labels
private, so papers report accuracy on dev.tsv (872 sentences): it is the test
split here, and validation is drawn stratified from train.tsv. Reported as
"SST-2 (GLUE dev as test)" so nobody mistakes it for the GLUE test server's score.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

from filelock import FileLock

from kdbench.config import DataConfig
from kdbench.data.archives import require_archive, verify_archive
from kdbench.data.base import TensorData
from kdbench.data.imagefolder import cache_root
from kdbench.data.registry import DATA_CHECKS, DATASETS
from kdbench.data.text.loader import text_data
from kdbench.data.text.tables import read_table

SHA256 = "ec50374ffb21a7d8825bbbbaadb11897d6746d4befece659770ce313e81eaa49"
DISPLAY_NAME = "SST-2 (GLUE dev as test)"
CLASSES = ["negative", "positive"]
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ARCHIVE = REPO_ROOT.parent / "shared" / "data" / "sst2.tar.xz"
# the archive as messages name it, and how to point kdbench at it
ARCHIVE_NAME, WHERE = "SST-2", "set data.root=<path to sst2.tar.xz> or KDBENCH_SST2"


def archive_path(root: str | None) -> Path:
    """`data.root`, else $KDBENCH_SST2, else ../shared/data/sst2.tar.xz beside the repository."""
    chosen = root or os.environ.get("KDBENCH_SST2")
    return Path(chosen).expanduser() if chosen else DEFAULT_ARCHIVE


def unpack(archive: Path, cache: Path | None = None) -> Path:
    """Verify and unpack the two labelled files once; return the folder holding sst2/."""
    target = (cache or cache_root()) / f"sst2-{SHA256[:12]}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / ".complete").is_file():
            return target
        verify_archive(archive, SHA256, ARCHIVE_NAME, WHERE)
        with tarfile.open(archive, "r:xz") as tar:
            tar.extractall(target, filter="data")
        (target / ".complete").write_text(SHA256 + "\n")
    return target


@DATASETS.register("sst2")
def sst2(cfg: DataConfig) -> TensorData:
    folder = unpack(archive_path(cfg.root)) / "sst2"
    train = read_table(folder / "train.tsv", "sentence", "label")
    test = read_table(folder / "dev.tsv", "sentence", "label")
    return text_data(cfg, train, test, DISPLAY_NAME, cache_root(), CLASSES)


@DATA_CHECKS.register("sst2")
def check_sst2(cfg: DataConfig) -> None:
    """The archive is there (its sha256 is checked by the loader)."""
    require_archive(archive_path(cfg.root), ARCHIVE_NAME, WHERE)
