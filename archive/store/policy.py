"""The ``Store`` protocol and the no-silent-overwrite policy both stores share (``BaseStore``).

With ``overwrite=False`` (the default), when the key already holds the *same bytes* the store writes nothing
and returns the key (an upload repeated after a crash is a no-op); when it holds *different bytes* the
object is stored under the first free name ``name.1.ext``, ``name.2.ext``... and that key is returned. The
write itself is exclusive (a hard link for files, ``If-None-Match: *`` on S3), so the policy tries it first
and only looks at the existing object when the key is taken: a new object costs no lookup.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Protocol, runtime_checkable

from archive.fsutil import sha256_file
from archive.keys import check_key
from archive.store.errors import StoreError

logger = logging.getLogger(__name__)

DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: How many ``name.N.ext`` alternatives to try before giving up.
MAX_ALTERNATIVES = 1000


@dataclass(frozen=True)
class ObjectInfo:
    """What a store knows about one stored object (``sha256``: hex, None when the store cannot tell)."""

    key: str
    size: int
    sha256: str | None


@runtime_checkable
class Store(Protocol):
    """Where archived objects go. Keys are relative, '/'-separated and checked with ``archive.keys``."""

    @property
    def uri(self) -> str: ...

    def put_bytes(
        self, key: str, data: bytes, *, content_type: str = DEFAULT_CONTENT_TYPE, overwrite: bool = False
    ) -> str: ...

    def put_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        overwrite: bool = False,
        sha256: str | None = None,
        size: int | None = None,
    ) -> str: ...

    def get_bytes(self, key: str) -> bytes | None: ...

    def exists(self, key: str) -> bool: ...

    def stat(self, key: str) -> ObjectInfo | None: ...

    def list(self, prefix: str = "") -> Iterator[str]: ...

    def describe(self) -> str: ...

    def check(self) -> None: ...


def alternative_key(key: str, n: int) -> str:
    """``dir/name.ext`` -> ``dir/name.<n>.ext`` (the first dot after the name's first character starts ext)."""
    head, _, name = key.rpartition("/")
    dot = name.find(".", 1)
    new = f"{name}.{n}" if dot < 0 else f"{name[:dot]}.{n}{name[dot:]}"
    return f"{head}/{new}" if head else new


class Source:
    """The bytes to store: in memory or a file, with their SHA-256 and size.

    A caller that already knows the digest (the spool keeps it in each entry's sidecar) passes it with the
    size and nothing is hashed here; the store then checks what it sends or copies against it.
    """

    def __init__(
        self,
        data: bytes | None = None,
        path: str | os.PathLike[str] | None = None,
        *,
        sha256: str | None = None,
        size: int | None = None,
    ) -> None:
        self.data = data
        self.path = os.fspath(path) if path is not None else None
        if sha256 is not None and size is not None:
            self.sha256, self.size = sha256, size
        elif data is not None:
            self.sha256, self.size = hashlib.sha256(data).hexdigest(), len(data)
        else:
            assert self.path is not None
            self.sha256, self.size = sha256_file(self.path)

    def open(self) -> IO[bytes]:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return open(self.path, "rb")


class BaseStore(ABC):
    """The no-silent-overwrite policy, on top of three primitives each store implements."""

    def put_bytes(
        self, key: str, data: bytes, *, content_type: str = DEFAULT_CONTENT_TYPE, overwrite: bool = False
    ) -> str:
        """Store ``data`` under ``key`` (or an alternative, see the module docstring); return the key used."""
        return self._put(check_key(key), Source(data=bytes(data)), content_type, overwrite)

    def put_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        overwrite: bool = False,
        sha256: str | None = None,
        size: int | None = None,
    ) -> str:
        """Store the file at ``path`` under ``key`` (or an alternative); return the key used.

        ``sha256``/``size``: the file's digest when the caller knows it (then it is not hashed again, and a
        file that no longer matches raises ``StoreSourceError`` with nothing stored).
        """
        check_key(key)
        try:
            source = Source(path=path, sha256=sha256, size=size)
        except OSError as exc:
            raise StoreError(f"cannot read {os.fspath(path)!r}: {exc.strerror}", reason="local_io") from exc
        return self._put(key, source, content_type, overwrite)

    def exists(self, key: str) -> bool:
        """True when ``key`` holds an object."""
        return self.stat(key) is not None

    def _put(self, key: str, source: Source, content_type: str, overwrite: bool) -> str:
        if overwrite:
            self._write(key, source, content_type, exclusive=False)
            return key
        for n in range(MAX_ALTERNATIVES + 1):
            candidate = key if n == 0 else check_key(alternative_key(key, n))
            if self._look_first(source):
                info = self.stat(candidate)
                if info is not None:
                    if self._same(info, source):
                        logger.debug("%s already holds identical bytes; nothing to write", candidate)
                        return candidate
                    continue
            if self._write(candidate, source, content_type, exclusive=True):
                if n:
                    logger.info("%s holds different bytes; stored the new object as %s", key, candidate)
                return candidate
            # The key is taken (or another writer created it since we looked): same bytes, or the next name.
            info = self.stat(candidate)
            if info is not None and self._same(info, source):
                logger.debug("%s already holds identical bytes; nothing to write", candidate)
                return candidate
        raise StoreError(
            f"{key}: all {MAX_ALTERNATIVES} alternative names are taken", reason="name_exhausted"
        )

    def _same(self, info: ObjectInfo, source: Source) -> bool:
        return info.size == source.size and info.sha256 == source.sha256

    def _look_first(self, source: Source) -> bool:
        """Whether to look the key up before writing: only where a wasted write costs more than a lookup
        (the exclusive write itself tells a new key from a taken one)."""
        return False

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Size and SHA-256 of the object at ``key``, or None when there is none."""

    @abstractmethod
    def _write(self, key: str, source: Source, content_type: str, *, exclusive: bool) -> bool:
        """Write and verify; with ``exclusive``, return False (writing nothing) if the key exists."""
