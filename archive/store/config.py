"""Store configuration: the archive URI and the store options, parsed and validated once (``StoreConfig``)."""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archive.keys import check_key
from archive.store.errors import StoreConfigError

#: S3 refuses parts smaller than this (except the last one).
MIN_PART_SIZE = 5 * 1024 * 1024
DEFAULT_MULTIPART_THRESHOLD = 64 * 1024 * 1024
DEFAULT_CHUNKSIZE = 16 * 1024 * 1024

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
        "max_connections",
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
    max_connections: int = 10  # s3: the client's connection pool (uploads at once, plus lookups)

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
        if not _BUCKET.match(bucket) or ".." in bucket or is_ip(bucket):
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
        max_connections = _int_option(opts, "max_connections", 10)
        if max_connections < 1:
            raise StoreConfigError("the S3 connection pool (max_connections) needs at least 1 connection")
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
            max_connections=max_connections,
        )


def _int_option(opts: Mapping[str, Any], name: str, default: int) -> int:
    value = opts.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StoreConfigError(f"store option {name} must be an integer, not {value!r}") from None


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _safe_uri(uri: str) -> str:
    # Drop any user:password@ part before a URI goes into a message.
    return re.sub(r"//[^/@]*@", "//***@", uri)
