"""Signs each crawl's WACZ (archive/signing.py) before it is handed over to the store.

``WaczSigningExtension`` (EXTENSIONS, after ``crawler.warc.WarcExtension``) gives the WARC extension a
``wacz_signer``; the package is signed in the WARC extension's finishing thread, right after it is built.

Settings: WACZ_SIGNING (``anonymous``, the default, or ``off``), WACZ_SIGNING_KEY (the PEM of an ECDSA P-384
private key: a secret, masked in every log line and report like the AWS credentials) or else
WACZ_SIGNING_KEY_FILE (default ``<ARCHIVE_SPOOL_DIR>/keys/wacz-signing-key.pem``; made, mode 0600, on first
use: keep it with the crawler's configuration and back it up, since its public key names the archive's
packages). Stats: ``wacz/signed``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from archive.signing import SigningError, load_key, load_or_create_key, public_key_b64, sign_wacz
from crawler.config import PROJECT_NAME, PROJECT_VERSION, SettingsReader

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

MODES = ("anonymous", "off")


@dataclass(frozen=True)
class WaczSigningConfig:
    mode: str
    key_pem: str | None
    key_file: Path

    @classmethod
    def from_settings(cls, settings: Any) -> WaczSigningConfig:
        r = SettingsReader(settings)
        mode = r.choice("WACZ_SIGNING", MODES)
        key_pem = r.secret("WACZ_SIGNING_KEY")
        spool = r.text("ARCHIVE_SPOOL_DIR") or "./archive-spool"
        key_file = Path(r.text("WACZ_SIGNING_KEY_FILE") or Path(spool) / "keys" / "wacz-signing-key.pem")
        if mode != "off" and key_pem is not None:
            try:
                load_key(key_pem.encode("utf-8"))
            except SigningError as exc:
                r.fail(f"WACZ_SIGNING_KEY: {exc}; give the PEM of an ECDSA P-384 key or leave it empty")
        elif mode != "off" and key_file.is_file():
            try:
                load_key(key_file.read_bytes())
            except (SigningError, OSError) as exc:
                r.fail(f"WACZ_SIGNING_KEY_FILE {key_file}: {exc} (or move the file away: a new key is made)")
        r.check()
        return cls(mode=mode, key_pem=key_pem, key_file=key_file)


class WaczSigningExtension:
    def __init__(self, config: WaczSigningConfig, stats: StatsCollector | None = None) -> None:
        self.config = config
        self.stats = stats
        if config.key_pem is not None:
            self.key = load_key(config.key_pem.encode("utf-8"))
        else:
            self.key = load_or_create_key(config.key_file)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WaczSigningExtension:
        config = WaczSigningConfig.from_settings(crawler.settings)
        if config.mode == "off":
            raise NotConfigured("WACZ_SIGNING is off")
        archive = getattr(crawler, "warc_archive", None)
        if archive is None:
            raise NotConfigured("no WARC archive (WARC_ENABLED is off): no WACZ to sign")
        ext = cls(config, crawler.stats)
        archive.wacz_signer = ext.sign
        logger.info("WACZ packages are signed (anonymous, public key %s...)", public_key_b64(ext.key)[-16:])
        return ext

    def sign(self, path: Path) -> None:
        """Sign one WACZ in place (blocking; the WARC extension calls it in its finishing thread)."""
        sign_wacz(path, self.key, software=f"{PROJECT_NAME} {PROJECT_VERSION}")
        if self.stats is not None:
            self.stats.inc_value("wacz/signed")
