"""Checksummed data archives from the shared folder (CIFAR-10 JPEG, FSDD, ...).

An archive is trusted only after its sha256 matches the published one: a partial
copy or a different release would otherwise train on silently different data.
"""

from __future__ import annotations

from pathlib import Path

from kdbench.errors import KdbenchError
from kdbench.fileio import sha256_file


def require_archive(path: Path, name: str, where: str) -> None:
    """KdbenchError unless the archive is there (the cheap up-front check of a grid point)."""
    if not path.is_file():
        raise KdbenchError(f"{name} archive {path} not found; {where}")


def verify_archive(path: Path, expected: str, name: str, where: str) -> None:
    """Raise KdbenchError unless `path` exists and has the sha256 `expected`.

    `name` is the data set as users know it, `where` how to point kdbench at the
    file (e.g. "set data.root=<path to fsdd.tar.xz> or KDBENCH_FSDD").
    """
    require_archive(path, name, where)
    actual = sha256_file(path)
    if actual != expected:
        raise KdbenchError(
            f"{path} has sha256 {actual[:16]}..., expected {expected[:16]}...; "
            f"the file is corrupt or not the shared copy: copy {path.name} again"
        )
