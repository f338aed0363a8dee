"""The Python client's integrations, each in a tiny app of its framework, calling the real console:
the FastAPI dependency, the ASGI middleware, the Django middleware and the Flask decorator put the
verification on the request and refuse as the console's forward auth (`/api/v1/authorize`) does,
which every case below compares with the console's own answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType

import django
import flask
import httpx
import pytest
from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.test import Client as DjangoClient
from django.test import override_settings
from django.urls import path
from fastapi import Depends, FastAPI, Request
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient
from starlette.websockets import WebSocket, WebSocketDisconnect

from keyconsole import AsyncClient, Client, Verification
from keyconsole.asgi import KeyMiddleware
from keyconsole.fastapi import RequireKey
from keyconsole.flask import require_key
from rxapp.services.key_format import generate_secret
from tests.api.conftest import key_row
from tests.api.keyconsole_helpers import Keys, make_keys
from tests.conftest import Console
from tests.harness import free_port


@dataclass(frozen=True)
class Reply:
    status: int
    headers: Mapping[str, str]  # case-insensitive
    body: dict


Get = Callable[[dict[str, str]], Reply]  # headers -> the app's reply


@pytest.fixture
def keys(console: Console) -> Keys:
    return make_keys(console)


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def _authorize(console: Console, headers: dict[str, str]) -> httpx.Response:
    return httpx.get(f"{console.base_url}/api/v1/authorize", headers=headers, timeout=10)


def _assert_guarded(console: Console, keys: Keys, get: Get, down: Get) -> None:
    """What every integration answers, beside what the console's forward auth answers."""
    key_id = key_row(console, keys.email, keys.valid).key_id
    ok = get({"Authorization": f"Bearer {keys.valid}"})
    assert (ok.status, ok.body) == (200, {"key_id": key_id, "workspace_name": "Personal"})
    assert get({"X-API-Key": keys.valid}).status == 200

    cases = {
        "MISSING_KEY": {},
        "NOT_FOUND": {"Authorization": f"Bearer {generate_secret('bpk')}"},
        "MALFORMED": {"X-API-Key": "bpk_not-a-key"},
        "INACTIVE": {"Authorization": f"Bearer {keys.inactive}"},
    }
    for code, headers in cases.items():
        reply, gateway = get(headers), _authorize(console, headers)
        assert reply.status == gateway.status_code, (code, reply)
        assert reply.body == {"valid": False, "code": code} == gateway.json()
        assert reply.headers.get("www-authenticate") == gateway.headers.get("www-authenticate")
    assert get({}).headers["www-authenticate"] == 'Bearer realm="api"'
    assert get(cases["INACTIVE"]).status == 403

    limited = {"Authorization": f"Bearer {keys.limited}"}
    assert get(limited).status == 200
    refused = get(limited)
    assert (refused.status, refused.body) == (429, {"valid": False, "code": "RATE_LIMITED"})
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert _authorize(console, limited).status_code == 429

    unreachable = down({"Authorization": f"Bearer {keys.valid}"})
    assert (unreachable.status, unreachable.body) == (503, {"valid": False, "code": "UNREACHABLE"})


# ---------------------------------------------------------------- FastAPI: a dependency


def test_fastapi_dependency(console: Console, keys: Keys) -> None:
    app = FastAPI()
    require = RequireKey(console.base_url)
    require_down = RequireKey(AsyncClient(_closed_port_url(), retries=0))

    @app.get("/documents")
    async def documents(request: Request, verification: Verification = Depends(require)) -> dict:
        assert request.state.key_verification is verification
        return {"key_id": verification.key_id, "workspace_name": verification.workspace_name}

    @app.get("/down")
    async def down(verification: Verification = Depends(require_down)) -> dict:
        return {}

    with TestClient(app) as http:

        def reply(url: str) -> Get:
            def get(headers: dict[str, str]) -> Reply:
                response = http.get(url, headers=headers)
                body = response.json()
                return Reply(response.status_code, response.headers, body.get("detail", body))

            return get

        _assert_guarded(console, keys, reply("/documents"), reply("/down"))


# ---------------------------------------------------------------- any ASGI app: a middleware


async def _starlette_documents(request: StarletteRequest) -> JSONResponse:
    verification = request.state.key_verification
    return JSONResponse({"key_id": verification.key_id, "workspace_name": verification.workspace_name})


async def _starlette_health(request: StarletteRequest) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def _starlette_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_json({"key_id": websocket.state.key_verification.key_id})
    await websocket.close()


def _starlette_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/documents", _starlette_documents),
            Route("/healthz", _starlette_health),
            WebSocketRoute("/socket", _starlette_socket),
        ]
    )


def test_asgi_middleware(console: Console, keys: Keys) -> None:
    app = KeyMiddleware(_starlette_app(), console.base_url, exclude_paths=("/healthz",))
    down_app = KeyMiddleware(_starlette_app(), AsyncClient(_closed_port_url(), retries=0))
    with TestClient(app) as http, TestClient(down_app) as down_http:

        def reply(client: TestClient) -> Get:
            def get(headers: dict[str, str]) -> Reply:
                response = client.get("/documents", headers=headers)
                return Reply(response.status_code, response.headers, response.json())

            return get

        _assert_guarded(console, keys, reply(http), reply(down_http))
        assert http.get("/healthz").text == "ok"  # excluded: no key asked

        key_id = key_row(console, keys.email, keys.valid).key_id
        with http.websocket_connect("/socket", headers={"X-API-Key": keys.valid}) as socket:
            assert socket.receive_json() == {"key_id": key_id}
        with pytest.raises(WebSocketDisconnect) as closed, http.websocket_connect("/socket"):
            pass
        assert closed.value.code == 1008


# ---------------------------------------------------------------- Django: a middleware


def _django_documents(request: HttpRequest) -> JsonResponse:
    verification = request.key_verification  # type: ignore[attr-defined]
    return JsonResponse({"key_id": verification.key_id, "workspace_name": verification.workspace_name})


def _django_health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


_DJANGO_URLS = ModuleType("keyconsole_test_urls")  # a URLconf module (hashable: Django caches by it)
_DJANGO_URLS.urlpatterns = [path("documents", _django_documents), path("healthz", _django_health)]  # type: ignore[attr-defined]


def _django() -> None:
    """Minimal settings, once per process: no database, no apps, this module's two views."""
    if not settings.configured:
        settings.configure(
            DEBUG=False,
            SECRET_KEY="keyconsole-tests-" + "x" * 40,
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF=_DJANGO_URLS,
            MIDDLEWARE=["keyconsole.django.KeyMiddleware"],
            INSTALLED_APPS=[],
            DATABASES={},
        )
        django.setup()


def test_django_middleware(console: Console, keys: Keys) -> None:
    _django()

    def reply(config: dict) -> Get:
        with override_settings(KEYCONSOLE=config):
            http = DjangoClient()
            http.get("/healthz")  # loads the middleware with these settings

        def get(headers: dict[str, str]) -> Reply:
            response = http.get("/documents", headers=headers)
            return Reply(response.status_code, response.headers, json.loads(response.content))

        return get

    exempt = ["/healthz"]
    _assert_guarded(
        console,
        keys,
        reply({"URL": console.base_url, "EXEMPT_PATHS": exempt}),
        reply({"URL": _closed_port_url(), "RETRIES": 0, "EXEMPT_PATHS": exempt}),
    )


# ---------------------------------------------------------------- Flask: a decorator


def test_flask_decorator(console: Console, keys: Keys) -> None:
    app = flask.Flask(__name__)
    app.config["KEYCONSOLE_URL"] = console.base_url

    @app.get("/documents")
    @require_key
    def documents() -> dict:
        verification = flask.g.key_verification
        return {"key_id": verification.key_id, "workspace_name": verification.workspace_name}

    @app.get("/down")
    @require_key(client=Client(_closed_port_url(), retries=0))
    def down() -> dict:
        return {}

    http = app.test_client()

    def reply(url: str) -> Get:
        def get(headers: dict[str, str]) -> Reply:
            response = http.get(url, headers=headers)
            return Reply(response.status_code, response.headers, response.get_json())

        return get

    _assert_guarded(console, keys, reply("/documents"), reply("/down"))
