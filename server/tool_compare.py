"""The `compare_metrics` tool: a governed comparison of two bound values, or of one with its benchmark."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from kpi_context.server.arguments import VALUE_HELP, ValueArgument, comparison_side, value_claim
from kpi_context.server.results import refusal, success
from kpi_context.server.tool_support import Services, check_text_lengths, off_loop, services_of
from kpi_context.tools import compare as comparing
from kpi_context.tools.compare import Comparison
from kpi_context.tools.errors import KpiError

TITLE = "Compare two bound values safely"
DESCRIPTION = """Compare two bound values, or one with its benchmark. Only values under the same rules
(KPI, variant, binding, ledger options, currency, aligned periods) are compared; otherwise the call is refused
with unsafe_comparison, the mismatched axes and remedies. Never compute a difference yourself from a refusal."""


async def compare_metrics(
    left: ValueArgument,
    right: Annotated[
        dict[str, Any],
        Field(description=f'{VALUE_HELP} Or {{"benchmark": "p25" | "median" | "p75"}} to place `left`.'),
    ],
    *,
    ctx: Context[Services, Any],
) -> Annotated[CallToolResult, Comparison]:
    services = services_of(ctx)
    try:
        check_text_lengths(left, "left")
        check_text_lengths(right, "right")
        claim = value_claim(left, "left")
        side = comparison_side(right, "right")
        return success(await off_loop(comparing.compare_metrics, services.context, claim, side))
    except KpiError as error:
        return refusal(error)
