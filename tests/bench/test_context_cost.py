"""The context-cost bench's script still runs on the current server: every call answered, only the planned refusals refused."""

from __future__ import annotations

from typing import Any

from mcp import Client
from mcp.types import CallToolResult

from bench.context_cost import SCRIPT, replay, tools_cost
from kpi_context.ontology.loader import load_catalog
from kpi_context.server.app import build_server
from kpi_context.tools.context import ToolContext
from kpi_context.tools.ledger.source import DatasetRegistry
from tests.support.servers import DATA_DIR, SAMPLE_LEDGER, SECRET


async def test_script_runs_on_the_current_server() -> None:
    datasets = DatasetRegistry.from_cli(DATA_DIR, [f"sample={SAMPLE_LEDGER}"])
    server = build_server(ToolContext.create(load_catalog(), secret=SECRET.encode()), datasets)
    async with Client(server) as client:

        async def call_tool(name: str, arguments: dict[str, Any]) -> CallToolResult:
            return await client.call_tool(name, arguments)

        costs = await replay(call_tool)
        listing = tools_cost((await client.list_tools()).tools)

    assert [cost.key for cost in costs] == [step.key for step in SCRIPT]
    assert all(cost.text_chars > 0 and not cost.skipped for cost in costs)
    outcomes = {cost.key: (cost.is_error, cost.error) for cost in costs if cost.is_error}
    assert outcomes == {step.key: (True, "unsafe_comparison") for step in SCRIPT if step.refusal}
    # The first release's three tools come first; the script calls only those, so the session compares like for like.
    assert listing.names[:3] == ["lookup_kpi", "compute_kpi", "compare_metrics"]
    assert set(listing.names[3:]) == {"kpi_series", "board_pack", "check_narrative", "render_chart"}
    assert listing.model_chars + listing.output_schema_chars <= listing.total_chars
