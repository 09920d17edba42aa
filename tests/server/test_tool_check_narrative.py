"""check_narrative through the official MCP client, in memory, on a server that lists it.

The registry is not edited here: the server under test is built with the registered tools plus
check_narrative (and render_chart), the way server/app.py builds the real one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult, TextContent

from kpi_context.ontology.catalog import Catalog
from kpi_context.server import app, registry, tool_check_narrative, tool_render_chart
from kpi_context.server.registry import ToolSpec
from kpi_context.tools.board_pack import board_pack
from kpi_context.tools.context import ToolContext
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.narrative.model import MAX_TEXT
from tests.support.servers import DATA_DIR, SAMPLE_LEDGER, SECRET, ClientFactory, memory_client

NEW_TOOLS = (
    ToolSpec(tool_check_narrative.check_narrative, tool_check_narrative.TITLE, tool_check_narrative.DESCRIPTION),
    ToolSpec(tool_render_chart.render_chart, tool_render_chart.TITLE, tool_render_chart.DESCRIPTION),
)


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> Iterator[ClientFactory]:
    monkeypatch.setattr(app, "make_tools", lambda: registry.make_tools(registry.TOOLS + NEW_TOOLS))
    yield memory_client(catalog)


def payload(result: CallToolResult) -> dict[str, Any]:
    block = next(b for b in result.content if isinstance(b, TextContent))
    parsed: dict[str, Any] = json.loads(block.text)
    return parsed


async def computed(client: Client, kpi: str, period: str) -> dict[str, Any]:
    result = await client.call_tool("compute_kpi", {"kpi": kpi, "ledger": "sample", "period": period})
    assert not result.is_error and result.structured_content is not None, result.content
    return result.structured_content


async def test_the_tool_is_listed_with_a_short_description_and_three_arguments(connect: ClientFactory) -> None:
    async with connect() as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    tool = tools["check_narrative"]
    assert tool.description is not None and 300 <= len(tool.description) <= 450
    assert set(tool.input_schema["properties"]) == {"text", "values", "pack"}


async def test_a_draft_is_checked_against_values_passed_back_from_compute_kpi(connect: ClientFactory) -> None:
    async with connect() as client:
        arr_q3 = await computed(client, "sales.arr", "2026-Q3")
        arr_q2 = await computed(client, "sales.arr", "2026-Q2")
        # Q2 ARR is 12,164,323.35 ($12.2M); $14.1M is Q3's 14,119,878.81; $14.3M is no value
        text = "Q2 ARR of $14.1M rose to $14.3M in Q3."
        result = await client.call_tool("check_narrative", {"text": text, "values": [arr_q3, arr_q2]})
    assert not result.is_error and result.structured_content is not None
    findings = result.structured_content["findings"]
    assert [(f["code"], f["text"], f["span"]) for f in findings] == [
        ("mismatched_value", "$14.1M", [10, 16]),
        ("unbacked_number", "$14.3M", [25, 31]),
    ]
    assert result.structured_content["passed"] is False


async def test_a_board_pack_result_is_checked_as_passed_back(connect: ClientFactory, catalog: Catalog) -> None:
    ctx = ToolContext.create(catalog, secret=SECRET.encode())
    datasets = DatasetRegistry.from_cli(DATA_DIR, [f"sample={SAMPLE_LEDGER}"])
    pack = board_pack(ctx, "2026-Q3", datasets=datasets, ledger="sample", kpis=["sales.arr", "sales.net_new_arr"])
    wire = pack.model_dump(mode="json", exclude_defaults=True)
    async with connect() as client:
        result = await client.call_tool(
            "check_narrative", {"text": "ARR closed Q3 at $14.1M, with net new ARR of $1.96M.", "pack": wire}
        )
    assert not result.is_error and result.structured_content is not None
    assert result.structured_content["passed"] is True
    assert "findings" not in result.structured_content and "notes" not in result.structured_content


async def test_an_oversized_draft_is_refused_naming_the_text(connect: ClientFactory) -> None:
    async with connect() as client:
        result = await client.call_tool("check_narrative", {"text": "x" * (MAX_TEXT + 1), "values": []})
    assert result.is_error
    error = payload(result)["error"]
    assert error["code"] == "invalid_argument" and error["field"] == "text"


async def test_a_malformed_value_is_refused_naming_its_place(connect: ClientFactory) -> None:
    async with connect() as client:
        result = await client.call_tool(
            "check_narrative", {"text": "ARR was $14.1M.", "values": [{"kpi": "sales.arr", "value": "14.1M"}]}
        )
    assert result.is_error
    error = payload(result)["error"]
    assert error["code"] == "invalid_argument" and error["field"].startswith("values.0")
