"""POST /api/v1/verify: requests that never reach a key lookup get a JSON error, never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import assert_error, assert_invalid, assert_no_traceback
from tests.conftest import Console


def _post(console: Console, path: str = "/api/v1/verify", **kwargs) -> httpx.Response:
    return httpx.post(f"{console.base_url}{path}", timeout=10, **kwargs)


def test_missing_key_is_401(console: Console) -> None:
    assert_error(_post(console), 401, "MISSING_KEY")


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
        {"Authorization": ""},
        {"Authorization": "Token bpk_abc"},
        {"X-API-Key": ""},
    ],
    ids=["basic", "bearer-no-value", "empty-authorization", "other-scheme", "empty-x-api-key"],
)
def test_unusable_credentials_are_401(console: Console, headers: dict[str, str]) -> None:
    assert_error(_post(console, headers=headers), 401, "MISSING_KEY")


@pytest.mark.parametrize(
    "query",
    [
        {"api_key": "anything"},
        {"key": "anything"},
        {"token": "x"},
        {"API_KEY": "x"},
        {"q": "bpk_" + "A" * 38},
        {"whatever": "bpk_short"},
    ],
    ids=["api_key", "key", "token", "upper-case-name", "bpk-value", "bpk-short-value"],
)
def test_key_in_query_string_is_refused_even_with_a_header(console: Console, query: dict[str, str]) -> None:
    secret = console.create_key(console.new_user())
    response = _post(console, params=query, headers={"Authorization": f"Bearer {secret}"})
    assert_error(response, 400, "KEY_IN_URL")
    assert secret not in response.text
    # The same secret in the URL alone is refused too.
    assert_error(_post(console, params={"api_key": secret}), 400, "KEY_IN_URL")


@pytest.mark.parametrize(
    "query",
    [
        "x=%20bpk_" + "A" * 38,
        "x=BPK_" + "A" * 38,
        "x=%09bPk_short%20",
        "%20Api_Key%20=x",
        "bpk_" + "A" * 38,
    ],
    ids=["leading-space", "upper-case-prefix", "mixed-case-tab", "spaced-upper-name", "bare-name"],
)
def test_key_in_url_check_ignores_case_and_surrounding_whitespace(console: Console, query: str) -> None:
    secret = console.create_key(console.new_user())
    for path in ("/api/v1/verify", "/api/v1/authorize"):
        response = _post(console, path=f"{path}?{query}", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 400, (path, response.text)
        body = response.json()
        assert (body.get("error") or body.get("code")) == "KEY_IN_URL"
        assert secret not in response.text


def test_harmless_query_string_is_ignored(console: Console) -> None:
    secret = console.create_key(console.new_user())
    response = _post(console, params={"trace": "1"}, headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 200
    assert response.json()["valid"] is True


@pytest.mark.parametrize("header", ["Authorization", "X-API-Key"])
def test_oversized_credential_header_is_400(console: Console, header: str) -> None:
    value = ("Bearer " if header == "Authorization" else "") + "bpk_" + "A" * 10_000
    assert_error(_post(console, headers={header: value}), 400, "HEADER_TOO_LARGE")


def test_header_just_under_the_limit_is_verified_not_refused(console: Console) -> None:
    value = "bpk_" + "A" * (256 - len("Bearer bpk_"))
    assert len("Bearer " + value) == 256
    assert_invalid(_post(console, headers={"Authorization": f"Bearer {value}"}), "MALFORMED")


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"null",
        b"[1,2",
        b"\xff\xfe\x00",
        b'{"key": "bpk_x"}',
        b"A" * 60_000,
    ],  # 64 KiB cap: see test_security_headers,
    ids=["broken", "empty", "null", "truncated", "binary", "json-key", "large"],
)
def test_a_body_is_checked_and_never_a_500(console: Console, body: bytes) -> None:
    """Verify's body is optional JSON (issue 24: cost, permissions, ratelimits): none is a plain
    verification, anything that is not a JSON object of known fields is a 400, never a 500."""
    headers = {"Content-Type": "application/json"}
    response = _post(console, content=body, headers=headers)
    assert response.status_code < 500, response.text
    assert_error(response, 401, "MISSING_KEY")  # the credential is checked first

    secret = console.create_key(console.new_user())
    response = _post(console, content=body, headers={**headers, "Authorization": f"Bearer {secret}"})
    assert_no_traceback(response)
    if body == b"":
        assert response.status_code == 200, response.text
        assert response.json()["valid"] is True
    else:
        assert_error(response, 400, "INVALID_REQUEST")


def test_both_headers_authorization_wins(console: Console) -> None:
    secret = console.create_key(console.new_user())
    response = _post(console, headers={"Authorization": f"Bearer {secret}", "X-API-Key": "garbage"})
    assert response.json()["valid"] is True
    response = _post(console, headers={"Authorization": "Bearer garbage", "X-API-Key": secret})
    assert_invalid(response, "MALFORMED")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_refused(console: Console, method: str) -> None:
    # The FastAPI app mounts the Reflex app at "" as a catch-all, so a wrong method on an API path
    # falls through to the frontend (404/405 text) instead of the API's own JSON 405. Refused either way.
    response = httpx.request(method, f"{console.base_url}/api/v1/verify", timeout=10)
    assert response.status_code in (404, 405), response.text
    assert "valid" not in response.text
    assert_no_traceback(response)


def test_unknown_api_path_is_a_json_404(console: Console) -> None:
    response = httpx.get(f"{console.base_url}/api/v1/does-not-exist", timeout=10)
    assert response.status_code == 404
    assert_no_traceback(response)


def test_benchmark_noop_is_not_served_by_a_console(console: Console) -> None:
    response = _post(console, path="/api/v1/noop")
    # no such route (the SPA's catch-all refuses the POST): only APIKEYS_BENCH_NOOP=1 serves it
    assert response.status_code in (404, 405)
    assert "NOOP" not in response.text


def test_benchmark_noop_answers_when_switched_on() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from rxapp.api import serve_benchmark_noop

    app = FastAPI()
    serve_benchmark_noop(app)
    response = TestClient(app).post("/api/v1/noop")
    assert response.status_code == 200
    assert response.json() == {"valid": False, "code": "NOOP"}
