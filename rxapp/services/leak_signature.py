"""GitHub secret-scanning partner requests: the public keys the operator configured, the ECDSA
signature over the raw body, and the report's shape.

GitHub signs each POST with one of its keys (ECDSA P-256, SHA-256 over the exact body bytes, the
DER signature base64 in `Github-Public-Key-Signature`, the key named by
`Github-Public-Key-Identifier`). The keys come from a file the operator saves from GitHub's
published JSON (`APIKEYS_SECRET_SCANNING_KEYS`): this console never fetches anything, so a
network attacker cannot feed it keys, and rotating GitHub's keys is replacing that file.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from rxapp.services.errors import ServiceError, ValidationError

MAX_BODY_BYTES = 1_000_000
MAX_REPORTS = 1000


class SignatureRejected(ServiceError):
    """Unsigned, unknown key, bad encoding or wrong signature: one answer (401), no effect."""

    default_code = "BAD_SIGNATURE"


PublicKeys = dict[str, ec.EllipticCurvePublicKey]
_cache: dict[tuple[str, float], PublicKeys] = {}


def parse_public_keys(text: str) -> PublicKeys:
    """GitHub's JSON (`{"public_keys": [{"key_identifier", "key", "is_current"}]}`) -> keys by id.
    Keys that are not P-256 are left out: only they can sign what this endpoint accepts."""
    document = json.loads(text)
    keys: PublicKeys = {}
    for entry in document.get("public_keys", []) if isinstance(document, dict) else []:
        identifier, pem = entry.get("key_identifier"), entry.get("key")
        if not isinstance(identifier, str) or not isinstance(pem, str):
            continue
        key = load_pem_public_key(pem.encode("ascii"))
        if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
            keys[identifier] = key
    return keys


def load_public_keys(path: str) -> PublicKeys:
    """The configured file's keys, re-read when the file changes (replace it to rotate); an empty
    path or an unreadable file is no keys, so every request is refused."""
    if not path:
        return {}
    try:
        stamp = (path, Path(path).stat().st_mtime)
        if stamp not in _cache:
            _cache.clear()
            _cache[stamp] = parse_public_keys(Path(path).read_text(encoding="utf-8"))
        return _cache[stamp]
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def verify(body: bytes, key_identifier: str, signature: str, keys: PublicKeys) -> None:
    """Raise SignatureRejected unless `signature` is a valid signature of `body` by that key."""
    rejected = SignatureRejected("A valid GitHub secret-scanning signature is required.")
    key = keys.get((key_identifier or "").strip())
    if key is None or not signature:
        raise rejected
    try:
        der = base64.b64decode(signature.strip(), validate=True)
        key.verify(der, body, ec.ECDSA(hashes.SHA256()))
    except (binascii.Error, ValueError, InvalidSignature):
        raise rejected from None


@dataclass(frozen=True)
class Reported:
    token: str
    type: str
    url: str
    source: str


def parse_reports(body: bytes) -> list[Reported]:
    """The (already verified) body: a JSON array of `{token, type, url, source}`."""
    try:
        items = json.loads(body)
    except ValueError:
        raise ValidationError("The body must be a JSON array of reports.", code="BAD_REPORT") from None
    if not isinstance(items, list) or len(items) > MAX_REPORTS:
        raise ValidationError(
            f"The body must be a JSON array of at most {MAX_REPORTS} reports.", code="BAD_REPORT"
        )
    reports = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("token"), str):
            raise ValidationError("Each report needs a `token` string.", code="BAD_REPORT")
        reports.append(
            Reported(
                token=item["token"],
                type=str(item.get("type") or "")[:100],
                url=str(item.get("url") or "")[:1000],
                source=str(item.get("source") or "")[:40],
            )
        )
    return reports
