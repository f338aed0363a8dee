"""A real SMTP server for the tests (aiosmtpd on 127.0.0.1): it records every email it accepts,
and can speak STARTTLS or implicit TLS with a self-signed certificate, ask for a login, and refuse
recipients. tests/conftest.py starts one for the whole session, before the console."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def body(self) -> str:
        part = self.message.get_body(("plain",))
        return part.get_content() if part is not None else ""


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key (PEM files in `folder`)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@dataclass
class SmtpServer:
    """`tls`: "" (plain), "starttls" or "implicit"; `login`: (user, password) it asks for."""

    port: int
    tls: str = ""
    certificate: tuple[Path, Path] | None = None
    login: tuple[str, str] | None = None
    refuse: set[str] = field(default_factory=set)  # recipients answered 550
    received: list[Received] = field(default_factory=list)
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._lock:
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def _authenticate(self, server, session, envelope, mechanism, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and self.login is not None
        ok = ok and (auth_data.login.decode(), auth_data.password.decode()) == self.login
        return AuthResult(success=ok)

    def start(self) -> SmtpServer:
        options: dict[str, Any] = {}
        if self.tls:
            assert self.certificate is not None
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*map(str, self.certificate))
            options["ssl_context" if self.tls == "implicit" else "tls_context"] = context
        if self.login is not None:
            options["authenticator"] = self._authenticate
            # (aiosmtpd only counts STARTTLS as TLS; implicit TLS is TLS from the first byte)
            options["auth_require_tls"] = self.tls == "starttls"
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **options)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [r for r in self.received if address.lower() in (a.lower() for a in r.rcpt_tos)]

    def wait_for(self, probe: Callable[[SmtpServer], Any], timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = probe(self)
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError(f"timed out; received {[r.subject for r in self.received]}")
