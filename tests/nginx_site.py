"""Running a shipped nginx site (docs/deploy/*.conf) for real: TLS on 127.0.0.1:443, no root paths.

The site file is rendered with test ports, a throwaway certificate and a private log folder; every
substitution must still match the document, so the tests run what the docs say. nginx runs as a
foreground process with its own prefix folder and is stopped by the test that started it.
"""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.harness import exclusive, free_port

TLS_PORT = 443  # the compiled frontend reaches the backend on the page's own https port (no port)
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@dataclass(frozen=True)
class Proxy:
    base: str
    http_port: int
    tls: ssl.SSLContext  # trusts the test's self-signed certificate, nothing else
    folder: Path  # access.log and error.log are here


def port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as nginx does: TIME_WAIT is fine
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def skip_unless_runnable() -> None:
    """nginx is here. Port 443 is checked by running_site, in turn with the other backend's pass."""
    if NGINX is None:
        pytest.skip("nginx is not installed (scripts/test installs Debian's nginx when run as root)")


def render(site: Path, replacements: Sequence[tuple[str, str]]) -> str:
    text = site.read_text()
    for pattern, replacement in replacements:
        text, count = re.subn(pattern, replacement.replace("\\", "\\\\"), text)
        assert count, f"{site.name} no longer contains {pattern!r}"
    return text


def listen_and_tls(http_port: int, cert: Path, key: Path, logs: Path) -> list[tuple[str, str]]:
    """What every shipped site needs changed to run here: loopback ports, certificate, log folder."""
    return [
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen \[::\]:80;", f"listen [::1]:{http_port};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{TLS_PORT} ssl http2;"),
        (r"listen \[::\]:443 ssl http2;", f"listen [::1]:{TLS_PORT} ssl http2;"),  # localhost may be ::1
        (r"keys\.example\.com", "localhost"),
        (r"ssl_certificate +/\S+;", f"ssl_certificate {cert};"),
        (r"ssl_certificate_key +/\S+;", f"ssl_certificate_key {key};"),
        (r"access_log /var/log/nginx/[^\s;]+", f"access_log {logs / 'access.log'}"),
    ]


@contextmanager
def running_site(
    site: Path, folder: Path, upstreams: Sequence[tuple[str, str]], extra: Sequence[tuple[str, str]] = ()
) -> Iterator[Proxy]:
    """nginx serving `site` on https://localhost, with `upstreams` (pattern, replacement) pointing
    it at the test's consoles; returns once the console's health answers through it.

    Port 443 is the machine's one: scripts/test's two passes (SQLite, PostgreSQL) take turns on it
    (harness.exclusive) for as long as the site runs."""
    with exclusive(f"port-{TLS_PORT}"):
        if not port_free(TLS_PORT):
            pytest.skip(f"127.0.0.1:{TLS_PORT} is taken; the nginx tests need it for the HTTPS origin")
        yield from _running_site(site, folder, upstreams, extra)


def _running_site(
    site: Path, folder: Path, upstreams: Sequence[tuple[str, str]], extra: Sequence[tuple[str, str]]
) -> Iterator[Proxy]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    http_port = free_port()
    replacements = [*upstreams, *listen_and_tls(http_port, cert, key, folder), *extra]
    (folder / "site.conf").write_text(render(site, replacements))
    (folder / "nginx.conf").write_text(
        f"""user root;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
daemon off;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    include {folder}/site.conf;
}}
"""
    )
    assert NGINX is not None
    command = [NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"https://localhost:{TLS_PORT}" if TLS_PORT != 443 else "https://localhost"
    tls = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", verify=tls, timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (folder / "error.log").read_text()
            assert time.monotonic() < deadline, "nginx did not come up"
            time.sleep(0.2)
        yield Proxy(base, http_port, tls, folder)
    finally:
        process.terminate()
        process.wait(15)
