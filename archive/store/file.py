"""``FileStore``: objects as files under a root directory; each write is atomic (temp file, fsync, link or
replace) and checked against the digest the bytes came with."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from archive.fsutil import READ_BLOCK, fsync_dir, sha256_file
from archive.keys import check_key
from archive.store.config import StoreConfig
from archive.store.errors import StoreAccessError, StoreError, StoreSourceError
from archive.store.policy import BaseStore, ObjectInfo, Source

_TMP_MARK = ".tmp-"


class FileStore(BaseStore):
    """Objects as files under a root directory; each write is atomic (temp file, fsync, link or replace)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.path.abspath(root))

    @classmethod
    def from_config(cls, config: StoreConfig) -> FileStore:
        return cls(config.root)

    @property
    def uri(self) -> str:
        return self.root.as_uri()

    def describe(self) -> str:
        return f"file store at {self.root}"

    def __repr__(self) -> str:
        return f"FileStore({str(self.root)!r})"

    def check(self) -> None:
        """Create the root if needed and make sure it is a writable directory."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreAccessError(f"cannot create archive directory {self.root}: {exc.strerror}") from exc
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise StoreAccessError(f"archive directory {self.root} is not writable")

    def _path(self, key: str) -> Path:
        path = self.root / check_key(key)
        # check_key already forbids '..'; this also catches a symlink inside the root pointing elsewhere.
        real_root = os.path.realpath(self.root)
        if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
            raise ValueError(f"object key {key!r} resolves outside {self.root}")
        return path

    def stat(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            sha, size = sha256_file(path)
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            # A "directory" key cannot be written as a file: report it as taken by unknown content.
            return ObjectInfo(key=key, size=-1, sha256=None)
        return ObjectInfo(key=key, size=size, sha256=sha)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under ``prefix`` (a plain string prefix), sorted; temp files of unfinished writes skipped."""
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                if name.startswith(".") and _TMP_MARK in name:
                    continue
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    found.append(key)
        yield from sorted(found)

    def _write(self, key: str, source: Source, content_type: str, *, exclusive: bool) -> bool:
        final = self._path(key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name[:60]}{_TMP_MARK}", dir=final.parent)
        except OSError as exc:
            raise StoreError(f"cannot write under {final.parent}: {exc.strerror}", reason="local_io") from exc
        try:
            # Bytes in memory were hashed from themselves; a file is checked against the digest it came with
            # as it is copied (a changed or corrupted file is not stored).
            digest = hashlib.sha256() if source.data is None else None
            with os.fdopen(fd, "wb") as out, source.open() as src:
                while block := src.read(READ_BLOCK):
                    if digest is not None:
                        digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if digest is not None and digest.hexdigest() != source.sha256:
                raise StoreSourceError(f"{key}: the source does not match its SHA-256 (changed or corrupted)")
            if exclusive:
                try:
                    os.link(tmp_name, final)  # atomic and never replaces an existing file
                except FileExistsError:
                    return False
            else:
                os.replace(tmp_name, final)
            fsync_dir(final.parent)
            return True
        except OSError as exc:
            raise StoreError(f"cannot write {final}: {exc.strerror}", reason="local_io") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
