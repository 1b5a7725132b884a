"""``S3Store``: objects in an S3 bucket under a prefix (any S3-compatible server: AWS, SeaweedFS, MinIO...).

boto3 is imported lazily. Every upload carries its SHA-256 (``x-amz-checksum-sha256``, checked by the server
on receipt, and ``x-amz-meta-sha256``); after the write one HEAD checks size and digests. Writes of new
keys are conditional (``If-None-Match: *``); a server that answers 501 to that gets a HEAD check first.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from archive.keys import check_key
from archive.store.config import StoreConfig, is_ip
from archive.store.errors import (
    StoreAccessError,
    StoreConfigError,
    StoreError,
    StoreIntegrityError,
    StoreNotFoundError,
    StoreSourceError,
    StoreUnavailableError,
)
from archive.store.multipart import SHA256_META, ProgressCallback, upload_multipart
from archive.store.policy import BaseStore, ObjectInfo, Source

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

logger = logging.getLogger(__name__)

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


class S3Store(BaseStore):
    """Objects in an S3 bucket under a prefix (any S3-compatible server: AWS, SeaweedFS, MinIO...)."""

    def __init__(self, config: StoreConfig, *, progress: ProgressCallback | None = None) -> None:
        if config.scheme != "s3":
            raise StoreConfigError(f"S3Store needs an s3:// configuration, not {config.scheme}")
        self.config = config
        self._progress = progress
        self._conditional_put = True
        self._lock = threading.Lock()
        self._client_obj: S3Client | None = None

    @classmethod
    def from_config(cls, config: StoreConfig) -> S3Store:
        return cls(config)

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
        return "path" if host == "localhost" or is_ip(host) else "auto"

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
                # One client for every thread (boto3 clients are thread-safe), with a bounded pool.
                max_pool_connections=cfg.max_connections,
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
        sha = head.get("Metadata", {}).get(SHA256_META)
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

    def _look_first(self, source: Source) -> bool:
        # A large object is looked up before it is sent (a repeated upload after a crash would send it in
        # full for nothing); so is every object on a server without conditional writes.
        return not self._conditional_put or source.size > self.config.multipart_threshold

    def _write(self, key: str, source: Source, content_type: str, *, exclusive: bool) -> bool:
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
                if self.stat(key) is not None:
                    return False
                return self._write(key, source, content_type, exclusive=exclusive)
            raise self._error(exc, f"uploading {key}") from None
        self._verify(key, source, composite)
        return True

    def _single(self, key: str, source: Source, content_type: str, conditional: bool) -> None:
        extra: dict[str, Any] = {"IfNoneMatch": "*"} if conditional else {}
        body = source.data
        if body is None:
            # Small enough for memory: read once, and check it against the digest it was handed over with
            # (the one hash of this upload; the server checks the same digest on receipt).
            with source.open() as fh:
                body = fh.read()
            if len(body) != source.size or hashlib.sha256(body).hexdigest() != source.sha256:
                raise StoreSourceError(f"{key}: the source does not match its SHA-256 (changed or corrupted)")
        self._client.put_object(
            Bucket=self.config.bucket,
            Key=self._full(key),
            Body=body,
            ContentType=content_type,
            ContentLength=source.size,
            ChecksumSHA256=base64.b64encode(bytes.fromhex(source.sha256)).decode("ascii"),
            Metadata={SHA256_META: source.sha256},
            **extra,
        )

    def _multipart(self, key: str, source: Source, content_type: str, conditional: bool) -> str:
        progress = self._progress
        return upload_multipart(
            self._client,
            self.config.bucket,
            self._full(key),
            source,
            content_type,
            conditional=conditional,
            chunksize=self.config.multipart_chunksize,
            progress=(lambda done, total: progress(key, done, total)) if progress is not None else None,
            abort_errors=self._errors(),
        )

    def _verify(self, key: str, source: Source, composite: str | None) -> None:
        try:
            head = self._client.head_object(
                Bucket=self.config.bucket, Key=self._full(key), ChecksumMode="ENABLED"
            )
        except self._errors() as exc:
            raise self._error(exc, f"verifying {key}") from None
        size = int(head.get("ContentLength", -1))
        meta_sha = head.get("Metadata", {}).get(SHA256_META)
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
