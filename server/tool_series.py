"""The `kpi_series` tool: one KPI over a range of periods from a ledger, with the governed change at each step."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from kpi_context.server.arguments import basis_argument, ledger_reference
from kpi_context.server.ledger_calls import ledger_argument, with_progress
from kpi_context.server.results import refusal, success, with_image
from kpi_context.server.tool_support import (
    ChartArg,
    CurrencyArg,
    Dimension,
    KpiArg,
    LedgerRefArg,
    OptionsArg,
    PeriodText,
    Services,
    VariantArg,
    off_loop,
    services_of,
)
from kpi_context.tools import series as series_domain
from kpi_context.tools.charts import chart_for_series
from kpi_context.tools.charts_render import render_png
from kpi_context.tools.errors import KpiError
from kpi_context.tools.periods import MAX_SERIES_POINTS, Every
from kpi_context.tools.series import Series

TITLE = "A KPI over a range of periods"
DESCRIPTION = f"""One ledger KPI at every month, quarter or year from `start` to `end` (at most
{MAX_SERIES_POINTS} points), each equal to compute_kpi for that period, with the governed change from the
previous point (percentage points for percent KPIs). Balances are read at each close, rates over their window.
Rules, options and ledger counts are stated once. group_by cuts every point by a dimension."""

GROUP_BY_HELP = (
    "Cut every point by a ledger dimension ('segment', 'region', 'product'…): each point gets its members' values; "
    "rates and averages are computed within each member, never averaged."
)
WHERE_HELP = 'Only one member, e.g. {"segment": "enterprise"}: the values are bound to that population.'


def _drawn(series: Series) -> bytes:
    return render_png(chart_for_series(series))


async def kpi_series(
    kpi: KpiArg,
    ledger: LedgerRefArg,
    start: Annotated[PeriodText, Field(description="First period: '2026-01', '2025-Q4' or '2025'.")],
    end: Annotated[PeriodText, Field(description="Last period, same form as start.")],
    every: Annotated[Every, Field(description="Step between points.")] = Every.MONTH,
    variant: VariantArg = None,
    basis: OptionsArg = None,
    currency: CurrencyArg = None,
    group_by: Annotated[Dimension | None, Field(description=GROUP_BY_HELP)] = None,
    where: Annotated[dict[Dimension, Dimension] | None, Field(description=WHERE_HELP)] = None,
    chart: ChartArg = False,
    *,
    ctx: Context[Services, Any],
) -> Annotated[CallToolResult, Series]:
    services = services_of(ctx)
    try:
        found = await with_progress(
            ctx,
            series_domain.kpi_series,
            services.context,
            kpi,
            ledger_argument(ledger_reference(ledger)),
            datasets=services.datasets,
            start=start,
            end=end,
            every=every,
            variant=variant,
            basis=basis_argument(basis),
            currency=currency,
            group_by=group_by,
            where=where,
        )
        if not chart:
            return success(found)
        png = await off_loop(_drawn, found)
        return with_image(success(found), png)
    except KpiError as error:
        return refusal(error)
