"""The `lookup_kpi` tool: find a governed KPI and learn how to use it."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from kpi_context.ontology.model import Domain, Stage, Tier
from kpi_context.server.results import refusal, success
from kpi_context.server.tool_support import QUERY_MAX, Services, off_loop, services_of
from kpi_context.tools import lookup as catalog_search
from kpi_context.tools.errors import KpiError
from kpi_context.tools.lookup import Detail, LookupResult

TITLE = "Look up a governed KPI"
DESCRIPTION = """Find a governed SaaS KPI before you quote or compute it: its rules, unit and scale, formula
inputs, benchmark, must-pair KPIs and main pitfall. Accepts an id, an alias ('NDR') or words ('magic number').
A family name ('ACV') returns each member with what sets it apart: pick one deliberately. `exact` is true only
when the query named one KPI. detail='full' adds the whole governance record."""


async def lookup_kpi(
    query: Annotated[
        str, Field(description="KPI id, slug, label, alias or a few words.", min_length=1, max_length=QUERY_MAX)
    ],
    domain: Annotated[Domain | None, Field(description="Only KPIs of this domain.")] = None,
    stage: Annotated[Stage | None, Field(description="Only KPIs suggested for this company stage.")] = None,
    tier: Annotated[Tier | None, Field(description="Only definitions of this source tier.")] = None,
    limit: Annotated[int, Field(description="Most matches to return.", ge=1, le=25)] = 5,
    detail: Annotated[
        Detail, Field(description="'card' (default): what you need to use the KPI; 'full': the whole record.")
    ] = Detail.CARD,
    *,
    ctx: Context[Services, Any],
) -> Annotated[CallToolResult, LookupResult]:
    services = services_of(ctx)
    try:
        found = await off_loop(
            catalog_search.lookup_kpi,
            services.context,
            query,
            domain=domain,
            stage=stage,
            tier=tier,
            limit=limit,
            detail=detail,
        )
        return success(found)
    except KpiError as error:
        return refusal(error)
