"""keyconsole: verify API keys against the API key console from Python services.

    from keyconsole import Client
    verification = Client("http://console:3000").verify(key)
    if not verification.valid: ...   # verification.code says why

Integrations (each imports its framework only when imported itself): `keyconsole.fastapi`,
`keyconsole.asgi`, `keyconsole.django`, `keyconsole.flask`.
"""

from keyconsole.client import AsyncClient, Client, ConsoleUnreachable, KeyConsoleError
from keyconsole.result import BiasProfile, Identity, RateLimit, Verification

__version__ = "0.1.0"
__all__ = [
    "AsyncClient",
    "BiasProfile",
    "Client",
    "ConsoleUnreachable",
    "Identity",
    "KeyConsoleError",
    "RateLimit",
    "Verification",
]
