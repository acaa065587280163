"""Files written atomically and readably: the one place kdbench writes results to disk.

Every record, teacher, stream and cache goes through `write_atomic`: the bytes
go to a temp file in the target's folder, are fsynced, get the permissions the
user's umask gives a new file (e.g. 0644 — `mkstemp` alone makes 0600, which
hides records and teachers from colleagues on a shared cluster folder), and are
renamed over the target. A reader sees the old file or the new one, never half.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

TEMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Call `write(file)` on a temp file beside `path`, fsync, chmod by umask, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    write_atomic(path, lambda f: f.write(data))


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: Path, obj: Any) -> None:
    """JSON with sorted keys and two-space indent (diff-friendly records)."""
    text = json.dumps(obj, indent=2, sort_keys=True, default=str)
    write_text_atomic(path, text)


def remove_stale_temp_files(directory: Path, name: str) -> None:
    """Delete temp files a killed `write_atomic(directory / name)` left (never read)."""
    if Path(directory).is_dir():
        for tmp in Path(directory).glob(f".{name}.*{TEMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks (weights, archives)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def config_hash(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj` (sorted keys): identities of cells and teachers."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()
