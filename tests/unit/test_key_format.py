"""The key format: `bpk_` + 32 base62 + 6-char base62 CRC32; mask, digest and key ID."""

from __future__ import annotations

import hashlib
import hmac
import re
import zlib
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rxapp.services import key_format
from rxapp.services.key_format import BASE62

PREFIX = "bpk"
SECRET_PATTERN = re.compile(r"^bpk_[0-9A-Za-z]{32}[0-9A-Za-z]{6}$")
KEY_ID_PATTERN = re.compile(r"^key_[a-z2-7]{16}$")


def _base62_decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 62 + BASE62.index(char)
    return value


def test_generated_secret_has_the_documented_shape() -> None:
    secret = key_format.generate_secret(PREFIX)
    assert SECRET_PATTERN.match(secret), secret
    assert len(secret) == 4 + 32 + 6
    assert key_format.is_well_formed(secret, PREFIX)


def test_checksum_is_base62_crc32_of_the_random_part() -> None:
    secret = key_format.generate_secret(PREFIX)
    random_part, check = secret[4:36], secret[36:]
    assert _base62_decode(check) == zlib.crc32(random_part.encode("ascii"))
    assert key_format.checksum(random_part) == check


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_checksum_is_any_crc32_in_six_base62_digits(value: int) -> None:
    """The table-driven checksum over the whole CRC32 range, against the plain base62 decoding."""
    with mock.patch.object(key_format.zlib, "crc32", return_value=value):
        digits = key_format.checksum("x" * 32)
    assert len(digits) == 6
    assert _base62_decode(digits) == value


def test_checksum_matches_the_definition_at_the_ends_of_the_range(monkeypatch: pytest.MonkeyPatch) -> None:
    for value in (0, 1, 61, 62, 62**2, 62**4 - 1, 62**4, 2**31, 2**32 - 1):
        monkeypatch.setattr(key_format.zlib, "crc32", lambda _data, value=value: value)
        assert _base62_decode(key_format.checksum("x" * 32)) == value


def test_digest_is_hmac_sha256_under_each_pepper() -> None:
    """The keyed state is kept per pepper: a second pepper never gets the first one's hash."""
    secret = key_format.generate_secret(PREFIX)
    for pepper in (b"p" * 32, b"q" * 48, b"p" * 32):
        expected = hmac.new(pepper, secret.encode("ascii"), hashlib.sha256).hexdigest()
        assert key_format.digest(secret, pepper) == expected


def test_many_generated_secrets_and_key_ids_are_unique_and_well_formed() -> None:
    secrets_seen = {key_format.generate_secret(PREFIX) for _ in range(5000)}
    key_ids = {key_format.generate_key_id() for _ in range(5000)}
    assert len(secrets_seen) == 5000
    assert len(key_ids) == 5000
    assert all(key_format.is_well_formed(secret, PREFIX) for secret in secrets_seen)
    assert all(KEY_ID_PATTERN.match(key_id) for key_id in key_ids)


def test_random_part_uses_the_whole_alphabet() -> None:
    """A sanity check that the generator is not stuck on a subset (about 190 bits per key)."""
    seen: set[str] = set()
    for _ in range(200):
        seen.update(key_format.generate_secret(PREFIX)[4:36])
    assert seen == set(BASE62)


def test_key_id_is_key_underscore_and_16_lowercase_base32() -> None:
    key_id = key_format.generate_key_id()
    assert KEY_ID_PATTERN.match(key_id), key_id


def test_mask_is_prefix_dots_and_last_four() -> None:
    secret = key_format.generate_secret(PREFIX)
    masked = key_format.mask(secret, PREFIX)
    assert masked == "bpk_••••••••" + secret[-4:]
    assert secret[4:-4] not in masked


def test_digest_is_hmac_sha256_with_the_pepper() -> None:
    secret = key_format.generate_secret(PREFIX)
    pepper = b"p" * 40
    expected = hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()
    assert key_format.digest(secret, pepper) == expected
    assert key_format.digest(secret, b"q" * 40) != expected
    assert len(expected) == 64


def _valid_random_part() -> str:
    return key_format.generate_secret(PREFIX)[4:36]


@pytest.mark.parametrize(
    "make_bad",
    [
        pytest.param(lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"), id="wrong-checksum"),
        pytest.param(lambda s: s[:-1], id="too-short"),
        pytest.param(lambda s: s + "A", id="too-long"),
        pytest.param(lambda s: "xyz" + s[3:], id="wrong-prefix"),
        pytest.param(lambda s: "BPK" + s[3:], id="prefix-case"),
        pytest.param(lambda s: "bpk-" + s[4:], id="wrong-separator"),
        pytest.param(lambda s: s[:10] + "-" + s[11:], id="non-base62-dash"),
        pytest.param(lambda s: s[:10] + "é" + s[11:], id="non-ascii"),
        pytest.param(lambda s: s[:10] + " " + s[11:], id="space"),
        pytest.param(lambda s: "", id="empty"),
        pytest.param(lambda s: s + s, id="doubled"),
        pytest.param(lambda s: " " + s, id="leading-space"),
    ],
)
def test_is_well_formed_rejects(make_bad) -> None:
    secret = key_format.generate_secret(PREFIX)
    bad = make_bad(secret)
    assert bad != secret
    assert not key_format.is_well_formed(bad, PREFIX)


def test_is_well_formed_rejects_a_correct_checksum_of_a_different_random_part() -> None:
    one, other = _valid_random_part(), _valid_random_part()
    assert not key_format.is_well_formed(f"bpk_{one}{key_format.checksum(other)}", PREFIX)


def test_is_well_formed_accepts_a_hand_built_key_with_a_custom_prefix() -> None:
    random_part = "a" * 32
    assert key_format.is_well_formed(f"acme_{random_part}{key_format.checksum(random_part)}", "acme")
    assert not key_format.is_well_formed(f"bpk_{random_part}{key_format.checksum(random_part)}", "acme")


_FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FAST
@given(
    data=st.data(),
    replacement=st.characters(codec="utf-8", exclude_categories=["Cs"]),
)
def test_any_single_character_substitution_is_rejected(data: st.DataObject, replacement: str) -> None:
    """CRC32 catches every error confined to one byte, and the checksum digits map 1:1 to CRCs,
    so a single changed character anywhere (prefix, random part or checksum) is always rejected."""
    secret = key_format.generate_secret(PREFIX)
    position = data.draw(st.integers(0, len(secret) - 1), label="position")
    if replacement == secret[position]:
        replacement = "0" if secret[position] != "0" else "1"
    typo = secret[:position] + replacement + secret[position + 1 :]
    assert typo != secret
    assert not key_format.is_well_formed(typo, PREFIX)


@_FAST
@given(data=st.data())
def test_any_single_base62_substitution_is_rejected(data: st.DataObject) -> None:
    """The realistic typo: one base62 character for another (only the checksum can catch it)."""
    secret = key_format.generate_secret(PREFIX)
    position = data.draw(st.integers(4, len(secret) - 1), label="position")
    replacement = data.draw(st.sampled_from([c for c in BASE62 if c != secret[position]]), label="char")
    typo = secret[:position] + replacement + secret[position + 1 :]
    assert not key_format.is_well_formed(typo, PREFIX)


@_FAST
@given(data=st.data())
def test_adjacent_transpositions_are_rejected(data: st.DataObject) -> None:
    secret = key_format.generate_secret(PREFIX)
    position = data.draw(st.integers(4, len(secret) - 2), label="position")
    if secret[position] == secret[position + 1]:
        return  # swapping equal characters changes nothing
    swapped = secret[:position] + secret[position + 1] + secret[position] + secret[position + 2 :]
    assert not key_format.is_well_formed(swapped, PREFIX)


@_FAST
@given(data=st.data())
def test_single_character_deletion_or_insertion_is_rejected(data: st.DataObject) -> None:
    secret = key_format.generate_secret(PREFIX)
    position = data.draw(st.integers(0, len(secret) - 1), label="position")
    char = data.draw(st.sampled_from(BASE62), label="char")
    assert not key_format.is_well_formed(secret[:position] + secret[position + 1 :], PREFIX)
    assert not key_format.is_well_formed(secret[:position] + char + secret[position:], PREFIX)


@_FAST
@given(garbage=st.text(max_size=80))
def test_random_garbage_is_rejected(garbage: str) -> None:
    assert not key_format.is_well_formed(garbage, PREFIX)
