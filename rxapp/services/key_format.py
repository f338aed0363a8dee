"""The key format: `<prefix>_<32 base62 random><6 base62 CRC32 of the random part>`.

32 base62 characters carry about 190 bits. The checksum lets a caller reject typos and garbage
without touching the database, and lets secret scanners recognise a leaked key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import zlib

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_BASE62_SET = frozenset(BASE62)
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
MASK_DOTS = "••••••••"


# Every two-digit base62 string, in order: the checksum is three lookups, not six divisions.
_PAIRS = tuple(high + low for high in BASE62 for low in BASE62)
_PAIR = len(_PAIRS)  # 62 ** 2


def checksum(random_part: str) -> str:
    """Six base62 digits of the random part's CRC32 (62 ** 6 > 2 ** 32, so it always fits)."""
    high, rest = divmod(zlib.crc32(random_part.encode("ascii")), _PAIR * _PAIR)
    middle, low = divmod(rest, _PAIR)
    return _PAIRS[high] + _PAIRS[middle] + _PAIRS[low]


def generate_secret(prefix: str) -> str:
    random_part = "".join(secrets.choice(BASE62) for _ in range(RANDOM_LENGTH))
    return f"{prefix}_{random_part}{checksum(random_part)}"


def is_well_formed(secret: str, prefix: str) -> bool:
    """Shape and checksum only; cheap enough to run before any database work."""
    expected_length = len(prefix) + 1 + RANDOM_LENGTH + CHECKSUM_LENGTH
    if len(secret) != expected_length or not secret.startswith(prefix + "_"):
        return False
    body = secret[len(prefix) + 1 :]
    if not _BASE62_SET.issuperset(body):
        return False
    return hmac.compare_digest(checksum(body[:RANDOM_LENGTH]), body[RANDOM_LENGTH:])


def mask(secret: str, prefix: str) -> str:
    return f"{prefix}_{MASK_DOTS}{secret[-4:]}"


def digest(secret: str, pepper: bytes) -> str:
    """A keyed fast hash suits 190-bit random secrets; the pepper lives outside the database.

    HMAC's keyed state is built once per pepper and copied for each secret (the verify hot path
    hashes every call; building the key pads each time cost a third of the hash)."""
    keyed = _KEYED.get(pepper)
    if keyed is None:
        if len(_KEYED) >= 8:  # one pepper per instance; tests make more
            _KEYED.clear()
        keyed = _KEYED[pepper] = hmac.new(pepper, digestmod=hashlib.sha256)
    mac = keyed.copy()
    mac.update(secret.encode("ascii"))
    return mac.hexdigest()


_KEYED: dict[bytes, hmac.HMAC] = {}


def generate_key_id() -> str:
    return "key_" + base64.b32encode(secrets.token_bytes(10)).decode("ascii").lower()
