"""One SMTP conversation per batch of emails, with the standard library's smtplib.

APIKEYS_SMTP_URL says where and how:
- `smtps://user:password@host[:465]`: implicit TLS from the first byte;
- `smtp://user:password@host[:587]`: STARTTLS. `?starttls=auto` (the default) upgrades whenever the
  server offers it, and refuses to log in without it (a password never crosses the network in
  clear); `?starttls=require` refuses to send anything without it; `?starttls=off` never upgrades
  (a relay on the same machine or network, without a password; settings.py refuses a password then).

Certificates are checked against the system's trust store (SSL_CERT_FILE points elsewhere). User
and password are percent-decoded (`%40` for an `@` in a user name). Nothing here logs; callers log
the outcome's `error`, which never holds the URL or the password.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

DEFAULT_PORTS = {"smtp": 587, "smtps": 465}


class SmtpRefused(Exception):
    """The server cannot be used safely as configured (no STARTTLS where it is needed)."""


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    starttls: str  # auto | require | off (smtp:// only)
    user: str = ""
    password: str = field(default="", repr=False)


@dataclass(frozen=True)
class Outcome:
    ok: bool
    permanent: bool = False  # the server refused this email for good (5xx): no retry
    error: str = ""


def parse_url(url: str) -> SmtpServer:
    """The server an APIKEYS_SMTP_URL names (settings.py has checked its form already)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    starttls = parse_qs(parts.query).get("starttls", ["auto"])[-1].lower()
    return SmtpServer(
        host=parts.hostname or "",
        port=parts.port or DEFAULT_PORTS.get(scheme, 587),
        implicit_tls=scheme == "smtps",
        starttls="off" if scheme == "smtps" else starttls,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
    )


def _error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:300]


def _connect(server: SmtpServer, timeout: float, context: ssl.SSLContext) -> smtplib.SMTP:
    if server.implicit_tls:
        client: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=timeout)
    try:
        client.ehlo()
        if not server.implicit_tls and server.starttls != "off":
            if client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            elif server.starttls == "require" or server.password:
                raise SmtpRefused(
                    "the server offers no STARTTLS: refusing to send "
                    + ("the password in clear" if server.password else "in clear (starttls=require)")
                )
        if server.user:
            client.login(server.user, server.password)
    except BaseException:
        client.close()
        raise
    return client


def send_all(
    server: SmtpServer,
    messages: Sequence[EmailMessage],
    *,
    timeout: float,
    context: ssl.SSLContext | None = None,
) -> list[Outcome]:
    """Send each message (its own From and To) over one connection; one outcome per message.

    A connection, TLS or login failure fails every message, to be tried again later; a refusal
    of one message (its recipient, its data) fails only that one, for good when the code is 5xx.
    """
    if not messages:
        return []
    try:
        client = _connect(server, timeout, context or ssl.create_default_context())
    except (OSError, smtplib.SMTPException, SmtpRefused) as error:
        return [Outcome(False, error=_error(error))] * len(messages)
    outcomes: list[Outcome] = []
    try:
        for message in messages:
            try:
                client.send_message(message)
                outcomes.append(Outcome(True))
            except smtplib.SMTPRecipientsRefused as error:
                codes = [code for code, _text in error.recipients.values()]
                outcomes.append(Outcome(False, all(c >= 500 for c in codes), _error(error)))
            except smtplib.SMTPResponseException as error:
                outcomes.append(Outcome(False, error.smtp_code >= 500, _error(error)))
                if error.smtp_code == 421:  # the server is closing the connection
                    break
            except (OSError, smtplib.SMTPException) as error:  # the connection broke
                outcomes.append(Outcome(False, error=_error(error)))
                break
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()
    left = len(messages) - len(outcomes)
    return outcomes + [Outcome(False, error="not sent: the connection ended before it")] * left
