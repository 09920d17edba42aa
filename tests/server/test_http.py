"""The HTTP transport's defences, checked against a real `kpi-context serve --http` process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from kpi_context.server.http import HttpSettings, is_loopback
from tests.support.servers import CLI, RunningServer, start_http_server, stop

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "http-test", "version": "1"},
    },
}
MCP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
TOKEN = "s3cret-token-for-tests"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(TOKEN + "\n")
    server = start_http_server("--token-file", str(token_file), "--max-body-bytes", "20000")
    yield server
    stop(server)


def post(server: RunningServer, headers: dict[str, str], body: object = INITIALIZE) -> httpx.Response:
    return httpx.post(server.url, json=body, headers={**MCP_HEADERS, **headers}, timeout=10)


def test_a_valid_token_and_loopback_host_are_accepted(secured: RunningServer) -> None:
    response = post(secured, AUTH)
    assert response.status_code == 200


def test_a_missing_token_is_answered_401(secured: RunningServer) -> None:
    response = post(secured, {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_a_wrong_token_is_answered_401(secured: RunningServer) -> None:
    assert post(secured, {"authorization": "Bearer not-the-token"}).status_code == 401
    assert post(secured, {"authorization": TOKEN}).status_code == 401


def test_a_foreign_host_header_is_rejected(secured: RunningServer) -> None:
    # DNS rebinding: a page on evil.example resolving to 127.0.0.1 still sends its own Host.
    response = post(secured, {**AUTH, "host": "evil.example"})
    assert response.status_code == 421


def test_a_foreign_origin_is_rejected(secured: RunningServer) -> None:
    response = post(secured, {**AUTH, "origin": "https://evil.example"})
    assert response.status_code == 403


def test_a_local_origin_is_accepted(secured: RunningServer) -> None:
    response = post(secured, {**AUTH, "origin": f"http://127.0.0.1:{secured.port}"})
    assert response.status_code == 200


def test_a_body_over_the_limit_is_answered_413(secured: RunningServer) -> None:
    # The server was started with a 20,000-byte limit; 30,000 bytes of padding exceed it.
    body = {**INITIALIZE, "padding": "x" * 30_000}
    assert post(secured, AUTH, body).status_code == 413


async def test_the_official_client_works_with_the_token(secured: RunningServer) -> None:
    async with (
        httpx2.AsyncClient(headers=AUTH) as http,
        Client(streamable_http_client(secured.url, http_client=http)) as client,
    ):
        result = await client.call_tool("lookup_kpi", {"query": "ARR"})
    assert not result.is_error
    assert result.structured_content is not None
    assert result.structured_content["matches"][0]["id"] == "sales.arr"


def test_binding_beyond_loopback_without_a_token_is_refused() -> None:
    env = {k: v for k, v in os.environ.items() if k != "KPI_CONTEXT_TOKEN"}
    done = subprocess.run(
        [CLI, "serve", "--http", "--host", "0.0.0.0", "--port", "1"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "token" in done.stderr
    assert "Traceback" not in done.stderr


def test_loopback_addresses_are_recognised() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5")


def test_non_loopback_settings_still_validate_hosts() -> None:
    settings = HttpSettings(host="10.0.0.5", port=9000, token="t", extra_hosts=("kpi.internal:9000",))
    security = settings.transport_security()
    assert security.enable_dns_rebinding_protection
    assert "10.0.0.5:9000" in security.allowed_hosts
    assert "kpi.internal:9000" in security.allowed_hosts
    assert "evil.example:9000" not in security.allowed_hosts


async def test_stateless_mode_serves_independent_requests() -> None:
    server = start_http_server("--stateless")
    try:
        async with Client(server.url) as client:
            result = await client.call_tool("lookup_kpi", {"query": "CARR"})
        assert not result.is_error
    finally:
        stop(server)
