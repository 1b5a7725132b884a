"""What goes into the headers of one WARC record: the target URI, the date, the payload digest, the
warcinfo fields (secrets dropped), and HTTP headers serialised byte-exact. No file handling (``archive.warc``).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from urllib.parse import quote, urlsplit, urlunsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date

logger = logging.getLogger(__name__)

# Keys of warcinfo fields that must never be written: credentials end up in WARCs kept for decades.
_SECRET_KEY_RE = re.compile(
    r"secret|passw|pwd|token|credential|api[-_]?key|access[-_]?key|private[-_]?key|auth|cookie|session",
    re.IGNORECASE,
)
_USERINFO_RE = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)

# Characters left alone when turning an IRI into a URI: RFC 3986 reserved + unreserved, and "%" so that
# already percent-encoded sequences are kept as they are.
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + "?"


def iri_to_uri(url: str) -> str:
    """Percent-encode an IRI (UTF-8) into a URI, keeping existing %XX escapes; IDNA-encode the host."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if not netloc.isascii():
        userinfo, _, hostport = netloc.rpartition("@")
        host, sep, port = hostport.partition(":")
        host = host.encode("idna").decode("ascii")
        netloc = (quote(userinfo, safe=_PATH_SAFE) + "@" if userinfo else "") + host + sep + port
    path = quote(parts.path, safe=_PATH_SAFE)
    query = quote(parts.query, safe=_QUERY_SAFE)
    return urlunsplit((parts.scheme, netloc, path, query, ""))


def default_software() -> str:
    """``libya-news-archiver/VERSION warcio/VERSION`` for the warcinfo ``software`` field."""
    parts = []
    for dist in ("libya-news-archiver", "warcio"):
        try:
            parts.append(f"{dist}/{metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(dist)
    return " ".join(parts)


def payload_digest(body: bytes) -> str:
    """The WARC payload digest warcio writes: ``sha1:`` + base32 of the SHA-1 of the stored payload."""
    return "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")


def clean_warcinfo(fields: Mapping[str, str]) -> dict[str, str]:
    """Drop empty and secret-looking fields; strip ``user:password@`` from URL-like values."""
    clean: dict[str, str] = {}
    for key, value in fields.items():
        if value is None or value == "":
            continue
        if _SECRET_KEY_RE.search(key):
            logger.warning("Not writing warcinfo field %r: it looks like a secret", key)
            continue
        text = " ".join(str(value).split())  # one line per field
        clean[key] = _USERINFO_RE.sub(r"\g<scheme>", text)
    return clean


def warc_date(when: datetime) -> str:
    """WARC/1.1 date (UTC, microseconds) for ``when``; a naive datetime is taken as UTC."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    return str(datetime_to_iso_date(when, use_micros=True))


def http_protocol(protocol: str | None) -> str:
    if not protocol:
        return "HTTP/1.1"
    if protocol.lower() in ("h2", "http/2", "http/2.0"):
        return "HTTP/2"
    return protocol.upper() if protocol.lower().startswith("http/") else protocol


def encode_line(line: str) -> bytes:
    try:
        return line.encode("latin-1")
    except UnicodeEncodeError:
        return line.encode("utf-8")


class RawHttpHeaders(StatusAndHeaders):
    """warcio's StatusAndHeaders, but serialised byte-exact (latin-1) instead of percent-encoding non-ASCII."""

    def compute_headers_buffer(self, header_filter: object = None) -> None:
        first = f"{self.protocol} {self.statusline}" if self.protocol else self.statusline
        lines = [first, *(f"{name}: {value}" for name, value in self.headers)]
        self.headers_buff = b"".join(encode_line(line) + b"\r\n" for line in lines) + b"\r\n"


def drop_chunked(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    kept: list[tuple[str, str]] = []
    for name, value in headers:
        if name.lower() == "transfer-encoding":
            codings = [c.strip() for c in value.split(",") if c.strip().lower() != "chunked"]
            if codings:
                kept.append((name, ", ".join(codings)))
            continue
        kept.append((name, value))
    return kept
