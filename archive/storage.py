"""Where archived objects go: a local directory or an S3 bucket, behind one small ``Store`` protocol.

``open_store(uri, **options)`` picks the implementation by URI scheme (as scrapy's ``FilesPipeline`` does):

* ``file:///abs/dir`` or a plain path: ``FileStore``, atomic writes (temp file, fsync, link/replace).
* ``s3://bucket/prefix``: ``S3Store`` (boto3, imported lazily). Options: ``endpoint_url``, ``region``,
  ``access_key``, ``secret_key``, ``session_token`` (default: the standard AWS credential chain),
  ``addressing_style`` (path | virtual | auto), ``multipart_threshold``, ``multipart_chunksize``,
  ``retries``, ``verify``, ``use_ssl``, ``connect_timeout``, ``read_timeout``.

Guarantees shared by both stores:

* Every write is verified. S3 uploads carry a SHA-256 checksum (``x-amz-checksum-sha256``, per part for
  multipart uploads) that the server checks on receipt, plus the hex SHA-256 of the whole object as
  ``x-amz-meta-sha256``; after the write the object is HEADed and its size and digests must match before the
  key is returned. ``FileStore`` hashes what it wrote before moving it into place.
* Nothing is overwritten silently. With ``overwrite=False`` (the default), when the key already holds the
  *same bytes* the store writes nothing and returns the key (an upload repeated after a crash is a no-op);
  when it holds *different bytes* the object is stored under the first free name ``name.1.ext``,
  ``name.2.ext``... and that key is returned. S3 writes use a conditional put (``If-None-Match: *``) so two
  writers cannot clobber each other; a server that answers 501 to it falls back to a HEAD check.
* ``describe()``, ``repr()`` and every error message are safe for logs: no credentials in them.

Errors are ``StoreError`` subclasses with a short ``reason`` (used in stats keys): ``StoreConfigError``
(bad URI/options, raised by ``StoreConfig.from_uri``), ``StoreUnavailableError`` (endpoint unreachable or
5xx: retry later), ``StoreAccessError`` (credentials refused or missing), ``StoreNotFoundError`` (no such
bucket), ``StoreIntegrityError`` (stored bytes do not match).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import ipaddress
import logging
import os
import re
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from archive.keys import check_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: S3 refuses parts smaller than this (except the last one).
MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000
DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024
DEFAULT_CHUNKSIZE = 16 * 1024 * 1024
#: How many ``name.N.ext`` alternatives to try before giving up.
MAX_ALTERNATIVES = 1000
_READ_BLOCK = 1024 * 1024
_SHA256_META = "sha256"

ProgressCallback = Callable[[str, int, int], None]


# --- Errors ---------------------------------------------------------------------------------------------


class StoreError(Exception):
    """A store operation failed; ``reason`` is a short slug for stats (``storage/upload_failed/<reason>``)."""

    reason = "error"

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class StoreConfigError(StoreError, ValueError):
    """The archive URI or a store option is wrong; the message says how to fix it."""

    reason = "config"


class StoreUnavailableError(StoreError):
    """The store cannot be reached or answered 5xx: a transient condition, try again later."""

    reason = "unreachable"


class StoreAccessError(StoreError):
    """Credentials are missing, wrong or lack permission."""

    reason = "access_denied"


class StoreNotFoundError(StoreError):
    """The bucket does not exist."""

    reason = "no_such_bucket"


class StoreIntegrityError(StoreError):
    """What the store holds does not match what was sent."""

    reason = "checksum"


# --- Configuration --------------------------------------------------------------------------------------

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ADDRESSING_STYLES = ("auto", "path", "virtual")
_S3_OPTIONS = frozenset(
    {
        "endpoint_url",
        "region",
        "access_key",
        "secret_key",
        "session_token",
        "addressing_style",
        "multipart_threshold",
        "multipart_chunksize",
        "retries",
        "verify",
        "use_ssl",
        "connect_timeout",
        "read_timeout",
    }
)


@dataclass(frozen=True)
class StoreConfig:
    """A parsed, validated store configuration. Credentials are kept out of ``repr()``."""

    scheme: str  # "file" or "s3"
    root: str = ""  # file: absolute directory
    bucket: str = ""
    prefix: str = ""  # s3: no leading/trailing "/", "" for the bucket root
    endpoint_url: str | None = None
    region: str | None = None
    access_key: str | None = field(default=None, repr=False)
    secret_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    addressing_style: str = "auto"
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD
    multipart_chunksize: int = DEFAULT_CHUNKSIZE
    retries: int = 5
    verify: bool | str | None = None
    use_ssl: bool | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 120.0

    @property
    def uri(self) -> str:
        """The canonical URI (no credentials: they never appear in URIs)."""
        if self.scheme == "file":
            return Path(self.root).as_uri()
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    @classmethod
    def from_uri(cls, uri: str, options: Mapping[str, Any] | None = None) -> StoreConfig:
        """Parse and validate ``uri`` and ``options`` (None values mean "not set"); raise StoreConfigError."""
        opts = {k: v for k, v in (options or {}).items() if v is not None}
        unknown = sorted(set(opts) - _S3_OPTIONS)
        if unknown:
            raise StoreConfigError(f"unknown store option(s) {unknown}; known: {sorted(_S3_OPTIONS)}")
        if not isinstance(uri, str) or not uri.strip():
            raise StoreConfigError(
                "ARCHIVE_URI is empty: set it to file:///abs/dir, a plain path, or s3://bucket/prefix"
            )
        uri = uri.strip()
        if "://" not in uri:
            if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", uri):
                raise StoreConfigError(
                    f"archive URI {_safe_uri(uri)!r} looks like a URI without '//': "
                    "use file:///abs/dir or s3://bucket/prefix"
                )
            return cls(scheme="file", root=os.path.abspath(os.path.expanduser(uri)))
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if scheme == "file":
            if parts.netloc not in ("", "localhost"):
                raise StoreConfigError(
                    f"file URI {uri!r} names host {parts.netloc!r}: use file:///absolute/dir (three slashes)"
                )
            if not parts.path.startswith("/"):
                raise StoreConfigError(f"file URI {uri!r} needs an absolute path: file:///absolute/dir")
            if parts.query or parts.fragment:
                raise StoreConfigError(f"file URI {uri!r} must not have a query or fragment")
            return cls(scheme="file", root=os.path.abspath(parts.path))
        if scheme == "s3":
            return cls._from_s3(parts, opts)
        raise StoreConfigError(
            f"unknown archive URI scheme {scheme!r} in {_safe_uri(uri)!r}: "
            "use file:///abs/dir, a plain path, or s3://bucket/prefix"
        )

    @classmethod
    def _from_s3(cls, parts: Any, opts: dict[str, Any]) -> StoreConfig:
        if "@" in parts.netloc:
            raise StoreConfigError(
                "the S3 URI contains credentials (user:secret@bucket): remove them and use "
                "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the AWS credential chain"
            )
        bucket = parts.netloc
        shown = f"s3://{bucket}{parts.path}"
        if not bucket:
            raise StoreConfigError(f"S3 URI {shown!r} has no bucket: use s3://bucket/prefix")
        if ":" in bucket:
            raise StoreConfigError(
                f"S3 URI {shown!r} has a port: put the endpoint in AWS_ENDPOINT_URL, the bucket in the URI"
            )
        if not _BUCKET.match(bucket) or ".." in bucket or _is_ip(bucket):
            raise StoreConfigError(
                f"{bucket!r} is not a valid S3 bucket name (3-63 characters: lowercase letters, digits, "
                "'.' and '-', starting and ending with a letter or digit)"
            )
        if parts.query or parts.fragment:
            raise StoreConfigError(f"S3 URI {shown!r} must not have a query or fragment")
        prefix = parts.path[1:] if parts.path.startswith("/") else parts.path
        prefix = prefix[:-1] if prefix.endswith("/") else prefix
        if prefix:
            try:
                check_key(prefix)
            except ValueError as exc:
                raise StoreConfigError(
                    f"S3 URI {shown!r} has an unusable prefix ({exc}); write s3://bucket/some/prefix "
                    "with no '//', '.' or '..' segments"
                ) from None
        style = str(opts.get("addressing_style", "auto")).lower()
        if style not in _ADDRESSING_STYLES:
            raise StoreConfigError(f"S3_ADDRESSING_STYLE must be one of {_ADDRESSING_STYLES}, not {style!r}")
        if bool(opts.get("access_key")) != bool(opts.get("secret_key")):
            raise StoreConfigError(
                "set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither (to use the AWS chain)"
            )
        threshold = _int_option(opts, "multipart_threshold", DEFAULT_MULTIPART_THRESHOLD)
        chunksize = _int_option(
            opts, "multipart_chunksize", max(MIN_PART_SIZE, min(threshold, DEFAULT_CHUNKSIZE))
        )
        if threshold < MIN_PART_SIZE:
            raise StoreConfigError(f"S3_MULTIPART_THRESHOLD must be at least {MIN_PART_SIZE} (5 MiB)")
        if chunksize < MIN_PART_SIZE:
            raise StoreConfigError(f"multipart chunk size must be at least {MIN_PART_SIZE} (5 MiB)")
        retries = _int_option(opts, "retries", 5)
        if retries < 0:
            raise StoreConfigError("S3_UPLOAD_RETRIES must be >= 0")
        endpoint = opts.get("endpoint_url")
        if endpoint is not None:
            ep = urlsplit(str(endpoint))
            if ep.scheme not in ("http", "https") or not ep.hostname:
                raise StoreConfigError(f"AWS_ENDPOINT_URL must be http(s)://host[:port], not {endpoint!r}")
            if ep.username or ep.password:
                raise StoreConfigError("AWS_ENDPOINT_URL must not contain credentials")
        verify = opts.get("verify")
        if isinstance(verify, str) and verify.lower() in ("true", "false", "1", "0"):
            verify = verify.lower() in ("true", "1")
        return cls(
            scheme="s3",
            bucket=bucket,
            prefix=prefix,
            endpoint_url=str(endpoint) if endpoint else None,
            region=opts.get("region"),
            access_key=opts.get("access_key"),
            secret_key=opts.get("secret_key"),
            session_token=opts.get("session_token"),
            addressing_style=style,
            multipart_threshold=threshold,
            multipart_chunksize=chunksize,
            retries=retries,
            verify=verify,
            use_ssl=opts.get("use_ssl"),
            connect_timeout=float(opts.get("connect_timeout", 10.0)),
            read_timeout=float(opts.get("read_timeout", 120.0)),
        )


def _int_option(opts: Mapping[str, Any], name: str, default: int) -> int:
    value = opts.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StoreConfigError(f"store option {name} must be an integer, not {value!r}") from None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _safe_uri(uri: str) -> str:
    # Drop any user:password@ part before a URI goes into a message.
    return re.sub(r"//[^/@]*@", "//***@", uri)


# --- The protocol and what both stores share ------------------------------------------------------------


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


def _sha256_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(_READ_BLOCK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


class _Source:
    """The bytes to store: in memory or a file, with their SHA-256 and size computed once."""

    def __init__(self, data: bytes | None = None, path: str | os.PathLike[str] | None = None) -> None:
        self.data = data
        self.path = os.fspath(path) if path is not None else None
        if data is not None:
            self.sha256, self.size = hashlib.sha256(data).hexdigest(), len(data)
        else:
            assert self.path is not None
            self.sha256, self.size = _sha256_file(self.path)

    def open(self) -> IO[bytes]:
        if self.data is not None:
            return io.BytesIO(self.data)
        assert self.path is not None
        return open(self.path, "rb")


class _BaseStore(ABC):
    """The no-silent-overwrite policy, on top of three primitives each store implements."""

    def put_bytes(
        self, key: str, data: bytes, *, content_type: str = DEFAULT_CONTENT_TYPE, overwrite: bool = False
    ) -> str:
        """Store ``data`` under ``key`` (or an alternative, see the module docstring); return the key used."""
        return self._put(check_key(key), _Source(data=bytes(data)), content_type, overwrite)

    def put_file(
        self,
        key: str,
        path: str | os.PathLike[str],
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        overwrite: bool = False,
    ) -> str:
        """Store the file at ``path`` under ``key`` (or an alternative); return the key used."""
        check_key(key)
        try:
            source = _Source(path=path)
        except OSError as exc:
            raise StoreError(f"cannot read {os.fspath(path)!r}: {exc.strerror}", reason="local_io") from exc
        return self._put(key, source, content_type, overwrite)

    def exists(self, key: str) -> bool:
        """True when ``key`` holds an object."""
        return self.stat(key) is not None

    def _put(self, key: str, source: _Source, content_type: str, overwrite: bool) -> str:
        if overwrite:
            self._write(key, source, content_type, exclusive=False)
            return key
        for n in range(MAX_ALTERNATIVES + 1):
            candidate = key if n == 0 else check_key(alternative_key(key, n))
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
            # Lost a race: another writer created the key between stat() and the write; look again.
            info = self.stat(candidate)
            if info is not None and self._same(info, source):
                return candidate
        raise StoreError(
            f"{key}: all {MAX_ALTERNATIVES} alternative names are taken", reason="name_exhausted"
        )

    def _same(self, info: ObjectInfo, source: _Source) -> bool:
        return info.size == source.size and info.sha256 == source.sha256

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo | None:
        """Size and SHA-256 of the object at ``key``, or None when there is none."""

    @abstractmethod
    def _write(self, key: str, source: _Source, content_type: str, *, exclusive: bool) -> bool:
        """Write and verify; with ``exclusive``, return False (writing nothing) if the key exists."""


# --- FileStore -------------------------------------------------------------------------------------------

_TMP_MARK = ".tmp-"


class FileStore(_BaseStore):
    """Objects as files under a root directory; each write is atomic (temp file, fsync, link or replace)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.path.abspath(root))

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
            sha, size = _sha256_file(path)
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

    def _write(self, key: str, source: _Source, content_type: str, *, exclusive: bool) -> bool:
        final = self._path(key)
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name[:60]}{_TMP_MARK}", dir=final.parent)
        except OSError as exc:
            raise StoreError(f"cannot write under {final.parent}: {exc.strerror}", reason="local_io") from exc
        try:
            digest = hashlib.sha256()
            with os.fdopen(fd, "wb") as out, source.open() as src:
                while block := src.read(_READ_BLOCK):
                    digest.update(block)
                    out.write(block)
                out.flush()
                os.fsync(out.fileno())
            if digest.hexdigest() != source.sha256:
                raise StoreIntegrityError(f"{key}: the source changed while it was being stored")
            if exclusive:
                try:
                    os.link(tmp_name, final)  # atomic and never replaces an existing file
                except FileExistsError:
                    return False
            else:
                os.replace(tmp_name, final)
            _fsync_dir(final.parent)
            return True
        except OSError as exc:
            raise StoreError(f"cannot write {final}: {exc.strerror}", reason="local_io") from exc
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on directories; the data itself is already synced
    finally:
        os.close(fd)


# --- S3Store ---------------------------------------------------------------------------------------------

_UNAVAILABLE_CODES = {
    "500",
    "502",
    "503",
    "504",
    "InternalError",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeTooSkewed",
}
_ACCESS_CODES = {
    "403",
    "AccessDenied",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
    "MissingSecurityHeader",
}
_INTEGRITY_CODES = {"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch", "InvalidChecksum"}


def _b64_to_hex(value: str) -> str | None:
    try:
        return base64.b64decode(value, validate=True).hex()
    except ValueError:
        return None


class S3Store(_BaseStore):
    """Objects in an S3 bucket under a prefix (any S3-compatible server: AWS, SeaweedFS, MinIO...)."""

    def __init__(self, config: StoreConfig, *, progress: ProgressCallback | None = None) -> None:
        if config.scheme != "s3":
            raise StoreConfigError(f"S3Store needs an s3:// configuration, not {config.scheme}")
        self.config = config
        self._progress = progress
        self._conditional_put = True
        self._lock = threading.Lock()
        self._client_obj: S3Client | None = None

    @property
    def uri(self) -> str:
        return self.config.uri

    def describe(self) -> str:
        cfg = self.config
        where = cfg.endpoint_url or "AWS"
        return f"S3 store {cfg.uri} at {where} (addressing {self._addressing_style()}, region {cfg.region or 'default'})"

    def __repr__(self) -> str:
        return f"S3Store({self.config.uri!r}, endpoint={self.config.endpoint_url!r})"

    def _addressing_style(self) -> str:
        cfg = self.config
        if cfg.addressing_style != "auto" or not cfg.endpoint_url:
            return cfg.addressing_style
        host = urlsplit(cfg.endpoint_url).hostname or ""
        # Virtual-hosted style needs DNS for <bucket>.<host>; an IP or localhost endpoint cannot have that.
        return "path" if host == "localhost" or _is_ip(host) else "auto"

    @property
    def _client(self) -> S3Client:
        with self._lock:
            if self._client_obj is None:
                self._client_obj = self._make_client()
            return self._client_obj

    def _make_client(self) -> S3Client:
        import boto3  # lazily: a file-only crawl never pays for it
        from botocore.config import Config

        cfg = self.config
        session = boto3.session.Session(
            aws_access_key_id=cfg.access_key,
            aws_secret_access_key=cfg.secret_key,
            aws_session_token=cfg.session_token,
            region_name=cfg.region,
        )
        s3_options: Any = {"addressing_style": self._addressing_style()}
        client_kwargs: dict[str, Any] = {
            "endpoint_url": cfg.endpoint_url,
            "config": Config(
                s3=s3_options,
                retries={"max_attempts": cfg.retries + 1, "mode": "standard"},
                connect_timeout=cfg.connect_timeout,
                read_timeout=cfg.read_timeout,
            ),
        }
        if cfg.use_ssl is not None:
            client_kwargs["use_ssl"] = cfg.use_ssl
        if cfg.verify is not None:
            client_kwargs["verify"] = cfg.verify
        client: S3Client = session.client("s3", **client_kwargs)
        return client

    def _full(self, key: str) -> str:
        check_key(key)
        return f"{self.config.prefix}/{key}" if self.config.prefix else key

    # -- error mapping: botocore exceptions become StoreErrors with messages free of credentials --

    def _error(self, exc: Exception, action: str) -> StoreError:
        from botocore.exceptions import (
            BotoCoreError,
            ClientError,
            HTTPClientError,
            NoCredentialsError,
            PartialCredentialsError,
        )
        from botocore.exceptions import (
            ConnectionError as BotoConnectionError,
        )

        where = f"{self.config.uri} at {self.config.endpoint_url or 'AWS'}"
        if isinstance(exc, ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _INTEGRITY_CODES:
                return StoreIntegrityError(f"{action}: {where} rejected the upload's checksum ({code})")
            if code in _ACCESS_CODES or status == 403:
                return StoreAccessError(
                    f"{action}: {where} refused the credentials ({code or status}); check AWS_ACCESS_KEY_ID / "
                    "AWS_SECRET_ACCESS_KEY (or the AWS credential chain) and the bucket policy"
                )
            if code == "NoSuchBucket":
                return StoreNotFoundError(
                    f"{action}: bucket {self.config.bucket!r} does not exist at {self.config.endpoint_url or 'AWS'}; "
                    "create it or fix ARCHIVE_URI"
                )
            if code in _UNAVAILABLE_CODES or status >= 500:
                return StoreUnavailableError(
                    f"{action}: {where} answered {code or status}", reason="server_error"
                )
            return StoreError(
                f"{action}: {where} answered {code or status}", reason=_slug(code or str(status))
            )
        if isinstance(exc, NoCredentialsError | PartialCredentialsError):
            return StoreAccessError(
                f"{action}: no usable AWS credentials for {where}; set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY or configure the AWS credential chain"
            )
        if isinstance(exc, BotoConnectionError | HTTPClientError):
            return StoreUnavailableError(f"{action}: cannot reach {where} ({type(exc).__name__})")
        if isinstance(exc, BotoCoreError):
            return StoreError(f"{action}: {type(exc).__name__} talking to {where}", reason="client_error")
        return StoreError(f"{action}: {type(exc).__name__}", reason="error")

    def _errors(self) -> tuple[type[Exception], ...]:
        from botocore.exceptions import BotoCoreError, ClientError

        return (BotoCoreError, ClientError)

    @staticmethod
    def _status(exc: Exception) -> tuple[str, int]:
        response = getattr(exc, "response", None) or {}
        return (
            str(response.get("Error", {}).get("Code", "")),
            int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0),
        )

    # -- the protocol --

    def check(self) -> None:
        """Verify the bucket exists and the credentials are accepted (HEAD bucket, then a 1-key listing)."""
        client = self._client
        try:
            client.head_bucket(Bucket=self.config.bucket)
            client.list_objects_v2(Bucket=self.config.bucket, Prefix=self._full_prefix(""), MaxKeys=1)
        except self._errors() as exc:
            code, status = self._status(exc)
            if status == 404 or code in ("NoSuchBucket", "404", "NotFound"):
                raise StoreNotFoundError(
                    f"bucket {self.config.bucket!r} does not exist at {self.config.endpoint_url or 'AWS'}; "
                    "create it or fix ARCHIVE_URI"
                ) from None
            raise self._error(exc, "checking the store") from None

    def _full_prefix(self, prefix: str) -> str:
        if prefix.startswith("/") or ".." in prefix.split("/"):
            raise ValueError(f"listing prefix {prefix!r} must be relative, without '..'")
        return f"{self.config.prefix}/{prefix}" if self.config.prefix else prefix

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            head = self._client.head_object(
                Bucket=self.config.bucket, Key=self._full(key), ChecksumMode="ENABLED"
            )
        except self._errors() as exc:
            code, status = self._status(exc)
            if status == 404 or code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._error(exc, f"looking up {key}") from None
        sha = head.get("Metadata", {}).get(_SHA256_META)
        checksum = head.get("ChecksumSHA256")
        if not sha and checksum and "-" not in checksum and head.get("ChecksumType") != "COMPOSITE":
            sha = _b64_to_hex(checksum)
        return ObjectInfo(key=key, size=int(head.get("ContentLength", -1)), sha256=sha or None)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            response = self._client.get_object(Bucket=self.config.bucket, Key=self._full(key))
            return response["Body"].read()
        except self._errors() as exc:
            code, status = self._status(exc)
            if status == 404 or code in ("NoSuchKey", "404"):
                return None
            raise self._error(exc, f"reading {key}") from None

    def list(self, prefix: str = "") -> Iterator[str]:
        full_prefix = self._full_prefix(prefix)
        strip = len(self.config.prefix) + 1 if self.config.prefix else 0
        paginator = self._client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.config.bucket, Prefix=full_prefix):
                for obj in page.get("Contents", []):
                    yield obj["Key"][strip:]
        except self._errors() as exc:
            raise self._error(exc, f"listing {prefix or '/'}") from None

    def _write(self, key: str, source: _Source, content_type: str, *, exclusive: bool) -> bool:
        conditional = exclusive and self._conditional_put
        try:
            if source.size > self.config.multipart_threshold:
                composite = self._multipart(key, source, content_type, conditional)
            else:
                composite = None
                self._single(key, source, content_type, conditional)
        except self._errors() as exc:
            code, status = self._status(exc)
            if conditional and (status == 412 or code == "PreconditionFailed"):
                return False
            if conditional and (status == 501 or code == "NotImplemented"):
                logger.warning(
                    "%s does not support conditional writes; falling back to a HEAD check", self.describe()
                )
                self._conditional_put = False
                return self._write(key, source, content_type, exclusive=exclusive)
            raise self._error(exc, f"uploading {key}") from None
        self._verify(key, source, composite)
        return True

    def _single(self, key: str, source: _Source, content_type: str, conditional: bool) -> None:
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if conditional else {}
        with source.open() as body:
            self._client.put_object(
                Bucket=self.config.bucket,
                Key=self._full(key),
                Body=body,
                ContentType=content_type,
                ContentLength=source.size,
                ChecksumSHA256=base64.b64encode(bytes.fromhex(source.sha256)).decode("ascii"),
                Metadata={_SHA256_META: source.sha256},
                **extra,
            )

    def _multipart(self, key: str, source: _Source, content_type: str, conditional: bool) -> str:
        """Upload in parts, each carrying its own SHA-256; return the composite checksum we expect."""
        client, bucket, full = self._client, self.config.bucket, self._full(key)
        part_size = max(self.config.multipart_chunksize, -(-source.size // MAX_PARTS))
        upload = client.create_multipart_upload(
            Bucket=bucket,
            Key=full,
            ContentType=content_type,
            ChecksumAlgorithm="SHA256",
            Metadata={_SHA256_META: source.sha256},
        )
        upload_id = upload["UploadId"]
        parts: list[dict[str, Any]] = []
        digests: list[bytes] = []
        done = 0
        try:
            with source.open() as fh:
                number = 1
                while chunk := fh.read(part_size):
                    digest = hashlib.sha256(chunk).digest()
                    b64 = base64.b64encode(digest).decode("ascii")
                    answer = client.upload_part(
                        Bucket=bucket,
                        Key=full,
                        UploadId=upload_id,
                        PartNumber=number,
                        Body=chunk,
                        ChecksumSHA256=b64,
                    )
                    parts.append({"PartNumber": number, "ETag": answer["ETag"], "ChecksumSHA256": b64})
                    digests.append(digest)
                    done += len(chunk)
                    number += 1
                    if self._progress is not None:
                        self._progress(key, done, source.size)
            extra: dict[str, Any] = {"IfNoneMatch": "*"} if conditional else {}
            client.complete_multipart_upload(
                Bucket=bucket, Key=full, UploadId=upload_id, MultipartUpload={"Parts": parts}, **extra
            )
        except BaseException:
            self._abort(full, upload_id)
            raise
        composite = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode("ascii")
        return f"{composite}-{len(digests)}"

    def _abort(self, full: str, upload_id: str) -> None:
        try:
            self._client.abort_multipart_upload(Bucket=self.config.bucket, Key=full, UploadId=upload_id)
        except self._errors() as exc:
            # The server may be gone; an unfinished upload is invisible and a lifecycle rule can reap it.
            logger.debug("could not abort multipart upload of %s: %s", full, type(exc).__name__)

    def _verify(self, key: str, source: _Source, composite: str | None) -> None:
        try:
            head = self._client.head_object(
                Bucket=self.config.bucket, Key=self._full(key), ChecksumMode="ENABLED"
            )
        except self._errors() as exc:
            raise self._error(exc, f"verifying {key}") from None
        size = int(head.get("ContentLength", -1))
        meta_sha = head.get("Metadata", {}).get(_SHA256_META)
        checksum = head.get("ChecksumSHA256")
        problems = []
        if size != source.size:
            problems.append(f"size {size} != {source.size}")
        if meta_sha != source.sha256:
            problems.append("sha256 metadata differs")
        if checksum:
            expected = composite or base64.b64encode(bytes.fromhex(source.sha256)).decode("ascii")
            if checksum != expected:
                problems.append("server checksum differs")
        if problems:
            raise StoreIntegrityError(
                f"{key}: stored object does not match what was sent ({'; '.join(problems)})"
            )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_") or "error"


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
    """The store for an already validated ``StoreConfig``."""
    if config.scheme == "file":
        return FileStore(config.root)
    return S3Store(config, progress=progress)
