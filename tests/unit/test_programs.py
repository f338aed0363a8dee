"""Programmable keys' pure parts: the permission query parser (AND / OR / parentheses, malformed
→ INVALID_PERMISSION_QUERY), CIDR matching (IPv4, IPv6, mapped addresses) with the caller seen
through the trusted proxy hops, the verify body, field validation codes and the named limiter."""

from __future__ import annotations

import pytest

from rxapp.client_address import client_address_from
from rxapp.context import app_context
from rxapp.hotpath.program import VerifyRequest, parse_body
from rxapp.hotpath.request_rules import Decision
from rxapp.limiters import MemoryNamedLimiter
from rxapp.services import permission_query, programs
from rxapp.services.errors import ValidationError
from tests.unit.helpers import run_async

# ---------------------------------------------------------------- the permission query


@pytest.mark.parametrize(
    ("query", "held", "expected"),
    [
        ("documents.read", {"documents.read"}, True),
        ("documents.read", set(), False),
        ("a AND b", {"a", "b"}, True),
        ("a AND b", {"a"}, False),
        ("a OR b", {"b"}, True),
        ("a or b", {"b"}, True),  # keywords in any case
        ("a OR b AND c", {"a"}, True),  # AND binds tighter
        ("a OR b AND c", {"b"}, False),
        ("(a OR b) AND c", {"a"}, False),
        ("(a OR b) AND c", {"b", "c"}, True),
        ("documents.read AND (documents.write OR admin)", {"documents.read", "admin"}, True),
        ("documents.read AND (documents.write OR admin)", {"documents.write", "admin"}, False),
        ("((a))", {"a"}, True),
        ("  a  AND(b)  ", {"a", "b"}, True),
        ("api:v1/*", {"api:v1/*"}, True),
    ],
)
def test_queries_are_evaluated(query: str, held: set[str], expected: bool) -> None:
    assert permission_query.satisfied(permission_query.parse(query), frozenset(held)) is expected


@pytest.mark.parametrize(
    "query",
    ["", "   ", "a AND", "AND a", "a OR OR b", "(a", "a)", "()", "a b", "a & b", "a AND (b OR)", "x" * 1001,
     "(" * 20 + "a" + ")" * 20],
)  # fmt: skip
def test_malformed_queries_are_refused_with_a_code(query: str) -> None:
    with pytest.raises(ValidationError) as refused:
        permission_query.parse(query)
    assert refused.value.code == "INVALID_PERMISSION_QUERY"


# ---------------------------------------------------------------- CIDR matching


def _networks(*cidrs: str) -> tuple:
    program = programs.program_from({"ip_allow": programs.check_ip_allow(list(cidrs))})
    assert program is not None
    return program.networks


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("10.1.2.3", True),
        ("10.255.255.255", True),
        ("11.0.0.1", False),
        ("192.0.2.7", True),  # a bare address is its /32
        ("192.0.2.8", False),
        ("2001:db8::1", True),
        ("2001:db9::1", False),
        ("::ffff:10.0.0.1", True),  # an IPv4-mapped IPv6 address is its IPv4 address
        ("", False),
        ("not-an-ip", False),
    ],
)
def test_cidr_matching(address: str, allowed: bool) -> None:
    networks = _networks("10.0.0.0/8", "192.0.2.7", "2001:db8::/32")
    assert programs.ip_allowed(address, networks) is allowed


def test_the_caller_is_the_entry_the_trusted_hops_wrote() -> None:
    networks = _networks("203.0.113.0/24")
    with app_context.override(proxy_hops=1):
        caller = client_address_from(("127.0.0.1", 5000), "198.51.100.1, 203.0.113.9")
        assert programs.ip_allowed(caller, networks)
        spoofed = client_address_from(("127.0.0.1", 5000), "203.0.113.9, 198.51.100.1")
        assert not programs.ip_allowed(spoofed, networks)
    with app_context.override(proxy_hops=2):
        caller = client_address_from(("127.0.0.1", 5000), "203.0.113.9, 10.0.0.1")
        assert programs.ip_allowed(caller, networks)
    with app_context.override(proxy_hops=0):  # no trusted proxy: the header is ignored
        assert not programs.ip_allowed(client_address_from(("127.0.0.1", 5000), "203.0.113.9"), networks)


def test_bad_cidrs_are_refused() -> None:
    for bad in (["300.0.0.1"], ["10.0.0.0/33"], ["nonsense"], "10.0.0.0/8"):
        with pytest.raises(ValidationError) as refused:
            programs.check_ip_allow(bad)
        assert refused.value.code == "BAD_IP_ALLOW"
    assert programs.check_ip_allow(["10.1.2.3/8", "10.0.0.0/8"]) == ["10.0.0.0/8"]


# ---------------------------------------------------------------- the verify body and the fields


def test_the_verify_body() -> None:
    assert parse_body(b"") == VerifyRequest()
    parsed = parse_body(b'{"cost": 0, "permissions": "a OR b", "ratelimits": [{"name": "r", "cost": 2}]}')
    assert parsed == VerifyRequest(0, ("OR", "a", "b"), (("r", 2),))
    for body in (b'{"cost": true}', b'{"x": 1}', b"[]", b"{", b'{"ratelimits": {}}', b'{"permissions": 1}'):
        refused = parse_body(body)
        assert isinstance(refused, Decision) and refused.http_status == 400, body


def test_field_validation_codes() -> None:
    cases = [
        (programs.check_credits, -1, "BAD_CREDITS"),
        (programs.check_refill, {"amount": 1, "interval": "week"}, "BAD_REFILL"),
        (programs.check_refill, {"amount": 1, "interval": "day", "day": 3}, "BAD_REFILL"),
        (programs.check_ratelimits, [{"name": "r", "limit": 1, "duration": 500}], "BAD_RATELIMIT"),
        (programs.check_ratelimits, [{"name": "r", "limit": 1, "duration": 90_000_000}], "BAD_RATELIMIT"),
        (programs.check_ratelimits, [{"name": "r", "limit": 1, "duration": 1000}] * 2, "BAD_RATELIMIT"),
        (programs.check_permissions, ["has space"], "BAD_PERMISSION"),
        (programs.check_permissions, ["AND"], "BAD_PERMISSION"),
        (programs.check_meta, {"x": "y" * 5000}, "BAD_META"),
        (programs.check_meta, [1], "BAD_META"),
        (programs.check_external_id, "", "BAD_IDENTITY"),
    ]
    for check, value, code in cases:
        with pytest.raises(ValidationError) as refused:
            check(value)
        assert refused.value.code == code, (check, value)
    assert programs.parse_refill_text("10000/month@15") == {"amount": 10000, "interval": "month", "day": 15}
    assert programs.parse_refill_text("5/day") == {"amount": 5, "interval": "day", "day": None}
    assert programs.parse_limit_text("requests=100/1m") == {
        "name": "requests",
        "limit": 100,
        "duration": 60_000,
    }
    assert (
        programs.check_ratelimits([{"name": "r", "limit": 1, "duration": "1h"}])[0]["duration"] == 3_600_000
    )


def test_a_key_without_features_stores_no_program() -> None:
    empty = programs.stored_program(
        credits=False, permissions=[], meta=None, ip_allow=[], ratelimits=[], identity_id=None
    )
    assert empty is None
    assert programs.program_from(None) is None and programs.program_from("null") is None


# ---------------------------------------------------------------- the in-memory named limiter


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_named_windows_are_exact_and_all_or_nothing() -> None:
    clock = _Clock()
    limiter = MemoryNamedLimiter(clock)
    run = run_async  # its own thread: in a full run Playwright owns this thread's event loop
    both = [("k1:a", 3, 60_000, 1), ("i1:b", 2, 60_000, 1)]
    assert run(limiter.take(both))[0] and run(limiter.take(both))[0]
    ok, _, wait = run(limiter.take(both))
    assert not ok and wait == 60
    ok, taken, _ = run(limiter.take([("k1:a", 3, 60_000, 1)]))  # "b" refused: "a" was not used up
    assert ok and taken[0][0] == 0
    clock.now += 30
    assert run(limiter.take([("k1:a", 3, 60_000, 1)]))[2] == 30
    clock.now += 30
    assert run(limiter.take(both))[0]  # a new window
    ok, taken, _ = run(limiter.take([("k1:c", 10, 1000, 0)]))  # cost 0: reported, not taken
    assert ok and taken[0][0] == 10
