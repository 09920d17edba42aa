"""Streamable HTTP: loopback by default, Host/Origin allow-list always on, optional bearer token, body limit,
bounded sessions, a read timeout for slow clients, a health endpoint and one access-log line per request."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import os
import socket
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import h11
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_BODY_BYTES = 4_000_000
"""Room for a call carrying the largest inline ledger (10,000 rows) and little more."""
DEFAULT_MAX_SESSIONS = 1_000
"""Open stateful sessions at most (the SDK's default is 10,000). A session costs roughly 45 KB, so the cap
bounds session memory near 50 MB; past it a new `initialize` gets 503 until a session ends or is reaped."""
DEFAULT_SESSION_IDLE_SECONDS = 300.0
"""A session with no request in flight for this long is closed (the SDK's default is 30 minutes)."""
DEFAULT_REQUEST_READ_SECONDS = 10.0
"""A connection must deliver a whole request (headers and body) this long after its first byte is due."""


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
    max_sessions: int = DEFAULT_MAX_SESSIONS
    session_idle_seconds: float = DEFAULT_SESSION_IDLE_SECONDS
    request_read_seconds: float = DEFAULT_REQUEST_READ_SECONDS
    workers: int = 1
    """Server processes sharing the listening socket; more than one implies stateless."""

    def __post_init__(self) -> None:
        if not is_loopback(self.host) and not self.token:
            raise ValueError(
                f"refusing to serve on {self.host} without a bearer token: set --token-file or KPI_CONTEXT_TOKEN, "
                "or bind to 127.0.0.1"
            )
        for name, value in (
            ("--max-sessions", self.max_sessions),
            ("--session-idle-seconds", self.session_idle_seconds),
            ("--request-read-seconds", self.request_read_seconds),
            ("--workers", self.workers),
            ("--max-body-bytes", self.max_body_bytes),
        ):
            if not value > 0 or value == float("inf"):
                raise ValueError(f"{name} must be a positive, finite number (got {value})")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{MCP_PATH}"

    @property
    def is_stateless(self) -> bool:
        """Several workers cannot share sessions held in one process's memory."""
        return self.stateless or self.workers > 1

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


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers") or []:
        if key == name:
            return bytes(value)
    return None


async def _json_response(
    send: Send, status: int, document: Mapping[str, Any], extra: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps(document).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
        given = _header(scope, b"authorization") or b""
        if hmac.compare_digest(given, self._expected):
            await self._app(scope, receive, send)
            return
        await _json_response(
            send,
            401,
            {"error": "unauthorized", "message": "missing or invalid bearer token"},
            [(b"www-authenticate", b'Bearer realm="kpi-context"')],
        )


class HealthCheck:
    """`GET /healthz` → 200 JSON (status, version, catalog version and hash, pid); no token, but the Host is checked."""

    def __init__(self, app: ASGIApp, health: Mapping[str, Any], allowed_hosts: list[str]) -> None:
        self._app = app
        self._health = {"status": "ok", **health}
        self._hosts = {host.encode() for host in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != HEALTH_PATH:
            await self._app(scope, receive, send)
            return
        if _header(scope, b"host") not in self._hosts:
            await _json_response(send, 421, {"error": "misdirected_request", "message": "Host not allowed"}, [])
        elif scope["method"] not in ("GET", "HEAD"):
            await _json_response(send, 405, {"error": "method_not_allowed"}, [(b"allow", b"GET, HEAD")])
        else:
            # The process id tells an operator (and bench/load.py) which of several workers answered.
            await _json_response(send, 200, {**self._health, "pid": os.getpid()}, [(b"cache-control", b"no-store")])


class AccessLog:
    """One JSON line per HTTP request on stderr: method, path, status, duration. Never a query string, a header
    value or a body, so neither argument values nor tokens reach the log."""

    def __init__(self, app: ASGIApp, stream: TextIO | None = None) -> None:
        self._app = app
        self._stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            line = {
                "event": "http_request",
                "method": scope["method"],
                "path": scope["path"][:200],
                "status": status or 500,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            }
            stream = self._stream or sys.stderr
            stream.write(json.dumps(line) + "\n")
            stream.flush()


class GuardedConfig(Config):
    """uvicorn's configuration plus the request-read bound the guarded protocol enforces."""

    def __init__(self, *args: Any, request_read_seconds: float = DEFAULT_REQUEST_READ_SECONDS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_read_seconds = request_read_seconds


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request read timeout: a connection that has not delivered a complete request
    (headers and body) within `request_read_seconds` of opening, or of starting its next request, is closed.

    uvicorn itself times out only idle keep-alive connections between requests, so a client that opens a
    connection and sends nothing, or trickles its headers (slow loris), would otherwise hold it for ever.
    """

    def __init__(self, config: Config, server_state: ServerState, app_state: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(config, server_state, app_state, **kwargs)
        self._read_seconds: float = getattr(config, "request_read_seconds", DEFAULT_REQUEST_READ_SECONDS)
        self._read_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY):
            if self._read_deadline is None:
                self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._read_deadline = self.loop.call_later(self._read_seconds, self._read_timed_out)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _read_timed_out(self) -> None:
        self._read_deadline = None
        if self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()


def uvicorn_config(app: ASGIApp | str, settings: HttpSettings, *, factory: bool = False) -> Config:
    """uvicorn's configuration for `settings`: the guarded protocol, its own access log only."""
    config = GuardedConfig(
        app,
        host=settings.host,
        port=settings.port,
        http=GuardedH11Protocol,
        log_level="warning",
        access_log=False,
        workers=settings.workers if settings.workers > 1 else None,
        factory=factory,
        timeout_graceful_shutdown=5,
        request_read_seconds=settings.request_read_seconds,
    )
    return config


def listening_socket(settings: HttpSettings) -> socket.socket:
    """Bind and listen now, so a port in use is known before anything is printed. Raises OSError."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family=family)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.host, settings.port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def build_http_app(
    server: MCPServer[Any], settings: HttpSettings, *, health: Mapping[str, Any] | None = None, access_log: bool = True
) -> ASGIApp:
    security = settings.transport_security()
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=settings.is_stateless,
        json_response=settings.json_response,
        max_request_body_size=settings.max_body_bytes,
        session_idle_timeout=settings.session_idle_seconds,
        max_sessions=settings.max_sessions,
        transport_security=security,
        host=settings.host,
    )
    if settings.token:
        app = BearerAuth(app, settings.token)
    app = HealthCheck(app, health or {}, list(security.allowed_hosts))
    if access_log:
        app = AccessLog(app)
    return app
