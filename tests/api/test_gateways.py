"""Real gateways in front of a recording upstream, configured with the documented recipes.

Debian's nginx (`auth_request`) and Caddy (`forward_auth`) run on loopback with
docs/gateways/nginx.conf and docs/gateways/Caddyfile, only their addresses replaced. The upstream
records every request that reaches it: a bogus key must never get there, a valid one must, and the
upstream must learn which key (and which Bias Profile) it was.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from rxapp.limiters import RateLimiter
from rxapp.services.key_format import generate_secret
from tests.api.conftest import key_row, utc_in, wait_for
from tests.conftest import ROOT, Console, free_port

DOCS = ROOT / "docs" / "gateways"
IDENTITY = ("x-key-id", "x-bias-profile", "x-bias-profile-settings")


class Upstream:
    """The protected service: answers 200 "upstream ok" and remembers the headers it was sent."""

    def __init__(self) -> None:
        seen: list[dict[str, str]] = []

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
                body = b"upstream ok"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _any

            def log_message(self, *args) -> None:
                pass

        self.seen = seen
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _gateway_binary(name: str, package: str) -> str:
    found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "-qq", package]
        if subprocess.run(install, env=env, capture_output=True, timeout=600).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
            subprocess.run(install, env=env, capture_output=True, timeout=600)
        found = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if found is None:
        pytest.skip(f"{name} is not installed (Debian: apt-get install {package})")
    return found


def _wait_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gateway exited:\n{log.read_text()[-3000:]}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"gateway not listening:\n{log.read_text()[-3000:]}")


@contextmanager
def _running(command: list[str], port: int, log: Path) -> Iterator[str]:
    with open(log, "w") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_port(port, process, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


@contextmanager
def nginx(console_port: int, upstream_port: int, work: Path) -> Iterator[str]:
    """nginx with docs/gateways/nginx.conf, only the two upstream addresses and the port replaced."""
    binary = _gateway_binary("nginx", "nginx")
    port = free_port()
    recipe = (DOCS / "nginx.conf").read_text()
    for documented, actual in [
        ("server 127.0.0.1:3000;", f"server 127.0.0.1:{console_port};"),
        ("server 127.0.0.1:9000;", f"server 127.0.0.1:{upstream_port};"),
        ("listen 8080;", f"listen 127.0.0.1:{port};"),
    ]:
        assert documented in recipe
        recipe = recipe.replace(documented, actual)
    work.mkdir(parents=True, exist_ok=True)
    (work / "site.conf").write_text(recipe)
    (work / "nginx.conf").write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {work}/nginx.pid;\nerror_log {work}/error.log;\nworker_processes 1;\nevents {{}}\n"
        + f"http {{\n  access_log off;\n  client_body_temp_path {work}/body;\n"
        + f"  proxy_temp_path {work}/proxy;\n  include {work}/site.conf;\n}}\n"
    )
    command = [binary, "-p", str(work), "-c", str(work / "nginx.conf"), "-g", "daemon off;"]
    with _running(command, port, work / "stdout.log") as url:
        yield url


@contextmanager
def caddy(console_port: int, upstream_port: int, work: Path) -> Iterator[str]:
    """Caddy with docs/gateways/Caddyfile, only the two addresses and the site address replaced."""
    binary = _gateway_binary("caddy", "caddy")
    port = free_port()
    recipe = (DOCS / "Caddyfile").read_text()
    for documented, actual in [
        ("forward_auth 127.0.0.1:3000", f"forward_auth 127.0.0.1:{console_port}"),
        ("reverse_proxy 127.0.0.1:9000", f"reverse_proxy 127.0.0.1:{upstream_port}"),
        (":8080 {", f"http://127.0.0.1:{port} {{"),
    ]:
        assert documented in recipe
        recipe = recipe.replace(documented, actual)
    work.mkdir(parents=True, exist_ok=True)
    (work / "Caddyfile").write_text(recipe)
    env_home = f"HOME={work}"
    command = ["env", env_home, f"XDG_DATA_HOME={work}", f"XDG_CONFIG_HOME={work}", binary, "run"]
    command += ["--adapter", "caddyfile", "--config", str(work / "Caddyfile")]
    with _running(command, port, work / "caddy.log") as url:
        yield url


GATEWAYS = {"nginx": nginx, "caddy": caddy}


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    yield server
    server.close()


@pytest.fixture(scope="module", params=sorted(GATEWAYS))
def gateway(request, console: Console, upstream: Upstream, tmp_path_factory) -> Iterator[str]:
    console_port = int(console.base_url.rsplit(":", 1)[1])
    work = tmp_path_factory.mktemp(request.param)
    with GATEWAYS[request.param](console_port, upstream.port, work) as url:
        yield url


def _call(gateway: str, upstream: Upstream, path: str = "/orders/17", **headers: str):
    """One request through the gateway: (response, what the upstream saw or None)."""
    before = len(upstream.seen)
    response = httpx.get(f"{gateway}{path}", headers=headers, timeout=15)
    reached = upstream.seen[before:]
    assert len(reached) <= 1
    return response, (reached[0] if reached else None)


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_valid_key_reaches_the_upstream_with_its_identity(gateway: str, upstream: Upstream, console: Console):
    email = console.new_user()
    console.cli("create-profile", email, "tone", "--categories", "age,religion", "--sensitivity", "0.25")
    secret = console.create_key(email, "through-gateway", "--profile", "tone")
    response, seen = _call(gateway, upstream, **_bearer(secret))
    assert (response.status_code, response.text) == (200, "upstream ok")
    assert seen is not None
    assert seen["path"] == "/orders/17"
    assert seen["x-key-id"] == key_row(console, email, secret).key_id
    assert seen["x-workspace-id"] == console.verify(secret).json()["workspace_id"]
    assert unquote(seen["x-bias-profile"]) == "tone"
    encoded = seen["x-bias-profile-settings"]
    settings = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert (settings["categories"], settings["sensitivity"], settings["action"]) == (
        ["age", "religion"],
        0.25,
        "flag",
    )


def test_client_cannot_smuggle_identity_headers(gateway: str, upstream: Upstream, console: Console):
    email = console.new_user()
    secret = console.create_key(email, "no-profile")
    forged = {
        "X-Key-Id": "key_forged",
        "X-Workspace-Id": "ws_forged",
        "X-Bias-Profile": "lenient",
        "X-Bias-Profile-Settings": "e30",
    }
    response, seen = _call(gateway, upstream, **_bearer(secret), **forged)
    assert response.status_code == 200
    assert seen is not None
    assert seen["x-key-id"] == key_row(console, email, secret).key_id
    assert seen["x-workspace-id"] == console.verify(secret).json()["workspace_id"]
    # No profile: the gateway drops the header (nginx) or sends it empty (Caddy), never the forgery.
    assert seen.get("x-bias-profile", "") == "", seen
    assert seen.get("x-bias-profile-settings", "") == "", seen
    response, seen = _call(gateway, upstream, **forged)
    assert (response.status_code, seen) == (401, None)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer bpk_totallybogus"},
        {"Authorization": f"Bearer {generate_secret('bpk')}"},
        {"X-API-Key": "garbage"},
        {},
    ],
    ids=["bogus", "unknown", "malformed-x-api-key", "missing"],
)
def test_bad_or_missing_key_never_reaches_the_upstream(gateway: str, upstream: Upstream, headers) -> None:
    response, seen = _call(gateway, upstream, **headers)
    assert response.status_code == 401
    assert seen is None
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_key_in_the_url_is_refused_at_the_gateway(gateway: str, upstream: Upstream, console: Console):
    secret = console.create_key(console.new_user())
    response, seen = _call(gateway, upstream, path=f"/orders?x=%20{secret.upper()}", **_bearer(secret))
    assert response.status_code == 400
    assert seen is None
    assert secret not in response.text


def test_inactive_deleted_and_expired_keys_stop_on_the_very_next_request(
    gateway: str, upstream: Upstream, console: Console
) -> None:
    email = console.new_user()
    secret = console.create_key(email)
    key_id = key_row(console, email, secret).key_id
    assert _call(gateway, upstream, **_bearer(secret))[0].status_code == 200
    console.cli("set-key-status", email, key_id, "INACTIVE")
    response, seen = _call(gateway, upstream, **_bearer(secret))
    assert (response.status_code, seen) == (403, None)
    console.cli("set-key-status", email, key_id, "ACTIVE")
    assert _call(gateway, upstream, **_bearer(secret))[0].status_code == 200
    console.cli("delete-key", email, key_id)
    response, seen = _call(gateway, upstream, **_bearer(secret))
    assert (response.status_code, seen) == (401, None)

    end = utc_in(12)  # room for the CLI's start on a busy machine (3 s was not enough)
    short = console.create_key(email, "short", "--expires-at", end.isoformat())
    wait_for(lambda: dt.datetime.now(dt.UTC) > end + dt.timedelta(milliseconds=200), timeout=30)
    response, seen = _call(gateway, upstream, **_bearer(short))
    assert (response.status_code, seen) == (403, None)


# ---------------------------------------------------------------- 429 through the gateway


@pytest.fixture(scope="module")
def tight_console(tmp_path_factory) -> Iterator[int]:
    """The fast path served in process by uvicorn, with a burst of one call per client.

    (The shared console's limit is set high so other tests never meet it; a rate-limited caller is
    refused before any key lookup, so this needs no database.)
    """
    import uvicorn

    from rxapp import api as api_module
    from rxapp.context import app_context
    from rxapp.hotpath import fast_path_middleware

    saved = {name: os.environ.get(name) for name in ("APIKEYS_DATA_DIR", "APIKEYS_PEPPER", "APIKEYS_ENV")}
    os.environ.update(
        APIKEYS_DATA_DIR=str(tmp_path_factory.mktemp("tight")), APIKEYS_PEPPER=secrets.token_urlsafe(40)
    )
    os.environ.pop("APIKEYS_ENV", None)
    app_context.reset()
    pinned = app_context.override(verify_limiter=RateLimiter(per_minute=1), proxy_hops=1)
    pinned.__enter__()
    port = free_port()
    config = uvicorn.Config(fast_path_middleware(api_module.api), host="127.0.0.1", port=port, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=30, interval=0.05, what="uvicorn")
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)
        pinned.__exit__(None, None, None)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        app_context.reset()


@pytest.mark.parametrize("name", sorted(GATEWAYS))
def test_rate_limited_caller_gets_429_with_retry_after(
    name: str, tight_console: int, upstream: Upstream, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rxapp.context import app_context

    with (
        app_context.override(verify_limiter=RateLimiter(per_minute=1)),  # a fresh bucket per gateway
        GATEWAYS[name](tight_console, upstream.port, tmp_path / name) as gateway,
    ):
        first, _ = _call(gateway, upstream, Authorization="Bearer garbage")
        second, seen = _call(gateway, upstream, Authorization="Bearer garbage")
    assert first.status_code == 401  # within the burst: the key itself is refused
    assert (second.status_code, seen) == (429, None)
    assert int(second.headers["retry-after"]) >= 1
    assert "RATE_LIMITED" in second.text
