"""The fast path (raw ASGI, before FastAPI) and the documented FastAPI twin answer identically.

Every request shape of tests/api/test_verify*.py, plus authorize's, is sent to both in process:
`fast_path_middleware` around an app that fails if it is ever reached, and FastAPI's own routing.
Status, headers and body bytes must match, and so must the side effects (Last Used, rate limit).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session

from rxapp import api as api_module
from rxapp.context import app_context
from rxapp.hotpath import fast_path_middleware, pipeline
from rxapp.limiters import RateLimiter
from rxapp.models import ApiKey
from rxapp.services import key_format
from rxapp.services import keys as key_service
from rxapp.services import profiles as profile_service
from rxapp.services.last_used import LastUsedBuffer
from tests.unit.helpers import Person

IGNORED_HEADERS = {"date", "server"}


async def _must_not_be_reached(scope, receive, send) -> None:
    raise AssertionError(f"the fast path let {scope['method']} {scope['path']} through to the app")


@dataclass
class Keys:
    valid: str
    with_profile: str
    with_end_date: str
    inactive: str
    expired: str
    deleted: str
    key_id: str
    workspace_id: str = ""
    row_ids: dict[str, int] = field(default_factory=dict)


@pytest.fixture(autouse=True)
def _open_limits() -> Iterator[None]:
    """No per-client limit and no trusted proxy, unless a test pins its own."""
    with app_context.override(verify_limiter=RateLimiter(0), proxy_hops=0):
        yield


@pytest.fixture
def keys(engine: sa.Engine, session: Session, alice: Person, monkeypatch: pytest.MonkeyPatch) -> Keys:
    monkeypatch.setattr(pipeline, "get_engine", lambda: engine)
    profile = profile_service.create_profile(
        session,
        alice.access,
        alice.actor,
        "strícter ✓",
        description="Strict checks",
        categories=["gender", "age"],
        sensitivity=0.7,
        action="block",
    )

    def new(name: str, **extra) -> key_service.CreatedKey:
        created = key_service.create_key(session, alice.access, alice.actor, name, **extra)
        session.commit()
        return created

    valid = new("valid")
    with_profile = new("profiled", bias_profile_id=profile.id)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    with_end_date = new("dated", expires_at=soon.replace(microsecond=0))
    inactive = new("inactive")
    key_service.update_key(
        session,
        alice.access,
        alice.actor,
        inactive.key.key_id,
        key_service.parse_changes({"status": "INACTIVE"}),
    )
    expired = new("expired", expires_at=soon)
    session.execute(
        sa.update(ApiKey)
        .where(ApiKey.key_id == expired.key.key_id)
        .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    )
    deleted = new("deleted")
    key_service.delete_key(session, alice.access, alice.actor, deleted.key.key_id)
    session.commit()
    row_ids = dict(session.execute(sa.select(ApiKey.key_id, ApiKey.id)).all())
    return Keys(
        valid=valid.secret,
        with_profile=with_profile.secret,
        with_end_date=with_end_date.secret,
        inactive=inactive.secret,
        expired=expired.secret,
        deleted=deleted.secret,
        key_id=valid.key.key_id,
        workspace_id=alice.access.workspace_public_id,
        row_ids={"valid": row_ids[valid.key.key_id]},
    )


@pytest.fixture
def clients() -> Iterator[tuple[TestClient, TestClient]]:
    fast = TestClient(fast_path_middleware(_must_not_be_reached), raise_server_exceptions=False)
    twin = TestClient(api_module.api, raise_server_exceptions=False)
    yield fast, twin
    fast.close()
    twin.close()


def _shape(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((k.lower(), v) for k, v in response.headers.items() if k.lower() not in IGNORED_HEADERS)
    return response.status_code, headers, response.content


def _both(clients, method: str, url: str, **kwargs) -> httpx.Response:
    fast, twin = clients
    fast_answer = fast.request(method, url, **kwargs)
    twin_answer = twin.request(method, url, **kwargs)
    assert _shape(fast_answer) == _shape(twin_answer), (method, url, kwargs)
    return fast_answer


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


MALFORMED = [
    "garbage",
    "x",
    "bpk_",
    "bpk_tooShort123",
    "sk_live_" + "A" * 38,
    "BPK_" + "A" * 38,
    "bpk_" + "A" * 37,
    "bpk_" + "A" * 39,
    "bpk_" + "!" * 38,
    "bpk_" + "A" * 200,
]
UNUSABLE_HEADERS = [
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer"},
    {"Authorization": ""},
    {"Authorization": "Token bpk_abc"},
    {"X-API-Key": ""},
    {},
]
KEY_IN_URL_QUERIES = [
    "api_key=anything",
    "key=anything",
    "token=x",
    "API_KEY=x",
    "q=bpk_" + "A" * 38,
    "whatever=bpk_short",
    "x=%20bpk_" + "A" * 38,  # leading whitespace (issue 8)
    "x=BPK_" + "A" * 38,  # upper-case prefix (issue 8)
    "x=bPk_short",
    "x=+%09bpk_short%20",
    "%20Api_Key%20=x",
    "bpk_" + "A" * 38,  # the key as a bare parameter name
]
BODIES = [b"{not json", b"", b"null", b"[1,2", b"\xff\xfe\x00", b'{"key": "bpk_x"}', b"A" * 60_000]
ENDPOINTS = [("POST", "/api/v1/verify"), ("GET", "/api/v1/authorize"), ("POST", "/api/v1/authorize")]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_every_case_answers_the_same_on_both_paths(keys: Keys, clients, method: str, path: str) -> None:
    is_verify = path.endswith("/verify")
    for secret in (keys.valid, keys.with_profile, keys.with_end_date):
        answer = _both(clients, method, path, headers=_bearer(secret))
        assert answer.status_code == 200
        assert answer.json()["valid"] is True
    for header in ("X-API-Key", "x-api-key"):
        assert _both(clients, method, path, headers={header: keys.valid}).json()["valid"] is True
    assert _both(clients, method, path, headers={"Authorization": f"bearer {keys.valid}"}).status_code == 200
    for secret, code, denied in [
        (keys.inactive, "INACTIVE", 403),
        (keys.expired, "EXPIRED", 403),
        (keys.deleted, "NOT_FOUND", 401),
        (key_format.generate_secret("bpk"), "NOT_FOUND", 401),
        (keys.key_id, "MALFORMED", 401),
        *[(bad, "MALFORMED", 401) for bad in MALFORMED],
    ]:
        answer = _both(clients, method, path, headers={"X-API-Key": secret})
        assert answer.status_code == (200 if is_verify else denied)
        assert answer.json() == {"valid": False, "code": code}
    for headers in UNUSABLE_HEADERS:
        answer = _both(clients, method, path, headers=headers)
        assert answer.status_code == 401
        assert (answer.json().get("error") or answer.json().get("code")) == "MISSING_KEY"
    for query in KEY_IN_URL_QUERIES:
        answer = _both(clients, method, f"{path}?{query}", headers=_bearer(keys.valid))
        assert answer.status_code == 400, query
        assert (answer.json().get("error") or answer.json().get("code")) == "KEY_IN_URL"
        assert keys.valid not in answer.text
    assert _both(clients, method, f"{path}?trace=1&page=2", headers=_bearer(keys.valid)).status_code == 200
    for header in ("Authorization", "X-API-Key"):
        value = ("Bearer " if header == "Authorization" else "") + "bpk_" + "A" * 10_000
        assert _both(clients, method, path, headers={header: value}).status_code == 400
    just_under = "bpk_" + "A" * (256 - len("Bearer bpk_"))
    assert _both(clients, method, path, headers=_bearer(just_under)).json()["code"] == "MALFORMED"
    both_headers = {"Authorization": f"Bearer {keys.valid}", "X-API-Key": "garbage"}
    assert _both(clients, method, path, headers=both_headers).json()["valid"] is True
    if method == "POST":
        for body in BODIES:
            sent = {"content": body, "headers": {"Content-Type": "application/json", **_bearer(keys.valid)}}
            answer = _both(clients, method, path, **sent)
            if not is_verify or body == b"":  # authorize ignores a body; verify's is optional
                assert answer.json()["valid"] is True, body
            else:  # verify's body (issue 24) is a JSON object of known fields, or a 400
                assert answer.status_code == 400 and answer.json()["error"] == "INVALID_REQUEST", body


def test_verify_says_whose_key_it_is_and_nothing_more(keys: Keys, clients) -> None:
    body = _both(clients, "POST", "/api/v1/verify", headers=_bearer(keys.valid)).json()
    assert body["workspace_id"] == keys.workspace_id and body["workspace_id"].startswith("ws_")
    assert body["workspace_name"] == "Personal"
    assert set(body) == {
        "valid",
        "key_id",
        "status",
        "expires_at",
        "bias_profile",
        "workspace_id",
        "workspace_name",
    }
    denied = _both(clients, "POST", "/api/v1/verify", headers=_bearer(keys.inactive)).json()
    assert "workspace_id" not in denied


def test_authorize_identity_headers(keys: Keys, clients) -> None:
    answer = _both(clients, "GET", "/api/v1/authorize", headers=_bearer(keys.with_profile))
    assert answer.status_code == 200
    assert answer.headers["x-key-id"].startswith("key_")
    assert unquote(answer.headers["x-bias-profile"]) == "strícter ✓"
    encoded = answer.headers["x-bias-profile-settings"]
    settings = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert settings == {
        "id": settings["id"],
        "categories": ["gender", "age"],
        "sensitivity": 0.7,
        "action": "block",
    }
    assert answer.headers["cache-control"] == "no-store"
    plain = _both(clients, "GET", "/api/v1/authorize", headers=_bearer(keys.valid))
    assert plain.headers["x-key-id"] == keys.key_id
    assert plain.headers["x-workspace-id"] == keys.workspace_id
    assert (
        "x-workspace-id"
        not in _both(clients, "GET", "/api/v1/authorize", headers=_bearer(keys.deleted)).headers
    )
    assert (plain.headers["x-bias-profile"], plain.headers["x-bias-profile-settings"]) == ("", "")
    denied = _both(clients, "GET", "/api/v1/authorize", headers=_bearer(keys.deleted))
    assert denied.headers["www-authenticate"] == 'Bearer realm="api", error="invalid_token"'
    assert "x-key-id" not in denied.headers
    missing = _both(clients, "GET", "/api/v1/authorize")
    assert missing.headers["www-authenticate"] == 'Bearer realm="api"'


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_authorize_takes_any_method_and_envoy_path_prefix(keys: Keys, clients, method: str) -> None:
    for path in ("/api/v1/authorize", "/api/v1/authorize/orders/17"):
        assert _both(clients, method, path, headers=_bearer(keys.valid)).status_code == 200
        assert _both(clients, method, path, headers=_bearer(keys.inactive)).status_code == 403
    assert (
        _both(clients, "GET", "/api/v1/authorize/orders?api_key=x", headers=_bearer(keys.valid)).status_code
        == 400
    )


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_rate_limit_and_trusted_proxy_hop_are_the_same(
    keys: Keys, clients, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    """Burst of one per client; with one trusted hop the client is X-Forwarded-For's last entry."""
    answers = []
    for client in clients:
        with app_context.override(verify_limiter=RateLimiter(per_minute=6), proxy_hops=1):
            first = client.request(
                method, path, headers={**_bearer(keys.valid), "X-Forwarded-For": "1.1.1.1, 203.0.113.9"}
            )
            other = client.request(
                method, path, headers={**_bearer(keys.valid), "X-Forwarded-For": "203.0.113.10"}
            )
            again = client.request(
                method, path, headers={**_bearer(keys.valid), "X-Forwarded-For": "9.9.9.9, 203.0.113.9"}
            )
        answers.append([_shape(first), _shape(other), _shape(again)])
        assert (first.status_code, other.status_code, again.status_code) == (200, 200, 429)
        assert int(again.headers["retry-after"]) >= 1
        assert (again.json().get("error") or again.json().get("code")) == "RATE_LIMITED"
    assert answers[0] == answers[1]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_last_used_is_recorded_only_for_valid_keys_on_both_paths(
    keys: Keys, clients, monkeypatch: pytest.MonkeyPatch, method: str, path: str
) -> None:
    for client in clients:
        buffer = LastUsedBuffer()
        monkeypatch.setattr(pipeline, "last_used_buffer", buffer)
        for secret in (keys.inactive, keys.expired, keys.deleted):
            client.request(method, path, headers=_bearer(secret))
        assert buffer.pending() == 0
        client.request(method, path, headers=_bearer(keys.valid))
        assert buffer.pending() == 1
        assert list(buffer._pending) == [keys.row_ids["valid"]]


def test_revocation_is_seen_at_once_by_both_paths(
    keys: Keys, clients, session: Session, alice: Person
) -> None:
    for method, path in ENDPOINTS:
        assert _both(clients, method, path, headers=_bearer(keys.valid)).status_code == 200
    key_service.update_key(
        session, alice.access, alice.actor, keys.key_id, key_service.parse_changes({"status": "INACTIVE"})
    )
    session.commit()
    assert _both(clients, "POST", "/api/v1/verify", headers=_bearer(keys.valid)).json()["code"] == "INACTIVE"
    assert _both(clients, "GET", "/api/v1/authorize", headers=_bearer(keys.valid)).status_code == 403
    key_service.delete_key(session, alice.access, alice.actor, keys.key_id)
    session.commit()
    assert _both(clients, "POST", "/api/v1/verify", headers=_bearer(keys.valid)).json()["code"] == "NOT_FOUND"
    assert _both(clients, "GET", "/api/v1/authorize", headers=_bearer(keys.valid)).status_code == 401


def test_a_database_failure_is_the_same_500_on_both_paths(
    keys: Keys, clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(engine: sa.Engine) -> object:
        raise sa.exc.OperationalError("SELECT", {}, Exception("database is gone"))

    monkeypatch.setattr(pipeline, "lookup_for", broken)
    for method, path in ENDPOINTS:
        answer = _both(clients, method, path, headers=_bearer(keys.valid))
        assert answer.status_code == 500
        assert answer.json() == {"error": "INTERNAL_ERROR", "message": "The request could not be processed."}
        assert "database is gone" not in answer.text


def test_other_paths_and_methods_pass_through(keys: Keys) -> None:
    reached: list[str] = []

    async def inner(scope, receive, send) -> None:
        reached.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    client = TestClient(fast_path_middleware(inner))
    for method, path in [
        ("GET", "/api/v1/verify"),
        ("POST", "/api/v1/verify/"),
        ("POST", "/api/v1/noop"),
        ("GET", "/api/v1/authorized"),
        ("GET", "/keys"),
    ]:
        assert client.request(method, path, headers=_bearer(keys.valid)).status_code == 204
    assert len(reached) == 5


def test_every_answer_reports_its_outcome_to_the_metrics_hook(
    keys: Keys, clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rxapp.hotpath as hotpath

    seen: list[tuple[str, str]] = []
    monkeypatch.setattr(hotpath, "observe", lambda endpoint, code, seconds: seen.append((endpoint, code)))
    fast, twin = clients
    for client in (fast, twin):
        client.post("/api/v1/verify", headers=_bearer(keys.valid))
        client.get("/api/v1/authorize", headers=_bearer(keys.inactive))
        client.get("/api/v1/authorize")
    assert seen == [("verify", "VALID"), ("authorize", "INACTIVE"), ("authorize", "MISSING_KEY")] * 2


def test_outermost_answers_before_reflex_unless_a_browser_origin_is_sent(keys: Keys) -> None:
    from rxapp.hotpath import outermost

    reached: list[str] = []

    async def reflex_stack(scope, receive, send) -> None:
        reached.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    client = TestClient(outermost(reflex_stack, fast_path_middleware(_must_not_be_reached)))
    assert client.post("/api/v1/verify", headers=_bearer(keys.valid)).json()["valid"] is True
    assert client.get("/api/v1/authorize/a/b", headers=_bearer(keys.valid)).status_code == 200
    assert reached == []
    with_origin = {**_bearer(keys.valid), "Origin": "http://localhost:3000"}
    assert client.post("/api/v1/verify", headers=with_origin).status_code == 299
    assert client.get("/api/v1/verify", headers=_bearer(keys.valid)).status_code == 299
    assert client.get("/keys").status_code == 299
    assert reached == ["/api/v1/verify", "/api/v1/verify", "/keys"]


def test_answer_bytes_are_what_starlette_would_render() -> None:
    """The fast path renders with orjson; the bytes must equal JSONResponse's for every shape of
    answer (non-ASCII names, the sensitivity float, nulls, booleans, lists)."""
    from starlette.responses import JSONResponse

    from rxapp.hotpath.answers import _json

    profile = {
        "id": 7,
        "name": 'Prüfung 🚀 "q" \\ </script>',
        "categories": ["gender", "âge"],
        "action": "flag",
    }
    bodies = [
        {"valid": False, "code": "NOT_FOUND"},
        {"valid": False, "code": "RATE_LIMITED", "retry_after": 12},
        {"error": "MALFORMED", "message": "The key is not a well-formed API key."},
        *(
            {
                "valid": True,
                "key_id": "key_abcdefghijklmnop",
                "status": "ACTIVE",
                "expires_at": expires,
                "bias_profile": {**profile, "sensitivity": sensitivity} if sensitivity is not None else None,
                "workspace_id": "ws_abcdefghijklmnop",
                "workspace_name": "Équipe paiements",
            }
            for sensitivity in (None, 0.0, 0.7, 1.0, 0.333)
            for expires in (None, "2030-01-01T00:00:00+00:00")
        ),
    ]
    for body in bodies:
        assert _json(body) == JSONResponse(body).body, body


def test_the_direct_entry_answers_as_the_layered_one(keys: Keys) -> None:
    """`direct_fast_path` (production, access logging off) is `security_middleware` around
    `fast_path_middleware` in one call: same status, headers (the security headers included) and
    body for every shape, the body cap (its 413 as bare as before) included; rate-limited answers
    carry Retry-After beside them."""
    from rxapp.hotpath import direct_fast_path, outermost
    from rxapp.security import security_middleware

    direct = TestClient(outermost(_must_not_be_reached, direct_fast_path()), raise_server_exceptions=False)
    layered = TestClient(
        outermost(_must_not_be_reached, security_middleware(fast_path_middleware(_must_not_be_reached))),
        raise_server_exceptions=False,
    )
    requests: list[tuple[str, str, dict]] = [
        ("POST", "/api/v1/verify", {"headers": _bearer(keys.valid)}),
        ("POST", "/api/v1/verify", {"headers": _bearer(keys.with_profile)}),
        ("POST", "/api/v1/verify", {"headers": _bearer(keys.inactive)}),
        ("POST", "/api/v1/verify", {"headers": {}}),
        ("POST", "/api/v1/verify", {"headers": _bearer(keys.valid), "json": {"cost": 0}}),
        ("POST", "/api/v1/verify", {"headers": _bearer(keys.valid), "json": {"unknown": 1}}),
        ("POST", "/api/v1/verify", {"headers": _bearer(keys.valid), "content": b"x" * (65 * 1024)}),
        ("GET", "/api/v1/authorize", {"headers": _bearer(keys.valid)}),
        ("GET", "/api/v1/authorize/a/b", {"headers": _bearer(keys.expired)}),
        ("DELETE", "/api/v1/authorize", {"headers": {}}),
    ]
    try:
        for method, url, options in requests:
            first = _shape(direct.request(method, url, **options))
            second = _shape(layered.request(method, url, **options))
            assert first == second, (method, url)
            assert first[0] == 413 or ("x-frame-options", "DENY") in first[1]
        # a body without a Content-Length is counted as it arrives, and refused past the cap
        chunked = [
            client.post("/api/v1/verify", headers=_bearer(keys.valid), content=iter([b" " * 40_000] * 2))
            for client in (direct, layered)
        ]
        assert chunked[0].status_code == chunked[1].status_code == 500
        with app_context.override(verify_limiter=RateLimiter(1)):
            answers = [
                client.post("/api/v1/verify", headers=_bearer(keys.valid)) for client in (direct, layered) * 2
            ]
        assert [answer.status_code for answer in answers] == [200, 429, 429, 429]
        assert _shape(answers[2]) == _shape(answers[3])
        assert answers[2].headers["retry-after"] and answers[2].headers["x-frame-options"] == "DENY"
    finally:
        direct.close()
        layered.close()
