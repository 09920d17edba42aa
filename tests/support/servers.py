"""Real server processes for tests: `kpi-context serve --http` on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path

from mcp import Client

from kpi_context.ontology.catalog import Catalog
from kpi_context.server.app import build_server
from kpi_context.tools.context import ToolContext
from kpi_context.tools.ledger.source import DatasetRegistry

SECRET = "test-signing-secret"
DATA_DIR = Path(__file__).resolve().parents[2] / "data"
SAMPLE_LEDGER = DATA_DIR / "sample_ledger.csv"
DATASET_ARGS = ("--data-dir", str(DATA_DIR), "--dataset", f"sample={SAMPLE_LEDGER}")
CLI = str(Path(sys.executable).with_name("kpi-context"))

ClientFactory = Callable[[], AbstractAsyncContextManager[Client]]


def memory_client(catalog: Catalog, secret: str = SECRET) -> ClientFactory:
    """The official client talking to the server in memory, with the sample ledger registered."""

    def make() -> AbstractAsyncContextManager[Client]:
        datasets = DatasetRegistry.from_cli(DATA_DIR, [f"sample={SAMPLE_LEDGER}"])
        return Client(build_server(ToolContext.create(catalog, secret=secret.encode()), datasets))

    return make


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mcp"


def start_http_server(*extra: str, env: dict[str, str] | None = None) -> RunningServer:
    """Start `kpi-context serve --http` and wait until it answers; the caller stops it."""
    port = free_port()
    process = subprocess.Popen(
        [CLI, "serve", "--http", "--port", str(port), *DATASET_ARGS, *extra],
        env={**os.environ, "KPI_CONTEXT_SECRET": SECRET, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_until_serving(port, process)
    except RuntimeError:
        process.kill()
        raise
    return RunningServer(process, port)


def wait_until_serving(port: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 30) -> None:
    """Poll 127.0.0.1:`port` until the server accepts connections; fail early if `process` exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            stderr = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"server exited: {stderr}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"no server on port {port} within {timeout} s")


def stop(server: RunningServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


def memory_client_with_profile(catalog: Catalog, profile: Path, secret: str = SECRET) -> ClientFactory:
    """As `memory_client`, with a governance profile loaded as `serve --profile` loads it."""
    from kpi_context.ontology.profile_loader import load_profile

    loaded = load_profile(profile, catalog)

    def make() -> AbstractAsyncContextManager[Client]:
        datasets = DatasetRegistry.from_cli(DATA_DIR, [f"sample={SAMPLE_LEDGER}"])
        context = ToolContext.create(catalog, secret=secret.encode(), profile=loaded)
        return Client(build_server(context, datasets))

    return make
