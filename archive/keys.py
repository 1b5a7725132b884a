"""Object keys for everything the archive stores, built so that nothing a web page says can escape the prefix.

Layout (relative to the store's root or S3 prefix)::

    text/<site>/<yyyy>/<mm>/<article-id>.<ext>   clean text (.txt) and its record (.json); "undated" for yyyy/mm
    warc/<crawl-id>/<filename>                   WARC files
    wacz/<crawl-id>.wacz                         the crawl's WACZ package
    manifests/<crawl-id>.jsonl                   one JSON line per stored article
    reports/<crawl-id>/<name>                    the crawl report (report.md/.html/.json, stats.json)
    state/<name>                                 small state objects (digest index, ...)
    state/sites/<site>.json, state/sites/<site>/runs/<crawl-id>.json   incremental state (archive.state)
    state/health/<site>.jsonl                    extraction health per run (reporting.health)

Every key is built here (the incremental state's prefix is a setting, INCREMENTAL_STATE_PREFIX, whose
default is ``SITES_STATE_PREFIX``).

Every variable part goes through ``safe_segment``: Unicode NFC, control/format characters (including bidi
overrides) dropped, path separators and anything outside a small allowed set replaced by ``-``, no segment
made only of dots, and a bounded UTF-8 length (a long segment is cut and given a short hash so distinct inputs
stay distinct). Site and crawl ids are ASCII; WARC file names and state names may keep Unicode letters and
digits (Arabic included) because those are safe in S3 keys and file names; article ids are hashes anyway.
``check_key`` is the last line of defence, used by every store before it writes.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

#: Longest segment, in UTF-8 bytes (file systems cap names at 255 bytes; leave room for temp suffixes).
MAX_SEGMENT_BYTES = 120
#: Longest key, in UTF-8 bytes (S3 allows 1024 including the store prefix).
MAX_KEY_BYTES = 700

UNDATED = "undated"
#: Default prefix of the per-site incremental state (INCREMENTAL_STATE_PREFIX).
SITES_STATE_PREFIX = "state/sites"
HEALTH_PREFIX = "state/health"
_ASCII_ALLOWED = re.compile(r"[^a-z0-9._-]+")
_DASHES = re.compile(r"-{2,}")
_DATE = re.compile(r"^\s*(\d{4})-(\d{2})")
_EXT = re.compile(r"^[a-z0-9]{1,10}$")
_HEX_ID = re.compile(r"^[0-9a-f]{8,64}$")


def _short_hash(value: str) -> str:
    return hashlib.sha1(value.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def _keep_unicode_char(ch: str) -> bool:
    # Letters and digits of any script, plus a few punctuation marks that are safe in keys and file names.
    return ch in "._-" or (unicodedata.category(ch)[0] in "LN" and ch.isprintable())


def safe_segment(value: object, *, unicode_ok: bool = False, fallback: str = "_") -> str:
    """One path segment that cannot climb, hide or separate: see the module docstring for the rules."""
    text = unicodedata.normalize("NFC", str(value))
    # Control (Cc), format (Cf: bidi overrides, zero-width), surrogates and unassigned characters go first.
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    if unicode_ok:
        text = "".join(ch if _keep_unicode_char(ch) else "-" for ch in text)
    else:
        text = _ASCII_ALLOWED.sub("-", text.lower())
    # Filtering can bring together characters that NFC composes (Hangul jamo, for one): normalise again.
    text = _DASHES.sub("-", unicodedata.normalize("NFC", text)).strip("-. ")
    if not text or set(text) <= {"."}:
        text = fallback
    encoded = text.encode("utf-8")
    if len(encoded) > MAX_SEGMENT_BYTES:
        digest = _short_hash(str(value))
        cut = encoded[: MAX_SEGMENT_BYTES - len(digest) - 1].decode("utf-8", "ignore").rstrip("-. ")
        text = unicodedata.normalize("NFC", f"{cut}-{digest}" if cut else digest)
    return text


def _safe_ext(ext: str) -> str:
    ext = ext.lower().lstrip(".")
    return ext if _EXT.match(ext) else "bin"


def article_id(canonical_url: str) -> str:
    """A short stable id for an article: the first 16 hex digits of SHA-1 of its canonical URL."""
    return hashlib.sha1(canonical_url.strip().encode("utf-8", "surrogatepass")).hexdigest()[:16]


def year_month(published: str | None) -> tuple[str, str] | None:
    """``(yyyy, mm)`` from an ISO 8601 date or datetime string, or None when absent or implausible."""
    if not published:
        return None
    match = _DATE.match(published)
    if not match:
        return None
    year, month = match.groups()
    if not (1900 <= int(year) <= 2200 and 1 <= int(month) <= 12):
        return None
    return year, month


def text_key(site: str, published: str | None, article_id: str, ext: str) -> str:
    """``text/<site>/<yyyy>/<mm>/<id>.<ext>``; ``text/<site>/undated/<id>.<ext>`` without a usable date."""
    ident = article_id if _HEX_ID.match(article_id) else safe_segment(article_id)
    ym = year_month(published)
    date_part = f"{ym[0]}/{ym[1]}" if ym else UNDATED
    return check_key(f"text/{safe_segment(site)}/{date_part}/{ident}.{_safe_ext(ext)}")


def warc_key(crawl_id: str, filename: str) -> str:
    """``warc/<crawl-id>/<filename>``."""
    return check_key(f"warc/{safe_segment(crawl_id)}/{safe_segment(filename, unicode_ok=True)}")


def wacz_key(crawl_id: str) -> str:
    """``wacz/<crawl-id>.wacz``."""
    return check_key(f"wacz/{safe_segment(crawl_id)}.wacz")


def wacz_package_key(crawl_id: str, name: str) -> str:
    """``wacz/<crawl-id>/<name>.wacz``: one of a crawl's packages (one per rotation of its WARC files)."""
    return check_key(f"wacz/{safe_segment(crawl_id)}/{safe_segment(name, unicode_ok=True)}.wacz")


def wacz_packages_dir(crawl_id: str) -> str:
    """``wacz/<crawl-id>``: where the crawl's packages go (``wacz_package_key``)."""
    return check_key(f"wacz/{safe_segment(crawl_id)}")


def manifest_key(crawl_id: str) -> str:
    """``manifests/<crawl-id>.jsonl``."""
    return check_key(f"manifests/{safe_segment(crawl_id)}.jsonl")


def warc_dir(crawl_id: str) -> str:
    """``warc/<crawl-id>``: where the crawl's WARC files and their CDXJ go."""
    return check_key(f"warc/{safe_segment(crawl_id)}")


def report_key(crawl_id: str, name: str) -> str:
    """``reports/<crawl-id>/<name>`` (``stats.json``, ``report.md``, ``report.html``)."""
    return check_key(f"reports/{safe_segment(crawl_id)}/{safe_segment(name)}")


def health_key(site: str) -> str:
    """``state/health/<site>.jsonl``."""
    return check_key(f"{HEALTH_PREFIX}/{safe_segment(site)}.jsonl")


def state_key(name: str) -> str:
    """``state/<name>`` (one segment: a slash in the name becomes ``-``)."""
    return check_key(f"state/{safe_segment(name, unicode_ok=True)}")


#: Keys of what a crawl writes per article (its text and JSON record: ``text_key``) and of its report: not
#: listed among the crawl's archive files (the manifest lists the articles' SHA-256).
PER_ARTICLE_PREFIXES = ("text/", "reports/")


def is_archive_file(key: str) -> bool:
    """A key a crawl report lists among the crawl's files (WARC, CDXJ, WACZ, manifest, datasets, state)."""
    return not key.startswith(PER_ARTICLE_PREFIXES)


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise ValueError saying why.

    Safe: non-empty, no leading ``/``, no backslash, no control or format characters, no empty, ``.`` or
    ``..`` segment, at most ``MAX_KEY_BYTES`` UTF-8 bytes and NFC-normalised (so one name has one key).
    """
    if not isinstance(key, str) or not key:
        raise ValueError("object key must be a non-empty string")
    if key.startswith("/") or "\\" in key:
        raise ValueError(f"object key {key!r} must be relative and use '/' only")
    if any(unicodedata.category(ch)[0] == "C" for ch in key):
        raise ValueError(f"object key {key!r} contains control or format characters")
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"object key {key!r} has an empty, '.' or '..' segment")
    if len(key.encode("utf-8")) > MAX_KEY_BYTES:
        raise ValueError(f"object key is longer than {MAX_KEY_BYTES} bytes")
    if unicodedata.normalize("NFC", key) != key:
        raise ValueError(f"object key {key!r} is not NFC-normalised")
    return key
