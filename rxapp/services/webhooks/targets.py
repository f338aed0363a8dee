"""Where a webhook may be sent: only to the URL its owner set, over http(s), and only to public
addresses unless the operator allows private ones (APIKEYS_WEBHOOK_ALLOW_PRIVATE=1).

The address is checked after resolving the host name, and the request then goes to exactly that
address (the Host header and TLS server name stay the name's), so a name that resolves to a public
address when checked and to 127.0.0.1 a moment later (DNS rebinding) cannot reach inside.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from rxapp.services.errors import ValidationError

URL_MAX_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The URL's address is not one a webhook may reach; the message says why (no secret in it)."""


def clean_url(url: str, allow_private: bool) -> str:
    """A webhook URL as stored: http(s), a host, no credentials, not over the length; a literal
    private address is refused here already (a name is checked again at each delivery)."""
    url = (url or "").strip()
    if not url:
        raise ValidationError("Enter the URL to send events to.", field="url", code="BAD_URL")
    if len(url) > URL_MAX_LENGTH:
        raise ValidationError(
            f"The URL is longer than {URL_MAX_LENGTH} characters.", field="url", code="BAD_URL"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        raise ValidationError("That is not a valid URL.", field="url", code="BAD_URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("The URL must start with https:// (or http://).", field="url", code="BAD_URL")
    if parts.username or parts.password:
        raise ValidationError("The URL must not hold a user name or password.", field="url", code="BAD_URL")
    if any(ch.isspace() or ord(ch) < 0x20 for ch in url):
        raise ValidationError("The URL must not hold spaces.", field="url", code="BAD_URL")
    literal = _literal(parts.hostname)
    if literal is not None and not address_allowed(literal, allow_private):
        raise ValidationError(
            "That address is private (loopback, link-local or internal): webhooks go to public addresses.",
            field="url",
            code="PRIVATE_TARGET",
        )
    return url


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_allowed(address: IPAddress, allow_private: bool) -> bool:
    """Public unicast only: no loopback, link-local (cloud metadata), private, shared, reserved,
    multicast or unspecified address; an IPv4-mapped IPv6 address counts as its IPv4 one."""
    if allow_private:
        return True
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


@dataclass(frozen=True)
class Target:
    """Where one request goes: `url` names the checked address; `host` is the Host header and
    the TLS server name."""

    url: str
    host: str
    server_name: str


def resolve(url: str, allow_private: bool) -> Target:
    """The URL pinned to a checked address. Every address the name resolves to must be allowed
    (a name with one private address among public ones is refused)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"cannot resolve {host!r}: {error}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise TargetRefused(f"{host!r} has no address")
    refused = [a for a in addresses if not address_allowed(a, allow_private)]
    if refused:
        raise TargetRefused(f"{host!r} resolves to a private address ({refused[0]})")
    return Target(url=_pinned(parts, addresses[0]), host=parts.netloc.rpartition("@")[2], server_name=host)


def _pinned(parts: SplitResult, address: IPAddress) -> str:
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
