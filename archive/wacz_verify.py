"""A WACZ verifier written from the WACZ and WACZ Signing specs, independent of the signer.

Checks, in order: every resource ``datapackage.json`` lists is in the package with the SHA-256 (and size)
it states; ``datapackage-digest.json`` states the SHA-256 of ``datapackage.json``; and, when signed
anonymously, that ``signedData.hash`` is that digest and ``signedData.signature`` verifies against
``signedData.publicKey``. The signature is checked by the ``openssl`` command (OpenSSL's own ECDSA), not by
the Python library that ``archive.signing`` signs with, so one implementation's mistake cannot hide itself.
A signature is either r||s (IEEE P1363, what WebCrypto makes: ArchiveWeb.page, this crawler) or DER (what
authsign makes); the first is re-encoded as DER here for openssl.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Verification:
    """What was checked; ``ok`` only when nothing failed and the package is signed."""

    files: dict[str, str] = field(default_factory=dict)  # path -> sha256 hex, as found
    problems: list[str] = field(default_factory=list)
    signed: bool = False
    public_key: str = ""

    @property
    def ok(self) -> bool:
        return self.signed and not self.problems


def _sha256(package: zipfile.ZipFile, name: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with package.open(name) as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size


def _der_integer(value: bytes) -> bytes:
    value = value.lstrip(b"\x00") or b"\x00"
    if value[0] & 0x80:
        value = b"\x00" + value  # DER INTEGERs are signed: keep r and s positive
    return b"\x02" + _der_length(len(value)) + value


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    encoded = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(encoded)]) + encoded


def signature_as_der(signature: bytes) -> bytes:
    """An ECDSA signature as DER ``SEQUENCE { r, s }``: r||s of P-256/P-384/P-521 re-encoded, DER kept."""
    if len(signature) in (64, 96, 132):  # 2 x 32, 48, 66 bytes; a DER signature is never one of these
        half = len(signature) // 2
        body = _der_integer(signature[:half]) + _der_integer(signature[half:])
        return b"\x30" + _der_length(len(body)) + body
    return signature


def _openssl_verifies(public_key_der: bytes, signature_der: bytes, message: bytes) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        key, sig, msg = Path(tmp, "key.der"), Path(tmp, "sig.der"), Path(tmp, "msg")
        key.write_bytes(public_key_der)
        sig.write_bytes(signature_der)
        msg.write_bytes(message)
        result = subprocess.run(
            [
                "openssl",
                "dgst",
                "-sha256",
                "-keyform",
                "DER",
                "-verify",
                str(key),
                "-signature",
                str(sig),
                str(msg),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    return result.returncode == 0 and "Verified OK" in result.stdout


def verify_wacz(path: Path | str) -> Verification:
    result = Verification()
    try:
        package = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        result.problems.append(f"not a ZIP package: {exc}")
        return result
    with package:
        names = set(package.namelist())
        for required in ("datapackage.json", "datapackage-digest.json"):
            if required not in names:
                result.problems.append(f"{required} missing")
        if result.problems:
            return result
        datapackage_bytes = package.read("datapackage.json")
        datapackage: dict[str, Any] = json.loads(datapackage_bytes)
        for resource in datapackage.get("resources", []):
            name = str(resource.get("path", ""))
            if name not in names:
                result.problems.append(f"{name}: listed but not in the package")
                continue
            found, size = _sha256(package, name)
            result.files[name] = found
            if resource.get("hash") != f"sha256:{found}":
                result.problems.append(f"{name}: SHA-256 {found} is not the listed {resource.get('hash')}")
            if "bytes" in resource and int(resource["bytes"]) != size:
                result.problems.append(f"{name}: {size} bytes, listed {resource['bytes']}")
        digest = json.loads(package.read("datapackage-digest.json"))
    expected = "sha256:" + hashlib.sha256(datapackage_bytes).hexdigest()
    if digest.get("hash") != expected:
        result.problems.append("datapackage-digest.json: hash is not the SHA-256 of datapackage.json")
    signed = digest.get("signedData")
    if not isinstance(signed, dict):
        return result
    result.signed = True
    result.public_key = str(signed.get("publicKey", ""))
    if signed.get("hash") != expected:
        result.problems.append("signedData.hash is not the SHA-256 of datapackage.json")
    if "created" in datapackage and signed.get("created") != datapackage["created"]:
        result.problems.append("signedData.created is not the package's created time")
    if not result.public_key:
        result.problems.append(
            "signedData has no publicKey: not an anonymous signature (domain signatures "
            "are checked by an authsign server)"
        )
        return result
    try:
        key = base64.b64decode(result.public_key, validate=True)
        signature = base64.b64decode(str(signed.get("signature", "")), validate=True)
    except ValueError:
        result.problems.append("signedData: publicKey or signature is not base64")
        return result
    if not _openssl_verifies(key, signature_as_der(signature), str(signed.get("hash", "")).encode("utf-8")):
        result.problems.append("signedData.signature does not verify against signedData.publicKey")
    return result
