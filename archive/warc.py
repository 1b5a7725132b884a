"""WARC/1.1 writing with rotation by size and by age: one ``Capture`` in, a ``request`` + ``response`` pair out.

``WarcRotatingWriter`` writes gzip-per-record WARC files (warcio) named by the IIPC convention
``{prefix}-{YYYYMMDDhhmmssSSS}-{serial:05d}-{worker_id}{host}.warc.gz``. A file is written as ``NAME.open``
and renamed when it is finished: rotation once it holds ``max_size`` bytes, or once it was opened
``max_age`` seconds ago (checked before each record and by ``rotate_if_due()``, which a timer calls so an
idle crawl's file still closes; a file with nothing but its warcinfo record is never rotated for age), or
``close()``; ``on_close(path)`` then gets the finished path. Each file starts with one ``warcinfo`` record built from the caller's mapping, with any key
that looks like a secret dropped and any ``user:password@`` removed from values. The record header fields
themselves are made in ``archive.warc_fields``.

What is stored, and the few places where it is not byte-for-byte what crossed the wire:

- The response body is stored as received: still Content-Encoded (gzip, br, ...), but de-chunked, because
  both Scrapy and Chromium hand over the body after transfer decoding. A ``Transfer-Encoding: chunked``
  header is therefore dropped from the stored response headers; otherwise replay tools would try to
  de-chunk a body that is not chunked.
- HTTP headers are ``str`` in a ``Capture``. Each header line is encoded as latin-1, so header bytes that
  the crawler decoded as latin-1 (the lossless choice for raw header bytes) are written back exactly; a
  value with characters beyond U+00FF (a browser that decoded UTF-8) is written as UTF-8.
- ``WARC-Target-URI`` is the capture URL as a URI: an IRI with Arabic characters is percent-encoded as UTF-8
  (the host IDNA-encoded), already percent-encoded parts are kept, and the fragment is dropped (it never
  reaches the server).
- A 200 response whose payload digest is already in the ``DigestIndex`` (this crawl or an earlier one) is
  written as a ``revisit`` record (identical-payload-digest profile) with the response headers only.
  Empty bodies are never deduplicated: every empty 200 would otherwise point at one unrelated capture.

The writer is thread-safe (one lock around every file operation) because browser traffic is written from
another thread than Scrapy's downloader.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.warcwriter import WARCWriter

from archive.capture import Capture, CaptureRef
from archive.digests import DigestIndex
from archive.warc_fields import (
    RawHttpHeaders,
    clean_warcinfo,
    default_software,
    drop_chunked,
    http_protocol,
    iri_to_uri,
    payload_digest,
    warc_date,
)

logger = logging.getLogger(__name__)

WARC_VERSION = "WARC/1.1"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
TEXT_URI_PREFIX = "urn:text:"
#: Target-URI prefix of the metadata record that keeps a 304 answer's own status line and headers.
NOT_MODIFIED_URI_PREFIX = "urn:not-modified:"
NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
OPEN_SUFFIX = ".open"


class WarcRotatingWriter:
    """Writes captures into a series of gzip-per-record WARC/1.1 files, rotating at ``max_size`` bytes or
    ``max_age`` seconds (0: no rotation by age)."""

    def __init__(
        self,
        directory: Path,
        prefix: str,
        crawl_id: str,
        *,
        max_size: int = 1_000_000_000,
        max_age: float = 0.0,
        warcinfo: Mapping[str, str],
        host: str = socket.gethostname(),
        worker_id: str | None = None,
        digest_index: DigestIndex | None = None,
        on_close: Callable[[Path], None] | None = None,
    ) -> None:
        if max_size <= 0:
            raise ValueError(f"max_size must be positive, got {max_size}")
        if max_age < 0:
            raise ValueError(f"max_age must be 0 (off) or positive, got {max_age}")
        self.directory = Path(directory)
        self.prefix = prefix
        self.crawl_id = crawl_id
        self.max_size = max_size
        self.max_age = max_age
        self.warcinfo = clean_warcinfo(warcinfo)
        self.host = host
        self.worker_id = worker_id
        self.digest_index = digest_index
        self.on_close = on_close

        self.records = 0
        self.bytes_written = 0
        self.revisits = 0
        self.finished_files: list[Path] = []

        self._lock = threading.RLock()
        self._serial = 0
        self._path: Path | None = None
        self._file: BinaryIO | None = None
        self._writer: WARCWriter | None = None
        self._opened_at = 0.0  # time.monotonic() when the current file was opened
        self._info_end = 0  # where the current file's warcinfo record ends
        self._closed = False

    # --- public API -------------------------------------------------------------------------------------
    @property
    def current_path(self) -> Path | None:
        """The ``.open`` file being written, if any."""
        return self._path

    @property
    def files(self) -> int:
        return len(self.finished_files) + (1 if self._path is not None else 0)

    def write_capture(self, capture: Capture) -> CaptureRef:
        """Write ``capture`` as a response (or revisit) record and its request record; return the former."""
        uri = iri_to_uri(capture.url)
        date = warc_date(capture.fetched_at)
        digest = payload_digest(capture.body)
        protocol = http_protocol(capture.protocol)
        reason = capture.reason or ""
        http_headers = RawHttpHeaders(
            f"{capture.status} {reason}".rstrip(), drop_chunked(capture.response_headers), protocol=protocol
        )
        record_headers = {"WARC-Date": date}
        if capture.ip_address:
            record_headers["WARC-IP-Address"] = capture.ip_address
        # A body cut at a size cap ("length"): recorded as such, never a revisit target or one itself.
        truncated = capture.extra.get("truncated")
        if truncated:
            record_headers["WARC-Truncated"] = truncated

        with self._lock:
            writer = self._writer_for_next_record()
            refers_to: tuple[str, str] | None = None
            profile, revisit_digest = REVISIT_PROFILE, digest
            if capture.status == 304 and capture.extra.get("refers_to_uri"):
                # A conditional request answered 304: a server-not-modified revisit of the earlier capture.
                refers_to = (capture.extra["refers_to_uri"], capture.extra.get("refers_to_date", ""))
                profile = NOT_MODIFIED_PROFILE
                revisit_digest = capture.extra.get("refers_to_payload_digest") or digest
                if capture.extra.get("refers_to_record_id"):
                    record_headers["WARC-Refers-To"] = capture.extra["refers_to_record_id"]
            elif self.digest_index is not None and capture.status == 200 and capture.body and not truncated:
                refers_to = self.digest_index.get(digest)
            if refers_to is not None:
                # A server-not-modified revisit has an empty block (WARC 1.1 6.7.3 lets it): replay tools
                # (pywb, wabac.js) then answer with the original's status, headers and payload, where the
                # 304's own headers would make them replay "304 Not Modified". Those go to a metadata record.
                not_modified = profile == NOT_MODIFIED_PROFILE
                record = writer.create_revisit_record(
                    uri,
                    revisit_digest,
                    refers_to[0],
                    refers_to[1],
                    http_headers=None if not_modified else http_headers,
                    warc_headers_dict=dict(record_headers),
                )
                record.rec_headers.replace_header("WARC-Profile", profile)
            else:
                record_headers["WARC-Payload-Digest"] = digest
                record = writer.create_warc_record(
                    uri,
                    "response",
                    payload=BytesIO(capture.body),
                    length=len(capture.body),
                    http_headers=http_headers,
                    warc_headers_dict=record_headers,
                )
            record_id = record.rec_headers.get_header("WARC-Record-ID")
            ref = self._write(record, uri, date, digest, revisit=refers_to is not None)

            request = self._request_record(writer, capture, uri, date, record_id)
            self._write(request, uri, date, None)
            if refers_to is not None and profile == NOT_MODIFIED_PROFILE:
                http_headers.compute_headers_buffer()
                answer = {
                    "WARC-Date": date,
                    "WARC-Refers-To": record_id,
                    "WARC-Refers-To-Target-URI": uri,
                    "WARC-Refers-To-Date": date,
                }
                self._write_block(
                    NOT_MODIFIED_URI_PREFIX + uri,
                    "metadata",
                    http_headers.headers_buff or b"",
                    "application/http; msgtype=response",
                    date,
                    answer,
                )

            if refers_to is not None:
                self.revisits += 1
            elif self.digest_index is not None and capture.status == 200 and capture.body and not truncated:
                self.digest_index.add(digest, uri, date)
        return ref

    def write_metadata(
        self,
        refers_to: CaptureRef,
        content: bytes,
        content_type: str = "application/json",
        *,
        record_type: str = "metadata",
    ) -> CaptureRef:
        """Write a ``metadata`` (or ``conversion``) record about ``refers_to``.

        Its target URI is ``urn:text:<page URI>`` (as Browsertrix does for extracted text), with the page in
        ``WARC-Refers-To-Target-URI``: under the page's own URI, replay tools would index the JSON as a
        capture of the page and could serve it instead of the page.
        """
        if record_type not in ("metadata", "conversion"):
            raise ValueError(f"record_type must be 'metadata' or 'conversion', got {record_type!r}")
        date = warc_date(datetime.now(UTC))
        headers = {
            "WARC-Date": date,
            "WARC-Refers-To": refers_to.record_id,
            "WARC-Refers-To-Target-URI": refers_to.target_uri,
            "WARC-Refers-To-Date": refers_to.warc_date,
        }
        uri = TEXT_URI_PREFIX + refers_to.target_uri
        return self._write_block(uri, record_type, content, content_type, date, headers)

    def write_resource(
        self,
        url: str,
        content: bytes,
        content_type: str,
        *,
        concurrent_to: str | None = None,
        record_type: str = "resource",
        fetched_at: datetime | None = None,
    ) -> CaptureRef:
        """Write a ``resource`` or ``conversion`` record (e.g. a browser-rendered DOM) for ``url``."""
        if record_type not in ("resource", "conversion"):
            raise ValueError(f"record_type must be 'resource' or 'conversion', got {record_type!r}")
        uri = iri_to_uri(url)
        date = warc_date(fetched_at or datetime.now(UTC))
        headers = {"WARC-Date": date}
        if concurrent_to:
            headers["WARC-Concurrent-To"] = concurrent_to
        return self._write_block(uri, record_type, content, content_type, date, headers)

    def rotate_if_due(self) -> Path | None:
        """Finish the current file if it is ``max_age`` old and holds records; return it (any thread)."""
        with self._lock:
            finished = self._finish_file() if self._due() else None
        if finished is not None:
            self._notify(finished)
        return finished

    def close(self) -> list[Path]:
        """Finish the current file (rename it, call ``on_close``); return every file this writer finished."""
        with self._lock:
            self._closed = True
            finished = self._finish_file()
        if finished is not None:
            self._notify(finished)
        return list(self.finished_files)

    def __enter__(self) -> WarcRotatingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- internals --------------------------------------------------------------------------------------
    def _write_block(
        self,
        uri: str,
        record_type: str,
        content: bytes,
        content_type: str,
        date: str,
        headers: dict[str, str],
    ) -> CaptureRef:
        with self._lock:
            writer = self._writer_for_next_record()
            record = writer.create_warc_record(
                uri,
                record_type,
                payload=BytesIO(content),
                length=len(content),
                warc_content_type=content_type,
                warc_headers_dict=headers,
            )
            digest = record.rec_headers.get_header("WARC-Payload-Digest")
            return self._write(record, uri, date, digest)

    def _request_record(
        self, writer: WARCWriter, capture: Capture, uri: str, date: str, concurrent_to: str
    ) -> object:
        parts = urlsplit(uri)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        headers = list(capture.request_headers)
        protocol = http_protocol(capture.protocol)
        if protocol != "HTTP/2" and not any(name.lower() == "host" for name, _ in headers):
            headers.insert(0, ("Host", parts.netloc))
        http_headers = RawHttpHeaders(f"{target} {protocol}", headers, protocol=capture.method.upper())
        record_headers = {"WARC-Date": date, "WARC-Concurrent-To": concurrent_to}
        if capture.ip_address:
            record_headers["WARC-IP-Address"] = capture.ip_address
        return writer.create_warc_record(
            uri,
            "request",
            payload=BytesIO(capture.request_body),
            length=len(capture.request_body),
            http_headers=http_headers,
            warc_headers_dict=record_headers,
        )

    def _write(
        self, record: object, uri: str, date: str, digest: str | None, revisit: bool = False
    ) -> CaptureRef:
        assert self._writer is not None and self._file is not None and self._path is not None
        offset = self._file.tell()
        self._writer.write_record(record)
        end = self._file.tell()
        self.records += 1
        self.bytes_written += end - offset
        rec_headers = record.rec_headers  # type: ignore[attr-defined]
        return CaptureRef(
            filename=self._final_name(self._path),
            offset=offset,
            length=end - offset,
            record_id=rec_headers.get_header("WARC-Record-ID"),
            target_uri=uri,
            warc_date=date,
            payload_digest=digest,
            revisit=revisit,
        )

    def _writer_for_next_record(self) -> WARCWriter:
        if self._closed:
            raise RuntimeError("WarcRotatingWriter is closed")
        finished = None
        if self._file is not None and (self._file.tell() >= self.max_size or self._due()):
            finished = self._finish_file()
        if self._file is None:
            self._open_file()
        if finished is not None:
            # Rotation happens under the lock; the callback is usually quick (queue an upload).
            self._notify(finished)
        assert self._writer is not None
        return self._writer

    def _due(self) -> bool:
        """The current file is old enough to rotate and holds more than its warcinfo record."""
        return (
            self.max_age > 0
            and self._file is not None
            and time.monotonic() - self._opened_at >= self.max_age
            and self._file.tell() > self._info_end
        )

    def _file_name(self) -> str:
        now = datetime.now(UTC)
        stamp = now.strftime("%Y%m%d%H%M%S") + f"{now.microsecond // 1000:03d}"
        host = re.sub(r"[^A-Za-z0-9.~-]+", "_", self.host)
        worker = re.sub(r"[^A-Za-z0-9.~-]+", "_", self.worker_id) if self.worker_id else ""
        return f"{self.prefix}-{stamp}-{self._serial:05d}-{worker}{host}.warc.gz"

    def _open_file(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        name = self._file_name()
        while (self.directory / name).exists() or (self.directory / (name + OPEN_SUFFIX)).exists():
            self._serial += 1
            name = self._file_name()
        self._serial += 1
        self._path = self.directory / (name + OPEN_SUFFIX)
        self._file = self._path.open("xb")
        self._writer = WARCWriter(self._file, gzip=True, warc_version=WARC_VERSION)
        info = {"software": default_software(), **self.warcinfo}
        info.setdefault("isPartOf", self.crawl_id)
        info.setdefault("hostname", self.host)
        info.setdefault("format", "WARC File Format 1.1")
        info.setdefault(
            "conformsTo", "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
        )
        record = self._writer.create_warcinfo_record(name, info)
        offset = self._file.tell()
        self._writer.write_record(record)
        self.records += 1
        self._info_end = self._file.tell()
        self._opened_at = time.monotonic()
        self.bytes_written += self._info_end - offset
        logger.info("Opened WARC file %s", self._path)

    def _finish_file(self) -> Path | None:
        if self._file is None or self._path is None:
            return None
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
        finally:
            self._file.close()
        final = self._path.with_name(self._final_name(self._path))
        self._path.rename(final)
        self.finished_files.append(final)
        self._file = None
        self._writer = None
        self._path = None
        logger.info("Finished WARC file %s", final)
        return final

    def _notify(self, path: Path) -> None:
        if self.on_close is not None:
            self.on_close(path)

    @staticmethod
    def _final_name(path: Path) -> str:
        return path.name.removesuffix(OPEN_SUFFIX)


__all__ = [
    "NOT_MODIFIED_PROFILE",
    "OPEN_SUFFIX",
    "REVISIT_PROFILE",
    "WarcRotatingWriter",
    "iri_to_uri",
    "payload_digest",
    "warc_date",
]
