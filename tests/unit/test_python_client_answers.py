"""The Python client's reading of verify answers and its refusals, without a console: the fields of
programmable keys (issue 24) are typed when present and None when absent, and every code the
console's forward auth maps is refused with the same status by the integrations."""

from __future__ import annotations

import datetime as dt
import json

import httpx
import pytest

from keyconsole import Identity, RateLimit, Verification
from keyconsole.answers import key_from_headers, refusal
from keyconsole.client import ConsoleUnreachable, read_answer, verify_body
from rxapp.hotpath.answers import _DENIED_STATUS


def test_the_fields_of_programmable_keys_are_typed() -> None:
    body = {
        "valid": True,
        "key_id": "key_1",
        "status": "ACTIVE",
        "expires_at": "2030-01-02T03:04:05",
        "bias_profile": None,
        "workspace_id": "ws_ABCDEFGHIJKLMNOP",
        "workspace_name": "Checkout",
        "credits": 9999,
        "meta": {"plan": "pro"},
        "permissions": ["documents.read"],
        "identity": {"external_id": "acme", "meta": {"tier": 2}},
        "ratelimits": [{"name": "requests", "limit": 100, "remaining": 99, "reset": 1893553445000}],
        "a_field_from_the_future": 1,
    }
    verification = Verification.from_json(body)
    assert verification.expires_at == dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert verification.credits == 9999
    assert verification.meta == {"plan": "pro"}
    assert verification.permissions == ["documents.read"]
    assert verification.identity == Identity("acme", {"tier": 2})
    assert verification.ratelimits == [RateLimit("requests", 100, 99, 1893553445000)]
    assert verification.raw is body


def test_absent_fields_are_none() -> None:
    verification = Verification.from_json({"valid": False, "code": "USAGE_EXCEEDED"})
    assert (verification.valid, verification.code) == (False, "USAGE_EXCEEDED")
    for name in ("key_id", "expires_at", "bias_profile", "credits", "meta", "permissions", "identity"):
        assert getattr(verification, name) is None
    assert verification.ratelimits is None and verification.retry_after is None


def test_only_options_that_differ_from_the_defaults_make_a_body() -> None:
    assert verify_body(None, 1, None) is None
    assert verify_body("a AND b", 0, []) == {"permissions": "a AND b", "cost": 0, "ratelimits": []}


def _response(status: int, body: object, **headers: str) -> httpx.Response:
    return httpx.Response(status, content=json.dumps(body).encode(), headers=headers)


def test_answers_that_are_verdicts_and_answers_that_are_not() -> None:
    limited = read_answer(_response(429, {"error": "RATE_LIMITED", "message": "…"}, **{"retry-after": "7"}))
    assert (limited.valid, limited.code, limited.retry_after) == (False, "RATE_LIMITED", 7)
    assert read_answer(_response(401, {"error": "MISSING_KEY", "message": "…"})).code == "MISSING_KEY"
    for status, body in ((502, {"error": "BAD_GATEWAY"}), (200, ["not", "a", "verdict"]), (404, {})):
        with pytest.raises(ConsoleUnreachable):
            read_answer(_response(status, body))
    unchecked = read_answer(_response(200, {"valid": True, "key_id": "key_1"}), asked_permissions=True)
    assert (unchecked.valid, unchecked.code) == (False, "PERMISSIONS_NOT_CHECKED")
    checked = read_answer(_response(200, {"valid": True, "permissions": ["a"]}), asked_permissions=True)
    assert checked.valid is True


@pytest.mark.parametrize("code", sorted(_DENIED_STATUS))
def test_refusals_have_forward_auths_statuses(code: str) -> None:
    refused = refusal(Verification(valid=False, code=code, retry_after=3))
    assert refused is not None
    assert refused.status == _DENIED_STATUS[code]
    assert json.loads(refused.body) == {"valid": False, "code": code}
    headers = dict(refused.headers)
    assert ("www-authenticate" in headers) == (refused.status == 401)
    assert ("retry-after" in headers) == (refused.status == 429)


def test_new_codes_and_the_unreachable_console() -> None:
    statuses = {
        code: refusal(Verification(valid=False, code=code)).status  # type: ignore[union-attr]
        for code in (
            "USAGE_EXCEEDED",
            "INSUFFICIENT_PERMISSIONS",
            "FORBIDDEN",
            "UNREACHABLE",
            "SOMETHING_NEW",
        )
    }
    assert statuses == {
        "USAGE_EXCEEDED": 403,
        "INSUFFICIENT_PERMISSIONS": 403,
        "FORBIDDEN": 403,
        "UNREACHABLE": 503,
        "SOMETHING_NEW": 403,  # an unknown refusal is still a refusal
    }
    assert refusal(Verification(valid=True, key_id="key_1")) is None
    assert refusal(Verification.unreachable(allow=True)) is None  # on_unreachable="allow" lets it pass


def test_the_key_is_read_as_the_console_reads_it() -> None:
    assert key_from_headers("Bearer  bpk_1 ", None) == "bpk_1"
    assert key_from_headers("bearer bpk_1", "bpk_2") == "bpk_1"  # Authorization wins
    assert key_from_headers("Basic abc", "bpk_2") is None  # a non-Bearer Authorization: no key
    assert key_from_headers(None, " bpk_2 ") == "bpk_2"
    assert key_from_headers(None, "  ") is None and key_from_headers(None, None) is None
