"""render_chart through the official MCP client, in memory: a PNG image block and the chart spec."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from mcp.types import CallToolResult, ImageContent, TextContent

from kpi_context.ontology.catalog import Catalog
from kpi_context.server import app, registry
from kpi_context.tools.board_pack import board_pack
from kpi_context.tools.context import ToolContext
from kpi_context.tools.ledger.source import DatasetRegistry
from tests.server.test_tool_check_narrative import NEW_TOOLS
from tests.support.servers import DATA_DIR, SAMPLE_LEDGER, SECRET, ClientFactory, memory_client


@pytest.fixture
def connect(monkeypatch: pytest.MonkeyPatch, catalog: Catalog) -> Iterator[ClientFactory]:
    monkeypatch.setattr(app, "make_tools", lambda: registry.make_tools(registry.TOOLS + NEW_TOOLS))
    yield memory_client(catalog)


def image_size(result: CallToolResult) -> tuple[int, int]:
    [image] = [b for b in result.content if isinstance(b, ImageContent)]
    assert image.mime_type == "image/png"
    png = base64.b64decode(image.data)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def error_of(result: CallToolResult) -> dict[str, Any]:
    assert result.is_error
    block = next(b for b in result.content if isinstance(b, TextContent))
    error: dict[str, Any] = json.loads(block.text)["error"]
    return error


async def test_the_tool_is_listed_with_a_short_description(connect: ClientFactory) -> None:
    async with connect() as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    tool = tools["render_chart"]
    assert tool.description is not None and 300 <= len(tool.description) <= 450
    assert tool.input_schema["properties"]["kind"]["enum"] == ["arr_bridge", "trend", "segments"]


async def test_a_net_new_arr_value_renders_the_bridge_as_a_png_with_its_spec(connect: ClientFactory) -> None:
    async with connect() as client:
        computed = await client.call_tool(
            "compute_kpi", {"kpi": "sales.net_new_arr", "ledger": "sample", "period": "2026-Q3"}
        )
        assert computed.structured_content is not None
        result = await client.call_tool("render_chart", {"kind": "arr_bridge", "values": [computed.structured_content]})
    assert not result.is_error, result.content
    assert image_size(result) == (1200, 675)
    spec = result.structured_content
    assert spec is not None and spec["kind"] == "arr_bridge" and spec["reconciles"] is True
    # opening 12,164,323.35 ... closing 14,119,878.81: the bound numbers, exactly
    assert Decimal(spec["data"][0]["value"]) == Decimal("12164323.35")
    assert Decimal(spec["data"][-1]["value"]) == Decimal("14119878.81")
    assert spec["vega_lite"]["data"]["values"][-1]["value"] == 14119878.81
    text = next(b for b in result.content if isinstance(b, TextContent))
    assert "vega_lite" not in json.loads(text.text)


async def test_a_board_pack_renders_its_bridge_at_the_size_asked(connect: ClientFactory, catalog: Catalog) -> None:
    ctx = ToolContext.create(catalog, secret=SECRET.encode())
    datasets = DatasetRegistry.from_cli(DATA_DIR, [f"sample={SAMPLE_LEDGER}"])
    pack = board_pack(ctx, "2026-Q3", datasets=datasets, ledger="sample", kpis=["sales.arr", "sales.net_new_arr"])
    async with connect() as client:
        result = await client.call_tool(
            "render_chart",
            {
                "kind": "arr_bridge",
                "pack": pack.model_dump(mode="json", exclude_defaults=True),
                "width": 960,
                "height": 540,
            },
        )
    assert not result.is_error, result.content
    assert image_size(result) == (960, 540)
    assert result.structured_content is not None and "verified" not in result.structured_content  # true: the default


async def test_a_size_beyond_the_bounds_is_refused_naming_it(connect: ClientFactory) -> None:
    async with connect() as client:
        result = await client.call_tool("render_chart", {"kind": "trend", "values": [], "width": 5000})
    error = error_of(result)
    assert error["code"] == "invalid_argument" and error["field"] == "width"


async def test_two_sources_at_once_are_refused(connect: ClientFactory) -> None:
    async with connect() as client:
        computed = await client.call_tool("compute_kpi", {"kpi": "sales.arr", "ledger": "sample", "period": "2026-Q3"})
        assert computed.structured_content is not None
        result = await client.call_tool(
            "render_chart",
            {"kind": "trend", "values": [computed.structured_content], "series": {"kpi": "sales.arr"}},
        )
    error = error_of(result)
    assert error["code"] == "invalid_argument"
