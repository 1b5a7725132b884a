"""Where a new text version of an article goes, and the link back to the one before it."""

from __future__ import annotations

from typing import Any, NamedTuple

from archive.state import CrawlState, version_key


class VersionKeys(NamedTuple):
    """Where a text version goes: ``text_key`` (.txt), ``json_key`` (.json) and its ``version`` number."""

    text_key: str
    json_key: str
    version: int


def versioned_keys(
    state: CrawlState | None, canonical_url: str, text_sha256: str, text_key: str, json_key: str
) -> tuple[VersionKeys, dict[str, Any] | None]:
    """The keys for storing this text and the ``previous_version`` link (None for a first version).

    ``text_key``/``json_key`` are the usual keys (``archive.keys.text_key``); version 1 keeps them, version
    N > 1 becomes ``<id>.vN.txt`` / ``<id>.vN.json`` beside them. Without state (incremental off) every
    text is version 1. An unchanged text keeps its version and keys (the pipeline normally drops it first).
    """
    if state is None:
        return VersionKeys(text_key, json_key, 1), None
    version, previous = state.next_version(canonical_url, text_sha256)
    if version <= 1:
        return VersionKeys(text_key, json_key, 1), previous
    return (
        VersionKeys(version_key(text_key, version), version_key(json_key, version), version),
        previous,
    )
