"""Standard Webhooks signatures (https://www.standardwebhooks.com): the signing secret, the three
headers, and the check a receiver makes (used by the tests and shown in the README).

The signature is `v1,` + base64(HMAC-SHA256(secret, f"{id}.{timestamp}.{body}")), where the secret
is the bytes behind `whsec_<base64>`. Written out here (a dozen lines) rather than taken from a
package; tests/unit/test_webhooks.py checks it against the spec's published test vector.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"  # noqa: S105 (the format's visible prefix, not a secret)
SECRET_BYTES = 32
TOLERANCE_SECONDS = 300  # a receiver refuses a timestamp further than this from its clock


def new_secret() -> str:
    """`whsec_` + base64 of 32 random bytes (256 bits, the HMAC-SHA256 key size)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """What every delivery carries, beside `content-type: application/json`."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


def verify(secret: str, received: dict[str, str], body: bytes, now: float | None = None) -> bool:
    """A receiver's check: a fresh timestamp and one matching `v1,` signature (the header may list
    several, space-separated, while a secret is being rolled)."""
    lower = {name.lower(): value for name, value in received.items()}
    message_id, stamp = lower.get("webhook-id", ""), lower.get("webhook-timestamp", "")
    if not message_id or not stamp.isdigit():
        return False
    if abs((now if now is not None else time.time()) - int(stamp)) > TOLERANCE_SECONDS:
        return False
    expected = signature(secret, message_id, int(stamp), body)
    return any(hmac.compare_digest(expected, sent) for sent in lower.get("webhook-signature", "").split())
