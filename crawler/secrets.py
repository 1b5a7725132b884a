"""Credentials never reach a log line, a traceback, an error message or a stats dump: they are masked.

``SecretMasker`` knows the crawl's secret values, whichever way they came in: Scrapy settings (``-s``,
scrapyd's ``setting=``, the settings module), the environment (the standard AWS variables) and the AWS
shared credentials and config files (``AWS_SHARED_CREDENTIALS_FILE`` / ``AWS_CONFIG_FILE``, default
``~/.aws/credentials`` and ``~/.aws/config``). ``mask(text)`` replaces each value with ``***``, and also
the value of any ``NAME=value`` / ``'NAME': 'value'`` pair naming a secret setting and the password of
a ``redis://user:password@host`` URL, so even a value the masker was not told about is hidden there.

Applied at a few points: ``SecretsMaskAddon`` (first in ADDONS) makes every log record a
``MaskedLogRecord`` before Scrapy logs its "Overridden settings" line (Scrapy's log formatter never sees
that line; tracebacks, botocore's debug lines and every other logger's records are masked the same way),
and masks ``sys.excepthook``'s output; the stats file, the crawl report and ``scrapy crawl``'s error line
call ``mask``.

Reads: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, WACZ_SIGNING_KEY (and the key file,
WACZ_SIGNING_KEY_FILE), CRAWL_REDIS_URL (settings), and the
environment variables AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_SECURITY_TOKEN,
AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE.
"""

from __future__ import annotations

import configparser
import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

MASK = "***"
#: Settings and environment variables whose value is a credential.
SECRET_NAMES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    # The WACZ signing key's PEM (crawler/signing.py).
    "WACZ_SIGNING_KEY",
)
#: Keys of the AWS shared credentials/config files that hold a credential.
_FILE_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "aws_security_token")
#: Settings that may carry a password inside a URL.
_URL_SETTINGS = ("CRAWL_REDIS_URL",)
# Shorter values are not masked as bare substrings (a one-letter "secret" would blot out every log line);
# the name-based patterns below still hide them.
_MIN_LENGTH = 4
_NAMED = re.compile(
    r"(?P<name>\b(?:" + "|".join(SECRET_NAMES + _FILE_KEYS) + r")\b['\"]?\s*(?::|=)\s*(?:b?['\"])?)"
    r"(?P<value>[^'\"\s,}\]]+)",
    re.IGNORECASE,
)
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]*:)(?P<value>[^@/\s'\"]+)(?=@)")


class SecretMasker:
    """Replaces known secret values (and named or URL-embedded ones) in text with ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        values = {value for value in secrets if value and len(value) >= _MIN_LENGTH}
        # Longest first: a value that contains another is masked whole.
        ordered = sorted(values, key=len, reverse=True)
        self._values = re.compile("|".join(re.escape(value) for value in ordered)) if ordered else None

    @classmethod
    def from_settings(cls, settings: Any, environ: Mapping[str, str] | None = None) -> SecretMasker:
        """Every credential the crawl can see: ``settings``, the environment, the AWS credential files."""
        env = os.environ if environ is None else environ
        found: list[str] = []
        for name in SECRET_NAMES:
            value = settings.get(name) if settings is not None else None
            if isinstance(value, str):
                found.append(value)
            found.append(env.get(name, ""))
        for name in _URL_SETTINGS:
            value = settings.get(name) if settings is not None else None
            found.extend(_url_passwords(str(value or "")))
        found.extend(_credential_file_values(env))
        found.extend(_signing_key_file(settings))
        # A multi-line secret (a PEM key) is also hidden line by line: a repr() shows it with "\\n"s.
        found.extend(line.strip() for value in list(found) if "\n" in value for line in value.splitlines())
        return cls(found)

    def mask(self, text: str) -> str:
        if self._values is not None:
            text = self._values.sub(MASK, text)
        text = _NAMED.sub(lambda m: m.group("name") + MASK, text)
        return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)

    def mask_bytes(self, data: bytes) -> bytes:
        """``mask`` for UTF-8 text held as bytes (a JSON or Markdown file)."""
        return self.mask(data.decode("utf-8", errors="surrogateescape")).encode(
            "utf-8", errors="surrogateescape"
        )


def _url_passwords(url: str) -> list[str]:
    return [match.group("value") for match in _URL_PASSWORD.finditer(url)]


def _signing_key_file(settings: Any) -> list[str]:
    """The PEM of the WACZ signing key file (crawler/signing.py), when there is one."""
    if settings is None:
        return []
    spool = str(settings.get("ARCHIVE_SPOOL_DIR") or "./archive-spool")
    path = Path(str(settings.get("WACZ_SIGNING_KEY_FILE") or Path(spool) / "keys" / "wacz-signing-key.pem"))
    try:
        return [path.read_text(encoding="ascii")]
    except (OSError, UnicodeDecodeError):
        return []


def _credential_file_values(env: Mapping[str, str]) -> list[str]:
    home = Path(env.get("HOME") or Path.home())
    paths = [
        Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials"),
        Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config"),
    ]
    values: list[str] = []
    for path in paths:
        parser = configparser.RawConfigParser()
        try:
            parser.read(path.expanduser(), encoding="utf-8")
        except (OSError, configparser.Error, UnicodeDecodeError):
            continue  # unreadable: botocore will not find credentials there either
        for section in parser.sections():
            values.extend(parser.get(section, key, fallback="").strip() for key in _FILE_KEYS)
    return values


class MaskedLogRecord(logging.LogRecord):
    """Every log record of the process: its message, traceback and stack text come out masked.

    Masking in the record rather than in a handler filter: Scrapy replaces its root handler after the add-ons
    are built (``Crawler._update_root_log_handler``), and handlers are added later too (scrapyd's log file,
    the log counter); a record is the one thing every logger, thread and handler shares. The message is
    still formatted lazily, only when a handler emits it.
    """

    masker: ClassVar[SecretMasker] = SecretMasker(())

    def getMessage(self) -> str:
        return self.masker.mask(super().getMessage())

    @property
    def exc_text(self) -> str | None:
        return self._exc_text

    @exc_text.setter
    def exc_text(self, value: str | None) -> None:
        # Formatter.format stores the formatted traceback here before it appends it to the line.
        self._exc_text = self.masker.mask(value) if value else value

    @property
    def stack_info(self) -> str | None:
        return self._stack_info

    @stack_info.setter
    def stack_info(self, value: str | None) -> None:
        self._stack_info = self.masker.mask(value) if value else value


def install_log_masking(masker: SecretMasker) -> None:
    """Mask ``masker``'s secrets in every log record from now on, and in uncaught tracebacks."""
    MaskedLogRecord.masker = masker
    logging.setLogRecordFactory(MaskedLogRecord)
    _install_excepthook(masker)


def _install_excepthook(masker: SecretMasker) -> None:
    """An uncaught exception's traceback, printed by Python itself (main thread or any other), is masked too."""
    import threading
    import traceback

    def hook(kind: type[BaseException], value: BaseException | None, tb: TracebackType | None) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(masker.mask(text))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        sys.stderr.write(f"Exception in thread {name}:\n")
        hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook


class SecretsMaskAddon:
    """Scrapy add-on (ADDONS, before every other): installs the log masking for this crawl's secrets."""

    def __init__(self, masker: SecretMasker) -> None:
        self.masker = masker

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SecretsMaskAddon:
        masker = SecretMasker.from_settings(crawler.settings)
        install_log_masking(masker)
        return cls(masker)

    def update_settings(self, settings: Any) -> None:
        """Add-on hook: nothing to change."""
