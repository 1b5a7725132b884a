"""URL canonicalisation so an article is fetched, stored and counted once.

Tracking parameters (``utm_*``, ``fbclid``...) and fragments go; scheme and host are lower-cased; default
ports dropped; the path is percent-encoded the way browsers send it (Arabic slugs become ``%D8%...``), so the
raw and encoded spellings of one address are one URL.
"""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

_TRACKING = re.compile(
    r"^(utm_[a-z_]*|fbclid|gclid|dclid|msclkid|mc_cid|mc_eid|_ga|yclid|igshid|ref_src)$", re.I
)
# Characters left as they are in a path (RFC 3986 pchar + "/"); everything else is percent-encoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"
_ALLOWED_SCHEMES = ("http", "https")


def canonicalize_url(url: str) -> str:
    """Return the canonical form of an http(s) URL (see the module docstring)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if host and not host.isascii():
        host = host.encode("idna").decode("ascii")
    netloc = host
    if port and not (scheme == "http" and port == 80) and not (scheme == "https" and port == 443):
        netloc = f"{host}:{port}"
    path = _normalize_path(parts.path or "/")
    query_pairs = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    query = urlencode(query_pairs, quote_via=quote, safe="/:@!$'()*+,;-._~") if query_pairs else ""
    return urlunsplit((scheme, netloc, path, query, ""))


def _normalize_path(path: str) -> str:
    # Decode then re-encode, so "/أخبار/" and "/%D8%A3%D8%AE%D8%A8%D8%A7%D8%B1/" agree; keep %2F as is.
    segments = [
        quote(unquote(seg), safe=_PATH_SAFE.replace("/", "").replace("%", "")) for seg in path.split("/")
    ]
    return "/".join(segments) or "/"


def is_crawlable(url: str) -> bool:
    """http(s) URLs only: never ``file:``, ``data:``, ``mailto:``, ``javascript:``..."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in _ALLOWED_SCHEMES and bool(parts.hostname)


_LINK_TAG = re.compile(r"<link\b([^>]*)>", re.I)
_ATTRIBUTE = re.compile(r"""([^\s=/>]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")


def canonical_href(page: str) -> str | None:
    """The ``href`` of the page's first ``<link rel="canonical">`` (entities decoded), or None.

    A scan of the ``<link>`` tags instead of a parse of the page: the spider reads it on every article, on
    the crawler's reactor thread, where a full lxml parse cost a fifth of that thread's time. Commented-out
    links do not count; attribute names and the ``rel`` value are case-insensitive.
    """
    for match in _LINK_TAG.finditer(page):
        attributes: dict[str, str] = {}
        for name, double, single, bare in _ATTRIBUTE.findall(match.group(1)):
            attributes.setdefault(name.lower(), double or single or bare)
        if "canonical" not in attributes.get("rel", "").lower().split():
            continue
        if _inside_comment(page, match.start()):
            continue
        href = html.unescape(attributes.get("href", "")).strip()
        if href:
            return href
    return None


def _inside_comment(page: str, position: int) -> bool:
    opened = page.rfind("<!--", 0, position)
    return opened != -1 and page.find("-->", opened + 4, position) == -1
