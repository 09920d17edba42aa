"""Every tool the server offers, as data: the function, its title and the description a model reads.

The tool surface is a public API for language models (snapshot: `server/tool_surface.json`).
Adding a tool means adding one module with one top-level function and one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver.tools import Tool

from kpi_context.server import (
    tool_board_pack,
    tool_check_narrative,
    tool_compare,
    tool_compute,
    tool_lookup,
    tool_render_chart,
    tool_series,
)
from kpi_context.server.output_schemas import lean_schema
from kpi_context.server.tool_support import READ_ONLY


@dataclass(frozen=True)
class ToolSpec:
    fn: Callable[..., Any]
    title: str
    description: str

    @property
    def name(self) -> str:
        return self.fn.__name__


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(tool_lookup.lookup_kpi, tool_lookup.TITLE, tool_lookup.DESCRIPTION),
    ToolSpec(tool_compute.compute_kpi, tool_compute.TITLE, tool_compute.DESCRIPTION),
    ToolSpec(tool_compare.compare_metrics, tool_compare.TITLE, tool_compare.DESCRIPTION),
    ToolSpec(tool_series.kpi_series, tool_series.TITLE, tool_series.DESCRIPTION),
    ToolSpec(tool_board_pack.board_pack, tool_board_pack.TITLE, tool_board_pack.DESCRIPTION),
    ToolSpec(tool_check_narrative.check_narrative, tool_check_narrative.TITLE, tool_check_narrative.DESCRIPTION),
    ToolSpec(tool_render_chart.render_chart, tool_render_chart.TITLE, tool_render_chart.DESCRIPTION),
)


def make_tools(specs: tuple[ToolSpec, ...] = TOOLS) -> list[Tool]:
    """The tools, ready for the server, with the lean schemas a model reads."""
    made = []
    for spec in specs:
        tool = Tool.from_function(
            spec.fn, name=spec.name, title=spec.title, description=spec.description, annotations=READ_ONLY
        )
        schema = tool.fn_metadata.output_schema
        if schema is not None:
            # Published leaner; the SDK still validates results against the pydantic model itself.
            tool.fn_metadata.output_schema = lean_schema(schema)
        # The input schema is read by the model on every conversation: inlined, without generated titles.
        # Arguments are still validated strictly against the tool's own argument model (StrictArguments).
        tool.parameters = lean_schema(tool.parameters)
        made.append(tool)
    return made
