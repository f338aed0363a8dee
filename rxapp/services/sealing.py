"""Secrets the console must read back (a TOTP seed, a webhook signing secret) are sealed before
they are stored: encrypt-then-MAC with keys derived from the pepper, one pair per purpose, so a
database dump alone reveals none of them and a value sealed for one purpose never opens as another."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from functools import lru_cache

from rxapp.context import get_settings


@lru_cache(maxsize=8)
def _keys(pepper: bytes, purpose: str) -> tuple[bytes, bytes]:
    return (
        hmac.new(pepper, f"apikeys {purpose} seal v1 encrypt".encode(), hashlib.sha256).digest(),
        hmac.new(pepper, f"apikeys {purpose} seal v1 mac".encode(), hashlib.sha256).digest(),
    )


def _stream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (
        hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(length // 32 + 1)
    )
    return b"".join(blocks)[:length]


def b64(data: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(secret: str, purpose: str) -> str:
    """`v1.<nonce>.<ciphertext>.<tag>`: HMAC-SHA256 counter-mode stream, then an HMAC tag."""
    encrypt_key, mac_key = _keys(get_settings().pepper, purpose)
    nonce = secrets.token_bytes(16)
    plain = secret.encode()
    cipher = bytes(a ^ b for a, b in zip(plain, _stream(encrypt_key, nonce, len(plain)), strict=True))
    tag = hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()[:16]
    return f"v1.{b64(nonce)}.{b64(cipher)}.{b64(tag)}"


def unseal(sealed: str, purpose: str) -> str:
    encrypt_key, mac_key = _keys(get_settings().pepper, purpose)
    version, nonce_text, cipher_text, tag_text = sealed.split(".")
    nonce, cipher = _unb64(nonce_text), _unb64(cipher_text)
    if version != "v1" or not hmac.compare_digest(
        _unb64(tag_text), hmac.new(mac_key, nonce + cipher, hashlib.sha256).digest()[:16]
    ):
        raise ValueError(f"sealed {purpose} secret does not verify (another pepper?)")
    return bytes(
        a ^ b for a, b in zip(cipher, _stream(encrypt_key, nonce, len(cipher)), strict=True)
    ).decode()
