"""The errors of archive storage; each has a short ``reason`` used in stats keys (``storage/upload_failed/<r>``).

``StoreConfigError`` (bad URI/options), ``StoreUnavailableError`` (endpoint unreachable or 5xx: retry later),
``StoreAccessError`` (credentials refused or missing), ``StoreNotFoundError`` (no such bucket),
``StoreIntegrityError`` (stored bytes do not match), ``StoreSourceError`` (the bytes to store no longer match
the digest they were handed over with).
"""

from __future__ import annotations


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


class StoreSourceError(StoreIntegrityError):
    """The bytes read for an upload do not match the SHA-256 they were handed over with (a changed or
    corrupted local copy); nothing was stored."""

    reason = "source_changed"
