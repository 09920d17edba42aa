"""Builds the MCP server: tools, resources, prompt and the strict-argument middleware."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcp.server.mcpserver import MCPServer

from kpi_context import __version__
from kpi_context.server.registry import make_tools
from kpi_context.server.resources import register_resources
from kpi_context.server.strict_arguments import StrictArguments, argument_models
from kpi_context.server.tool_support import Services
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode
from kpi_context.tools.ledger.source import DatasetRegistry

INSTRUCTIONS = (
    """Governed SaaS KPIs. Every number is bound to the rules that produced it (value basis, grain,
recurring inclusion, annualization, time basis, period, currency, ledger options). lookup_kpi to learn a metric,
compute_kpi for a bound value, compare_metrics to compare — never compare values yourself. Quote each `label`
verbatim. Percents are on the 0–100 scale. Refusals are is_error results whose text is {"error": {"code", "message",
"field", "details"}}; codes: """
    + ", ".join(code.value for code in ErrorCode)
    + """.
Ledger columns: resource kpi://ledger-format."""
)


def build_server(context: ToolContext, datasets: DatasetRegistry | None = None) -> MCPServer[Services]:
    services = Services(context, datasets or DatasetRegistry(data_dir=None))

    @asynccontextmanager
    async def lifespan(_: MCPServer[Services]) -> AsyncIterator[Services]:
        # Every tool reads the catalog and the ledgers from here (server.tool_support.services_of).
        yield services

    tools = make_tools()
    server: MCPServer[Services] = MCPServer(
        name="kpi-context",
        title="KPI Context Server",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
        tools=tools,
        middleware=[StrictArguments(argument_models(tools))],
        lifespan=lifespan,
    )
    register_resources(server, context.catalog, context.profile)
    return server
