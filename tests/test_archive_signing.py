"""WACZ signing (archive/signing.py) checked by a verifier written from the spec (archive/wacz_verify.py)."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from scrapy.settings import Settings

from archive.capture import Capture
from archive.signing import load_or_create_key, public_key_b64, sign_wacz
from archive.wacz import build_wacz
from archive.wacz_verify import verify_wacz
from archive.warc import WarcRotatingWriter
from crawler.config import ConfigError
from crawler.secrets import SecretMasker
from crawler.signing import WaczSigningConfig

BIN = Path(sys.executable).parent


@pytest.fixture
def wacz(tmp_path: Path) -> Path:
    writer = WarcRotatingWriter(
        tmp_path / "warc", "TEST", "sign-test", max_size=10_000_000, warcinfo={"operator": "test"}
    )
    body = "<html><head><title>طرابلس</title></head><body><p>نص</p></body></html>".encode()
    writer.write_capture(
        Capture(
            url="http://news.example/a",
            method="GET",
            request_headers=[("Host", "news.example")],
            status=200,
            reason="OK",
            response_headers=[("Content-Type", "text/html; charset=utf-8")],
            body=body,
            fetched_at=datetime.now(UTC),
        )
    )
    writer.close()
    return build_wacz(writer.finished_files, tmp_path / "sign-test.wacz", [])


def _rewrite(path: Path, member: str, change: bytes) -> None:
    """Replace one member of the ZIP with ``change`` (everything else copied)."""
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp, "w") as target:
        for info in source.infolist():
            data = change if info.filename == member else source.read(info)
            target.writestr(info, data)
    shutil.move(tmp, path)


def test_signed_package_verifies_and_lists_every_file(wacz: Path, tmp_path: Path) -> None:
    key = load_or_create_key(tmp_path / "keys" / "key.pem")
    signed = sign_wacz(wacz, key, software="test 1")
    result = verify_wacz(wacz)
    assert result.ok, result.problems
    assert result.public_key == signed["publicKey"] == public_key_b64(key)
    with zipfile.ZipFile(wacz) as package:
        listed = json.loads(package.read("datapackage.json"))["resources"]
    assert set(result.files) == {r["path"] for r in listed} and len(listed) >= 4
    assert all(len(digest) == 64 for digest in result.files.values())
    # py-wacz, another reader, accepts the signed package (it leaves the signature to authsign).
    check = subprocess.run([str(BIN / "wacz"), "validate", "-f", str(wacz)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_unsigned_package_is_not_ok(wacz: Path) -> None:
    result = verify_wacz(wacz)
    assert not result.signed and not result.ok and not result.problems


def test_tampered_warc_fails(wacz: Path, tmp_path: Path) -> None:
    sign_wacz(wacz, load_or_create_key(tmp_path / "key.pem"), software="test")
    with zipfile.ZipFile(wacz) as package:
        warc = next(n for n in package.namelist() if n.startswith("archive/"))
        data = bytearray(package.read(warc))
    data[-5] ^= 0xFF
    _rewrite(wacz, warc, bytes(data))
    result = verify_wacz(wacz)
    assert not result.ok
    assert any(p.startswith(f"{warc}: SHA-256") for p in result.problems), result.problems


def test_tampered_listing_with_recomputed_digest_fails_the_signature(wacz: Path, tmp_path: Path) -> None:
    """A forger who edits datapackage.json and fixes every hash still cannot fix the signature."""
    import hashlib

    sign_wacz(wacz, load_or_create_key(tmp_path / "key.pem"), software="test")
    with zipfile.ZipFile(wacz) as package:
        listing = json.loads(package.read("datapackage.json"))
        digest = json.loads(package.read("datapackage-digest.json"))
    listing["title"] = "forged"
    forged = json.dumps(listing).encode()
    digest["hash"] = digest["signedData"]["hash"] = "sha256:" + hashlib.sha256(forged).hexdigest()
    _rewrite(wacz, "datapackage.json", forged)
    _rewrite(wacz, "datapackage-digest.json", json.dumps(digest).encode())
    result = verify_wacz(wacz)
    assert result.problems == ["signedData.signature does not verify against signedData.publicKey"]


def test_another_public_key_fails(wacz: Path, tmp_path: Path) -> None:
    sign_wacz(wacz, load_or_create_key(tmp_path / "key.pem"), software="test")
    with zipfile.ZipFile(wacz) as package:
        digest = json.loads(package.read("datapackage-digest.json"))
    digest["signedData"]["publicKey"] = public_key_b64(ec.generate_private_key(ec.SECP384R1()))
    _rewrite(wacz, "datapackage-digest.json", json.dumps(digest).encode())
    assert "signedData.signature does not verify against signedData.publicKey" in verify_wacz(wacz).problems


def test_key_file_is_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "wacz.pem"
    first = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert public_key_b64(load_or_create_key(path)) == public_key_b64(first)


def test_config_rules_and_the_key_is_masked() -> None:
    pem = (
        ec.generate_private_key(ec.SECP384R1())
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    config = WaczSigningConfig.from_settings(Settings({"WACZ_SIGNING_KEY": pem}))
    assert config.mode == "anonymous" and config.key_pem == pem
    with pytest.raises(ConfigError) as error:
        WaczSigningConfig.from_settings(
            Settings({"WACZ_SIGNING": "sometimes", "WACZ_SIGNING_KEY": "not-a-key-XYZ"})
        )
    message = str(error.value)
    assert "WACZ_SIGNING must be one of anonymous, off" in message
    assert "WACZ_SIGNING_KEY: not an unencrypted PEM private key" in message
    assert "not-a-key-XYZ" not in message
    masker = SecretMasker.from_settings(Settings({"WACZ_SIGNING_KEY": pem}), environ={})
    body = pem.splitlines()[1]
    assert body not in masker.mask(f"Overridden settings: {{'WACZ_SIGNING_KEY': {pem!r}}}")
    assert masker.mask(f"key is {pem}") == "key is ***"
