"""CIFAR-10 (JPEG): the shared archive of CIFAR-10 as JPEG files in class folders.

The archive is checked against its published sha256 before use, unpacked once
into the cache, and read by the image-folder loader (which caches the decoded
arrays). JPEG at quality ~75 is lossy, so results are reported as
"CIFAR-10 (JPEG)", never as CIFAR-10.

`make data` (`kdbench.data.cifar10_jpeg.main`) prepares it ahead of time.
"""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
from pathlib import Path

from filelock import FileLock

from kdbench.config import DataConfig
from kdbench.data.archives import require_archive
from kdbench.data.archives import verify_archive as verify_sha256
from kdbench.data.base import TensorData
from kdbench.data.imagefolder import cache_root, load_image_folder
from kdbench.data.registry import DATA_CHECKS, DATASETS
from kdbench.errors import KdbenchError

SHA256 = "6254f53a1bc70afc08c46178959354e8597763b03706815cc50b5e2cdff16569"
DISPLAY_NAME = "CIFAR-10 (JPEG)"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ARCHIVE = REPO_ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.xz"


def archive_path(root: str | None) -> Path:
    """`data.root`, else $KDBENCH_CIFAR10_JPEG, else ../shared/data/ beside the repository."""
    chosen = root or os.environ.get("KDBENCH_CIFAR10_JPEG")
    return Path(chosen).expanduser() if chosen else DEFAULT_ARCHIVE


WHERE = "set data.root=<path to cifar10-jpeg.tar.xz> or KDBENCH_CIFAR10_JPEG"


def check_archive_exists(path: Path) -> None:
    require_archive(path, DISPLAY_NAME, WHERE)


def verify_archive(path: Path, expected: str = SHA256) -> None:
    """Raise KdbenchError unless `path` exists and has the expected sha256."""
    verify_sha256(
        path,
        expected,
        DISPLAY_NAME,
        WHERE,
    )


def unpack(archive: Path, expected: str = SHA256, cache: Path | None = None) -> Path:
    """Verify and unpack `archive` once; return the folder holding train/ and test/."""
    verify_archive(archive, expected)
    target = (cache or cache_root()) / f"cifar10-jpeg-{expected[:12]}"
    done = target / ".complete"
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if done.is_file():
            return target
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(archive, "r:xz") as tar:
            tar.extractall(partial, filter="data")  # no absolute paths, links out, devices
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
        done.write_text(expected + "\n")
    return target


@DATASETS.register("cifar10_jpeg")
def cifar10_jpeg(cfg: DataConfig) -> TensorData:
    folder = unpack(archive_path(cfg.root))
    return load_image_folder(cfg, folder, DISPLAY_NAME)


@DATA_CHECKS.register("cifar10_jpeg")
def check_cifar10_jpeg(cfg: DataConfig) -> None:
    """The archive is there (its sha256 is checked by the loader, once: it costs seconds)."""
    check_archive_exists(archive_path(cfg.root))


def main() -> None:
    """Unpack and decode ahead of time (`make data`)."""
    import time

    from kdbench.data.imagefolder import decode_folder

    start = time.perf_counter()
    try:
        folder = unpack(archive_path(sys.argv[1] if len(sys.argv) > 1 else None))
        arrays = decode_folder(folder, 32, 3)
    except KdbenchError as exc:
        print(f"kdbench data: error: {exc}", file=sys.stderr)
        sys.exit(2)
    sizes = ", ".join(f"{s}: {len(arrays[f'y_{s}'])}" for s in ("train", "test"))
    print(f"{DISPLAY_NAME} ready in {folder} ({sizes}; {time.perf_counter() - start:.1f} s)")
