"""Health and OpenAPI schema endpoints."""

from __future__ import annotations

import httpx

from tests.conftest import Console


def test_health_reports_ok_database(console: Console) -> None:
    response = httpx.get(f"{console.base_url}/api/v1/health", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert "database_backend" in body


def test_openapi_schema_lists_verify(console: Console) -> None:
    response = httpx.get(f"{console.base_url}/api/v1/openapi.json", timeout=10)
    assert response.status_code == 200
    schema = response.json()
    assert "/api/v1/verify" in schema["paths"]
    assert "post" in schema["paths"]["/api/v1/verify"]
    assert "/api/v1/health" in schema["paths"]
