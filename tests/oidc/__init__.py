"""The real OpenID provider the single sign-on tests sign in at (provider.mjs: npm's oidc-provider,
pinned in scripts/lib/oidc and installed into .tools/oidc by scripts/test), started on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.harness import ROOT, free_port, stop_console

CLIENT_ID = "key-console-tests"
NAME = "Test IdP"  # APIKEYS_OIDC_NAME: the sign-in button says "Sign in with Test IdP"
MODULES = Path(os.environ.get("OIDC_PROVIDER_MODULES", ROOT / ".tools" / "oidc" / "node_modules"))
SCRIPT = Path(__file__).resolve().parent / "provider.mjs"
CALLBACK = "/api/v1/auth/oidc/callback"  # rxapp.routes.API_OIDC_CALLBACK


@dataclass
class Provider:
    issuer: str
    client_id: str
    client_secret: str
    process: subprocess.Popen | None

    def console_env(self) -> dict[str, str]:
        """What a console needs to offer "Sign in with Test IdP"."""
        return {
            "APIKEYS_OIDC_ISSUER": self.issuer,
            "APIKEYS_OIDC_CLIENT_ID": self.client_id,
            "APIKEYS_OIDC_CLIENT_SECRET": self.client_secret,
            "APIKEYS_OIDC_NAME": NAME,
        }


def _node() -> str | None:
    bundled = ROOT / ".tools" / "node" / "node_modules" / "node" / "bin" / "node"
    return str(bundled) if bundled.exists() else shutil.which("node")


def missing() -> str:
    """Why the provider cannot start here ("" when it can)."""
    if not (MODULES / "oidc-provider" / "lib" / "index.js").exists():
        return f"oidc-provider is not installed in {MODULES} (scripts/test installs it)"
    if _node() is None:
        return "no node to run the OpenID provider (scripts/test provides one)"
    return ""


def start(console_ports: list[int], log_path: Path, timeout: float = 30) -> Provider:
    """The provider on a free port, with one client whose redirect URIs are the consoles' callbacks
    (by `localhost` and by `127.0.0.1`); returns once its discovery document answers."""
    port = free_port()
    hosts = ("localhost", "127.0.0.1")
    redirect_uris = [f"http://{host}:{p}{CALLBACK}" for p in console_ports for host in hosts]
    secret = secrets.token_urlsafe(32)
    env = {
        **os.environ,
        "OIDC_MODULES": str(MODULES),
        "OIDC_PORT": str(port),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": secret,
        "OIDC_REDIRECT_URIS": ",".join(redirect_uris),
    }
    node = _node()
    assert node is not None, missing()
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [node, str(SCRIPT)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"OpenID provider exited early:\n{tail}")
        try:
            if httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2).status_code == 200:
                return Provider(issuer, CLIENT_ID, secret, process)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"OpenID provider not ready after {timeout:.0f}s")


def stop(process: subprocess.Popen | None) -> None:
    if process is not None:
        stop_console(process)  # its own process group only
