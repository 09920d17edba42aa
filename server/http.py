"""Streamable HTTP: loopback by default, Host/Origin allow-list always on, optional bearer token, body limit."""

from __future__ import annotations

import hmac
import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

MCP_PATH = "/mcp"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_BODY_BYTES = 4_000_000
"""Room for a call carrying the largest inline ledger (10,000 rows) and little more."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HttpSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    token: str | None = None
    stateless: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    extra_hosts: tuple[str, ...] = ()
    extra_origins: tuple[str, ...] = ()
    json_response: bool = field(default=False)

    def __post_init__(self) -> None:
        if not is_loopback(self.host) and not self.token:
            raise ValueError(
                f"refusing to serve on {self.host} without a bearer token: set --token-file or KPI_CONTEXT_TOKEN, "
                "or bind to 127.0.0.1"
            )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{MCP_PATH}"

    def transport_security(self) -> TransportSecuritySettings:
        """Host and Origin allow-lists: DNS-rebinding protection stays on whatever the bind address."""
        names = {"127.0.0.1", "localhost", "[::1]"}
        if not is_loopback(self.host):
            names.add(f"[{self.host}]" if ":" in self.host else self.host)
        hosts = sorted({f"{name}:{self.port}" for name in names} | set(self.extra_hosts))
        origins = sorted({f"http://{name}:{self.port}" for name in names} | set(self.extra_origins))
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
        )


class BearerAuth:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <token>`.

    The comparison is constant-time so the token cannot be guessed byte by byte from timings.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"authorization", b"")
        if hmac.compare_digest(given, self._expected):
            await self._app(scope, receive, send)
            return
        body = json.dumps({"error": "unauthorized", "message": "missing or invalid bearer token"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="kpi-context"'),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def build_http_app(server: MCPServer[Any], settings: HttpSettings) -> ASGIApp:
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=settings.stateless,
        json_response=settings.json_response,
        max_request_body_size=settings.max_body_bytes,
        transport_security=settings.transport_security(),
        host=settings.host,
    )
    if settings.token:
        app = BearerAuth(app, settings.token)
    return app
