"""The HTTP transport's defences, checked against a real `kpi-context serve --http` process."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator

import anyio
import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

import kpi_context
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


# --- limits, health and logs: one server with small limits, its stderr read after it stops --------------------

LIMITED_ARGS = ("--max-sessions", "2", "--session-idle-seconds", "1", "--request-read-seconds", "1")


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    token_file = tmp_path_factory.mktemp("token") / "token"
    token_file.write_text(TOKEN + "\n")
    server = start_http_server("--token-file", str(token_file), *LIMITED_ARGS)
    yield server
    stop(server)


def _stderr_of(server: RunningServer) -> str:
    stop(server)
    assert server.process.stderr is not None
    return server.process.stderr.read().decode()


def test_health_answers_without_a_token_with_version_and_catalog_hash(secured: RunningServer, catalog) -> None:
    response = httpx.get(f"http://127.0.0.1:{secured.port}/healthz", timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"] == kpi_context.__version__
    assert body["catalog_hash"] == catalog.content_hash


def test_health_still_checks_the_host_header(secured: RunningServer) -> None:
    response = httpx.get(f"http://127.0.0.1:{secured.port}/healthz", headers={"host": "evil.example"}, timeout=10)
    assert response.status_code == 421


def test_sessions_past_the_cap_get_503_and_idle_ones_are_reaped(limited: RunningServer) -> None:
    # --max-sessions 2: two initializes open the two sessions, the third is refused.
    opened = [post(limited, AUTH).status_code for _ in range(3)]
    assert opened == [200, 200, 503]
    # --session-idle-seconds 1: after 3 s without requests both sessions are gone, so a new one opens.
    time.sleep(3)
    assert post(limited, AUTH).status_code == 200


def test_a_connection_that_sends_nothing_is_closed_after_the_read_timeout(limited: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=10) as sock:
        started = time.monotonic()
        assert sock.recv(1024) == b""  # closed by the server, nothing sent
        waited = time.monotonic() - started
    # --request-read-seconds 1: closed after about 1 s, well before the 10 s socket timeout.
    assert 0.5 < waited < 5


def test_a_client_trickling_its_headers_is_closed_after_the_read_timeout(limited: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        time.sleep(0.4)
        sock.sendall(b"X-Slow: 1\r\n")  # still no blank line: the headers never end
        assert sock.recv(1024) == b""
        assert time.monotonic() - started < 5


def test_an_unknown_prompt_is_an_error_logged_in_one_line_and_every_request_is_logged_without_secrets(
    limited: RunningServer,
) -> None:
    async def ask() -> str:
        async with (
            httpx2.AsyncClient(headers=AUTH) as http,
            Client(streamable_http_client(limited.url + "?secret-query=1", http_client=http)) as client,
        ):
            with pytest.raises(MCPError) as refused:
                await client.get_prompt("no_such_prompt")
            await client.call_tool("lookup_kpi", {"query": "confidential-argument-value"})
        return refused.value.error.message

    message = anyio.run(ask)
    assert "not_found" in message
    log = _stderr_of(limited)
    assert "Traceback" not in log
    prompt_lines = [line for line in log.splitlines() if "no_such_prompt" in line]
    assert len(prompt_lines) == 1 and "code=not_found" in prompt_lines[0]
    requests = [json.loads(line) for line in log.splitlines() if line.startswith('{"event": "http_request"')]
    assert requests, log
    assert {"method", "path", "status", "duration_ms"} <= set(requests[0])
    assert any(r["method"] == "POST" and r["path"] == "/mcp" and r["status"] == 200 for r in requests)
    # Neither the token, the query string nor an argument value reaches the log.
    assert TOKEN not in log and "secret-query" not in log and "confidential-argument-value" not in log


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="--max-sessions"):
        HttpSettings(max_sessions=0)
    with pytest.raises(ValueError, match="--request-read-seconds"):
        HttpSettings(request_read_seconds=float("inf"))


def test_several_workers_are_always_stateless() -> None:
    assert HttpSettings(workers=2).is_stateless
    assert not HttpSettings().is_stateless


async def test_workers_share_the_port_and_one_signing_secret() -> None:
    server = start_http_server("--workers", "2")
    try:
        pids: set[int] = set()
        deadline = time.monotonic() + 90
        while len(pids) < 2 and time.monotonic() < deadline:
            # The parent listens at once; until a worker has loaded the catalog, requests wait in the backlog.
            with contextlib.suppress(httpx.TimeoutException):
                pids.add(httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=30).json()["pid"])
        assert len(pids) == 2  # two processes answer on one port
        arguments = {"kpi": "sales.avg_contract_value", "period": "2026-Q3", "currency": "USD"}
        values = []
        for inputs in ({"new_logo_contract_value": 1_240_000, "new_customers_signed": 20},) * 6:
            async with Client(server.url) as client:  # stateless: each request may land on either worker
                result = await client.call_tool("compute_kpi", {**arguments, "inputs": inputs})
                assert not result.is_error and result.structured_content is not None
                values.append(result.structured_content)
        async with Client(server.url) as client:
            for value in values[1:]:
                compared = await client.call_tool("compare_metrics", {"left": values[0], "right": value})
                assert not compared.is_error
                # Signed by whichever worker computed it, verified by whichever compares it: never asserted.
                assert "asserted" not in json.dumps(compared.structured_content)
    finally:
        stop(server)
