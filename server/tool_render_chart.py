"""The `render_chart` tool: a board chart as a PNG, with its specification as structured content."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import Field

from kpi_context.server.arguments import VALUE_HELP, value_claim
from kpi_context.server.results import refusal
from kpi_context.server.tool_check_narrative import read_result
from kpi_context.server.tool_support import Services, check_text_lengths, off_loop, services_of
from kpi_context.tools import charts
from kpi_context.tools.board_pack import BoardPack
from kpi_context.tools.charts import MAX_CHART_VALUES, MAX_SIDE, MIN_SIDE
from kpi_context.tools.charts_model import HEIGHT, WIDTH, ChartKind, ChartSpec
from kpi_context.tools.charts_render import render_png
from kpi_context.tools.errors import KpiError
from kpi_context.tools.series import Series

TITLE = "Render a board chart"
DESCRIPTION = """Draw a board chart as a PNG (1200×675 by default), with its spec (exact data, governed titles,
Vega-Lite) as structured content. kind arr_bridge: a board_pack result, or a net new ARR value from a ledger;
trend: a kpi_series result, or bound values (NRR with GRR on one axis); segments: a series with group_by.
Give one of values, series, pack."""


def chart_result(spec: ChartSpec, png: bytes) -> CallToolResult:
    """The image, the spec's data as text for clients that read only text, and the whole spec as structured content."""
    payload = spec.model_dump(mode="json", exclude_defaults=True)
    readable = {key: item for key, item in payload.items() if key != "vega_lite"}
    return CallToolResult(
        content=[
            ImageContent(type="image", data=base64.b64encode(png).decode("ascii"), mime_type="image/png"),
            TextContent(type="text", text=json.dumps(readable, ensure_ascii=False, separators=(",", ":"))),
        ],
        structured_content=payload,
    )


def _drawn(services: Services, kind: ChartKind, **sources: Any) -> tuple[ChartSpec, bytes]:
    spec = charts.chart(services.context, kind, **sources)
    return spec, render_png(spec)


async def render_chart(
    kind: Annotated[ChartKind, Field(description="arr_bridge, trend or segments.")],
    values: Annotated[
        list[dict[str, Any]] | None,
        Field(description=f"Bound values to chart. Each: {VALUE_HELP}", max_length=MAX_CHART_VALUES),
    ] = None,
    series: Annotated[dict[str, Any] | None, Field(description="A kpi_series result, passed back whole.")] = None,
    pack: Annotated[dict[str, Any] | None, Field(description="A board_pack result, passed back whole.")] = None,
    width: Annotated[int, Field(description="Pixels.", ge=MIN_SIDE, le=MAX_SIDE)] = WIDTH,
    height: Annotated[int, Field(description="Pixels.", ge=MIN_SIDE, le=MAX_SIDE)] = HEIGHT,
    *,
    ctx: Context[Services, Any],
) -> Annotated[CallToolResult, ChartSpec]:
    services = services_of(ctx)
    try:
        for name, raw in (("values", values), ("series", series), ("pack", pack)):
            check_text_lengths(raw, name)
        spec, png = await off_loop(
            _drawn,
            services,
            kind,
            values=None if values is None else [value_claim(raw, f"values.{i}") for i, raw in enumerate(values)],
            series=None if series is None else read_result(Series, series, "series"),
            pack=None if pack is None else read_result(BoardPack, pack, "pack"),
            size=(width, height),
        )
        return chart_result(spec, png)
    except KpiError as error:
        return refusal(error)
