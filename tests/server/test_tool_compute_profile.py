"""compute_kpi and compare_metrics under the example governance profile, through the official MCP client over
memory, a stdio subprocess and streamable HTTP (`kpi-context serve --profile profiles/example.json`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from kpi_context.ontology.catalog import Catalog
from tests.support.profiles import EXAMPLE
from tests.support.results import outcome
from tests.support.servers import (
    CLI,
    DATASET_ARGS,
    SECRET,
    ClientFactory,
    RunningServer,
    memory_client_with_profile,
    start_http_server,
    stop,
)

ACV = {"kpi": "sales.avg_contract_value", "ledger": "sample", "period": "FY2027-Q3"}


@pytest.fixture(scope="module")
def http_profile_server() -> Iterator[RunningServer]:
    server = start_http_server("--profile", str(EXAMPLE))
    yield server
    stop(server)


@pytest.fixture(params=["memory", "stdio", "http"])
def governed(request: pytest.FixtureRequest, catalog: Catalog) -> ClientFactory:
    if request.param == "memory":
        return memory_client_with_profile(catalog, EXAMPLE)
    if request.param == "stdio":
        params = StdioServerParameters(
            command=CLI,
            args=["serve", *DATASET_ARGS, "--profile", str(EXAMPLE)],
            env={**os.environ, "KPI_CONTEXT_SECRET": SECRET},
        )
        return lambda: Client(params)
    server: RunningServer = request.getfixturevalue("http_profile_server")

    def make() -> AbstractAsyncContextManager[Client]:
        return Client(server.url)

    return make


async def _calls(connect: ClientFactory, *calls: tuple[str, dict[str, Any]]) -> list[tuple[bool, dict[str, Any]]]:
    async with connect() as client:
        return [outcome(await client.call_tool(tool, arguments)) for tool, arguments in calls]


async def test_locks_apply_refuse_and_record_an_override_over_every_transport(governed: ClientFactory) -> None:
    (_, locked), (refused, refusal), (_, overridden) = await _calls(
        governed,
        ("compute_kpi", ACV),
        ("compute_kpi", {**ACV, "variant": "default"}),
        ("compute_kpi", {**ACV, "variant": "default", "override": True}),
    )
    # Left open, the variant is Acme's locked first-year ACV, for fiscal Q3 FY2027 (Aug–Oct 2026).
    assert locked["variant"] == "first_year"
    assert locked["period"] == {"start": "2026-08-01", "end": "2026-10-31"}
    assert "Q3 FY2027" in locked["label"]
    assert locked["provenance"]["profile"]["id"] == "acme"
    # Contradicting the lock is refused, naming it, its approver and its date.
    assert refused
    error = refusal["error"]
    assert error["code"] == "locked_decision"
    assert error["details"]["approver"] == "Dana Whitfield (CFO)"
    assert error["details"]["approved_on"] == "2026-10-05"
    # With override the value is computed and says it deviates.
    assert "deviates from Acme's locked ACV policy" in overridden["label"]
    assert overridden["deviation"]["locked"] == {"variant": "first_year"}
    # And it is never compared with a value computed under the lock.
    [(is_error, comparison)] = await _calls(governed, ("compare_metrics", {"left": overridden, "right": locked}))
    assert is_error
    assert "deviation" in {m["axis"] for m in comparison["error"]["mismatches"]}
