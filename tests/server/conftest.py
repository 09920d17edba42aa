"""Ways to reach the server, shared by the server tests: in memory, stdio subprocess, streamable HTTP.

The HTTP server runs as a real `kpi-context serve --http` process on a free 127.0.0.1 port
(uvicorn inside it), started once per test session; the stdio server is a real subprocess
launched by the official client for each conversation.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.loader import load_catalog
from tests.support.servers import (
    CLI,
    DATASET_ARGS,
    SECRET,
    ClientFactory,
    RunningServer,
    memory_client,
    start_http_server,
    stop,
)


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def http_server() -> Iterator[RunningServer]:
    server = start_http_server()
    yield server
    stop(server)


def stdio_client() -> ClientFactory:
    params = StdioServerParameters(
        command=CLI, args=["serve", *DATASET_ARGS], env={**os.environ, "KPI_CONTEXT_SECRET": SECRET}
    )

    def make() -> AbstractAsyncContextManager[Client]:
        return Client(params)

    return make


def http_client(url: str) -> ClientFactory:
    def make() -> AbstractAsyncContextManager[Client]:
        return Client(url)

    return make


@pytest.fixture(params=["memory", "stdio", "http"])
def connect(request: pytest.FixtureRequest, catalog: Catalog) -> ClientFactory:
    """Opens a client to the server over each transport in turn."""
    match request.param:
        case "memory":
            return memory_client(catalog)
        case "stdio":
            return stdio_client()
        case _:
            server: RunningServer = request.getfixturevalue("http_server")
            return http_client(server.url)


@pytest.fixture(params=["memory", "stdio", "http"])
def any_transport(request: pytest.FixtureRequest, catalog: Catalog) -> ClientFactory:
    """The official client in memory, over a stdio subprocess, and over streamable HTTP, in turn."""
    if request.param == "memory":
        return memory_client(catalog)
    if request.param == "stdio":
        return stdio_client()
    server: RunningServer = request.getfixturevalue("http_server")
    return http_client(server.url)
