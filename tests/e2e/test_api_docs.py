"""/api/docs in a real Chromium: the interactive reference renders every management endpoint from
packaged files, and no request leaves the host (no CDN, no validator badge)."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page, expect

from tests.conftest import Console


def test_api_docs_render_offline_under_the_csp(page: Page, console: Console) -> None:
    host = urlsplit(console.base_url).netloc
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    response = page.goto(f"{console.base_url}/api/docs")
    assert response is not None and response.status == 200
    assert "default-src 'self'" in (response.headers.get("content-security-policy") or "")
    expect(page.locator(".swagger-ui .information-container")).to_be_visible(timeout=30_000)
    for path in (
        "/api/v1/keys",
        "/api/v1/keys/{key_id}/roll",
        "/api/v1/profiles/{profile_id}",
        "/api/v1/audit",
    ):
        expect(page.locator(f".opblock-summary-path[data-path='{path}']").first).to_be_visible()
    expect(page.locator(".btn.authorize")).to_be_visible()  # bearer token scheme documented
    page.wait_for_load_state("networkidle")
    foreign = [url for url in requested if not url.startswith("data:") and urlsplit(url).netloc != host]
    assert foreign == [], foreign
    assert violations == [], violations
    assert any(url.endswith("/api/v1/openapi.json") for url in requested)
