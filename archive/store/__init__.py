"""Where archived objects go: a local directory or an S3 bucket, behind one small ``Store`` protocol.

``open_store(uri, **options)`` picks the implementation by URI scheme from ``STORE_SCHEMES`` (as scrapy's
``FilesPipeline`` does):

* ``file:///abs/dir`` or a plain path: ``FileStore`` (``archive.store.file``), atomic writes.
* ``s3://bucket/prefix``: ``S3Store`` (``archive.store.s3``, boto3 imported lazily). Options:
  ``endpoint_url``, ``region``, ``access_key``, ``secret_key``, ``session_token`` (default: the standard AWS
  credential chain), ``addressing_style`` (path | virtual | auto), ``multipart_threshold``,
  ``multipart_chunksize``, ``retries``, ``verify``, ``use_ssl``, ``connect_timeout``, ``read_timeout``,
  ``max_connections`` (the client's connection pool; one client serves every uploader thread).

One module per job: ``errors``, ``config`` (URI and options), ``policy`` (the protocol and the
no-silent-overwrite rule), ``file``, ``s3``, ``multipart``.

Guarantees shared by both stores:

* Every write is verified against the SHA-256 the bytes were handed over with (a caller that knows it, the
  spool, passes it along; nothing is hashed twice for it). S3 uploads carry a SHA-256 checksum
  (``x-amz-checksum-sha256``, per part for multipart uploads) that the server checks on receipt, plus the hex
  SHA-256 of the whole object as ``x-amz-meta-sha256``; after the write one HEAD checks size and digests
  before the key is returned. ``FileStore`` hashes what it copies before moving it into place.
* Nothing is overwritten silently (``archive.store.policy``).
* ``describe()``, ``repr()`` and every error message are safe for logs: no credentials in them.
"""

from __future__ import annotations

from typing import Any

from archive.store.config import DEFAULT_CHUNKSIZE, DEFAULT_MULTIPART_THRESHOLD, MIN_PART_SIZE, StoreConfig
from archive.store.errors import (
    StoreAccessError,
    StoreConfigError,
    StoreError,
    StoreIntegrityError,
    StoreNotFoundError,
    StoreSourceError,
    StoreUnavailableError,
)
from archive.store.file import FileStore
from archive.store.multipart import ProgressCallback
from archive.store.policy import (
    DEFAULT_CONTENT_TYPE,
    MAX_ALTERNATIVES,
    BaseStore,
    ObjectInfo,
    Source,
    Store,
    alternative_key,
)
from archive.store.s3 import S3Store

#: The store class for each URI scheme; each takes the parsed ``StoreConfig``.
STORE_SCHEMES: dict[str, type[FileStore] | type[S3Store]] = {"file": FileStore, "s3": S3Store}

__all__ = [
    "DEFAULT_CHUNKSIZE",
    "DEFAULT_CONTENT_TYPE",
    "DEFAULT_MULTIPART_THRESHOLD",
    "MAX_ALTERNATIVES",
    "MIN_PART_SIZE",
    "STORE_SCHEMES",
    "BaseStore",
    "FileStore",
    "ObjectInfo",
    "ProgressCallback",
    "S3Store",
    "Source",
    "Store",
    "StoreAccessError",
    "StoreConfig",
    "StoreConfigError",
    "StoreError",
    "StoreIntegrityError",
    "StoreNotFoundError",
    "StoreSourceError",
    "StoreUnavailableError",
    "alternative_key",
    "open_store",
    "store_from_config",
]


def open_store(uri: str, **options: Any) -> FileStore | S3Store:
    """Open the store for ``uri``; ``options`` as in the module docstring (None values are ignored).

    S3-only options are accepted and ignored for file stores, so one set of settings serves both.
    ``progress`` (S3 only): ``callback(key, bytes_done, total)`` after each multipart part.
    """
    progress = options.pop("progress", None)
    config = StoreConfig.from_uri(uri, options)
    return store_from_config(config, progress=progress)


def store_from_config(
    config: StoreConfig, *, progress: ProgressCallback | None = None
) -> FileStore | S3Store:
    """The store for an already validated ``StoreConfig``, by its scheme (``STORE_SCHEMES``)."""
    if config.scheme == "s3":
        return S3Store(config, progress=progress)
    return STORE_SCHEMES[config.scheme].from_config(config)
