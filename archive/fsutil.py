"""Local file primitives every archive module shares: SHA-256 of a file, fsync of a directory, atomic writes."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

READ_BLOCK = 1024 * 1024


def sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """The hex SHA-256 and the size of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(READ_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a rename or link in ``path`` durable; a no-op where the file system does not allow it."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; the files themselves are synced
    finally:
        os.close(fd)


def write_atomic(path: Path, writer: Callable[[IO[bytes]], object]) -> None:
    """Write ``path`` through a synced temporary file beside it, then rename it into place."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            writer(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """``write_atomic`` for bytes in memory."""
    write_atomic(path, lambda fh: fh.write(data))
