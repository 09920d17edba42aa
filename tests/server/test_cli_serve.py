"""`kpi-context serve`: what the operator sees when starting it, and what it refuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from kpi_context.server.cli_serve import client_config
from kpi_context.server.http import HttpSettings
from tests.support.servers import CLI, free_port, wait_until_serving


def test_the_http_server_prints_its_url_and_client_configuration() -> None:
    port = free_port()
    process = subprocess.Popen(
        [CLI, "serve", "--http", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(port)
        assert process.stdout is not None
        banner = [process.stdout.readline() for _ in range(3)]
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert banner[0].startswith("KPI Context Server: catalog ")
    assert f"http://127.0.0.1:{port}/mcp" in banner[1]
    assert banner[2].strip() == "Client configuration:"


def test_client_configuration_covers_http_and_stdio() -> None:
    config = client_config(HttpSettings(port=9999, token="t"))
    http = config["http"]["mcpServers"]["kpi-context"]
    assert http["url"] == "http://127.0.0.1:9999/mcp"
    assert http["headers"]["Authorization"].startswith("Bearer ")
    assert config["stdio"]["mcpServers"]["kpi-context"]["args"] == ["serve"]
    json.dumps(config)  # must be pasteable JSON


def test_a_broken_catalog_stops_the_server_with_its_issues(tmp_path: os.PathLike[str]) -> None:
    done = subprocess.run(
        [CLI, "serve", "--catalog", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 2
    assert "catalog" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_an_unreadable_token_file_is_a_clear_error(tmp_path: os.PathLike[str]) -> None:
    missing = os.path.join(tmp_path, "no-such-token")
    done = subprocess.run(
        [sys.executable, "-m", "kpi_context.server.cli", "serve", "--http", "--token-file", missing],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "token" in done.stderr and "Traceback" not in done.stderr
