"""Who is calling: the peer address, or the X-Forwarded-For entry written by our trusted proxies.

One low module for the API, the hot path and the access log, so they agree. The hop count is
Reflex's REFLEX_TRUSTED_PROXY_HOPS (app_context.proxy_hops, which the websocket uses too). An entry
that is not an IP address is not used: a client can put anything into the header it sends, and
the address lands in logs and audit rows.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from rxapp.context import app_context


def _ip_or_empty(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return ""


def client_address_from(peer: Any, forwarded_for: str | None) -> str:
    """The X-Forwarded-For entry our trusted hops wrote (counted from the right) when it is an IP
    address, else the peer."""
    hops = app_context.proxy_hops
    if hops and forwarded_for:
        forwarded = [part.strip() for part in forwarded_for.split(",") if part.strip()]
        if len(forwarded) >= hops:
            address = _ip_or_empty(forwarded[-hops][:64])
            if address:
                return address
    return str(peer[0]) if peer else ""


def scope_client_address(scope: Any) -> str:
    """`client_address_from` for an ASGI scope (first X-Forwarded-For header, as Starlette reads it)."""
    for name, value in scope.get("headers", ()):
        if name == b"x-forwarded-for":
            return client_address_from(scope.get("client"), value.decode("latin-1"))
    return client_address_from(scope.get("client"), None)
