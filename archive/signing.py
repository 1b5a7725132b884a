"""WACZ signing as the WACZ Signing and Verification spec (webrecorder, wacz-auth 0.1.0) says: anonymous.

A WACZ's ``datapackage.json`` lists every file of the package with its SHA-256; ``datapackage-digest.json``
holds the SHA-256 of ``datapackage.json``. Signing adds ``signedData`` to the digest file: the same
``hash`` string, ``created`` (UTC), ``software``, ``signature`` (base64 of the ECDSA P-384 signature,
SHA-256, of the ``hash`` string's UTF-8 bytes, as the 96 bytes r||s: IEEE P1363, the form WebCrypto makes
and checks) and ``publicKey`` (base64 of the DER SubjectPublicKeyInfo). The spec names no curve or
encoding for anonymous signatures; its reference implementation (ArchiveWeb.page) signs with WebCrypto's
P-384, and the reader that checks them, wabac.js in ReplayWeb.page, imports the key as P-384 and verifies
r||s, so this is the form other tools can verify (a DER P-256 signature fails there). No network: the key
pair is the crawler's own (``load_or_create_key``), so a signature proves that one key holder made the
package and that nothing in it changed since, not who the holder is. The domain-certificate signature (an
``authsign`` server with a certificate for a domain and an RFC 3161 timestamp) is not made here.

``sign_wacz`` rewrites the package with the signed digest file (other members copied byte for byte, with
their compression). The verifier is a separate implementation: ``archive.wacz_verify``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

DIGEST_FILE = "datapackage-digest.json"
PACKAGE_FILE = "datapackage.json"


class SigningError(RuntimeError):
    """The key cannot be used, or the package is not a WACZ."""


def load_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"not an unencrypted PEM private key ({type(exc).__name__})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP384R1):
        raise SigningError(
            "the WACZ signing key must be an ECDSA P-384 (secp384r1) key (what WACZ readers verify); "
            "make one with `openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384`"
        )
    return key


def load_or_create_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The key pair in ``path`` (PEM, PKCS#8); a new P-384 key written there (mode 0600) when missing."""
    if path.exists():
        try:
            return load_key(path.read_bytes())
        except SigningError as exc:
            raise SigningError(f"{path}: {exc}") from None
    key = ec.generate_private_key(ec.SECP384R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    os.replace(tmp, path)
    return key


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii")


def sign_wacz(
    path: Path, key: ec.EllipticCurvePrivateKey, *, software: str, created: datetime | None = None
) -> dict[str, str]:
    """Sign the WACZ at ``path`` in place; returns its ``signedData``."""
    try:
        with zipfile.ZipFile(path) as package:
            datapackage = package.read(PACKAGE_FILE)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise SigningError(f"{path} is not a WACZ package: {exc}") from None
    digest = "sha256:" + hashlib.sha256(datapackage).hexdigest()
    r, s = decode_dss_signature(key.sign(digest.encode("utf-8"), ec.ECDSA(hashes.SHA256())))
    size = (key.curve.key_size + 7) // 8
    signature = r.to_bytes(size, "big") + s.to_bytes(size, "big")  # IEEE P1363, as WebCrypto
    # The signature's time is the package's: WACZ readers (py-wacz) require the two to be equal.
    stated = json.loads(datapackage).get("created")
    when = stated if isinstance(stated, str) and stated and created is None else ""
    when = when or (created or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    signed = {
        "hash": digest,
        "created": when,
        "software": software,
        "signature": base64.b64encode(signature).decode("ascii"),
        "publicKey": public_key_b64(key),
    }
    document = {"path": PACKAGE_FILE, "hash": digest, "signedData": signed}
    tmp = path.with_name(path.name + ".signing")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp, "w") as target:
        for info in source.infolist():
            if info.filename == DIGEST_FILE:
                continue
            with source.open(info) as data, target.open(info, "w") as out:
                shutil.copyfileobj(data, out, 1 << 20)
        target.writestr(DIGEST_FILE, json.dumps(document, indent=2) + "\n", zipfile.ZIP_DEFLATED)
    os.replace(tmp, path)
    return signed
