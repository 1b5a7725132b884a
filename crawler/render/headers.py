"""Header fix-ups for bodies the browser hands back already decoded."""

from __future__ import annotations

__all__ = ["declared_length", "decoded_body_headers"]

# Headers that describe the bytes on the wire; Playwright hands back the decoded body.
_WIRE_HEADERS = ("content-encoding", "transfer-encoding", "content-length")
_ORIG_PREFIX = "X-Archive-Orig-"


def declared_length(headers: list[tuple[str, str]]) -> int | None:
    """The body length a response's Content-Length declares; None without one, or when it is not a number."""
    value = next((v for n, v in headers if n.lower() == "content-length"), "").strip()
    return int(value) if value.isdigit() else None


def decoded_body_headers(headers: list[tuple[str, str]], body_length: int) -> list[tuple[str, str]]:
    """Make response headers true to a decoded body of ``body_length`` bytes.

    Content-Encoding and Transfer-Encoding go (kept as ``X-Archive-Orig-*``), Content-Length is set to the
    body's length (the original kept as ``X-Archive-Orig-Content-Length`` when it differed).
    """
    kept: list[tuple[str, str]] = []
    originals: list[tuple[str, str]] = []
    for name, value in headers:
        lowered = name.lower()
        if lowered.startswith(":"):  # HTTP/2 pseudo-headers are not HTTP/1.1 header lines
            continue
        if lowered in _WIRE_HEADERS:
            if lowered != "content-length" or value.strip() != str(body_length):
                originals.append((_ORIG_PREFIX + "-".join(p.capitalize() for p in lowered.split("-")), value))
            continue
        kept.append((name, value))
    kept.append(("Content-Length", str(body_length)))
    return kept + originals
