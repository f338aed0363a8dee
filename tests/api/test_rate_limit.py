"""Per-client rate limiting of the verify route: 429 with Retry-After, and no database work.

Runs the FastAPI app in-process (the live console's limit is set high so other tests never hit it).
"""

from __future__ import annotations

import secrets

import pytest
from fastapi.testclient import TestClient

from rxapp import api as api_module
from rxapp.context import app_context
from rxapp.limiters import RateLimiter


@pytest.fixture()
def limited_client(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.setenv("APIKEYS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("APIKEYS_PEPPER", secrets.token_urlsafe(40))
    app_context.reset()
    with app_context.override(verify_limiter=RateLimiter(per_minute=60)):  # burst of 10
        yield TestClient(api_module.api)
    app_context.reset()


def test_flood_gets_429_with_retry_after(limited_client: TestClient) -> None:
    statuses = [
        limited_client.post("/api/v1/verify", headers={"Authorization": "Bearer garbage"}).status_code
        for _ in range(30)
    ]
    assert statuses[:10] == [200] * 10  # MALFORMED answers, within the burst
    assert statuses[10:] == [429] * 20
    response = limited_client.post("/api/v1/verify", headers={"Authorization": "Bearer garbage"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"] == "RATE_LIMITED"
