"""The fast path over real HTTP: answered ahead of Reflex's own stack, yet with the same security
headers, body cap and CORS behaviour as every other response."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import EXTRA_ORIGIN, Console

ENDPOINTS = [("POST", "/api/v1/verify"), ("GET", "/api/v1/authorize"), ("POST", "/api/v1/authorize/x/y")]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
@pytest.mark.parametrize("with_origin", [False, True], ids=["no-origin", "allowed-origin"])
def test_security_headers_and_cors_as_on_every_response(
    console: Console, method: str, path: str, with_origin: bool
) -> None:
    secret = console.create_key(console.new_user())
    origin = EXTRA_ORIGIN  # the allowlisted foreign origin: CORS answers it
    headers = {"Authorization": f"Bearer {secret}", **({"Origin": origin} if with_origin else {})}
    response = httpx.request(method, f"{console.base_url}{path}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is True
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert "strict-transport-security" not in response.headers
    if with_origin:
        assert response.headers["access-control-allow-origin"] == origin
    else:
        assert "access-control-allow-origin" not in response.headers
    over_https = httpx.request(
        method, f"{console.base_url}{path}", headers={**headers, "X-Forwarded-Proto": "https"}, timeout=10
    )
    assert "max-age=" in over_https.headers["strict-transport-security"]


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/v1/verify"), ("POST", "/api/v1/authorize")])
def test_body_cap_still_applies(console: Console, method: str, path: str) -> None:
    response = httpx.request(method, f"{console.base_url}{path}", content=b"x" * (256 * 1024), timeout=10)
    assert response.status_code == 413
    assert response.json()["error"] == "PAYLOAD_TOO_LARGE"


def test_head_and_other_methods_on_authorize_keep_the_connection_usable(console: Console) -> None:
    secret = console.create_key(console.new_user())
    with httpx.Client(base_url=console.base_url, timeout=10) as client:  # one keep-alive connection
        for method in ("HEAD", "GET", "OPTIONS", "DELETE", "HEAD", "POST"):
            response = client.request(
                method, "/api/v1/authorize", headers={"Authorization": f"Bearer {secret}"}
            )
            assert response.status_code == 200, (method, response.text)
            assert response.headers["x-key-id"].startswith("key_")
            if method == "HEAD":
                assert response.content == b""
            else:
                assert response.json() == {"valid": True, "key_id": response.headers["x-key-id"]}
        denied = client.head("/api/v1/authorize", headers={"Authorization": "Bearer nope"})
        assert denied.status_code == 401
        assert denied.content == b""
