"""The three tools as an LLM sees them: typed, described parameters; each body calls the domain layer.

Every tool returns a pydantic model as structured output. A domain refusal (unknown KPI,
missing input, an unsafe comparison…) comes back as `is_error` with a structured payload
carrying a stable `code`, so a model can branch on it instead of parsing prose.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from kpi_context.ontology.model import Domain, Stage, Tier
from kpi_context.server.ledger_calls import LedgerArgument, compute_with_ledger
from kpi_context.server.output_schemas import lean_schema
from kpi_context.server.results import refusal, success
from kpi_context.tools.compare import BenchmarkRef, Comparison, compare_metrics
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.inputs import InputArgument
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.lookup import LookupResult, lookup_kpi
from kpi_context.tools.values import BoundValue, ValueClaim

READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, destructiveHint=False, openWorldHint=False)

LOOKUP_DESCRIPTION = """Find a governed SaaS KPI and learn what it means before you quote or compute it.

Returns definitions with their binding (value basis, grain, recurring inclusion, annualization,
time basis), governed variants, formula and input names, benchmark with source and tier,
pitfalls, drift risk and the KPIs that must be read alongside. Accepts an id
('sales.avg_contract_value'), an alias ('NDR', 'ACV') or words ('magic number'). A family name
such as 'ACV' returns every member with what distinguishes each: pick one deliberately.
`exact` is true when the query named exactly one KPI."""

COMPUTE_DESCRIPTION = """Compute a KPI and get a bound value: an exact decimal tied to the rules that produced it.

`inputs` maps the input names lookup_kpi lists to numbers (bound by the catalog's defaults) or
to bound values returned by earlier calls. A primary KPI reported by finance (e.g. ARR) is
bound with inputs={"sales.arr": 10000000}. Inputs whose binding does not fit the formula are
refused (code input_binding_mismatch) instead of producing a silently wrong number. Quote the
returned `label` verbatim in narratives; pass the whole bound value to compare_metrics."""

COMPARE_DESCRIPTION = """Compare two bound values, or a bound value with its benchmark ({"benchmark": "median"}).

Only values with the same KPI rules are compared: same KPI and variant, value basis, grain,
recurring inclusion, annualization, time basis, currency, unit and aligned periods (two periods
of one KPI is a trend). Otherwise the call is refused with code unsafe_comparison, the
mismatched axes and remedies naming what would be comparable; a refusal carries no difference
or ratio, so never compute one yourself from the two values."""


ToolFn = Callable[..., Any]


def make_tools(context: ToolContext, datasets: DatasetRegistry | None = None) -> list[Tool]:
    """The three tools, bound to `context` (and to the ledgers in `datasets`), ready for the server."""
    ledgers = datasets or DatasetRegistry(data_dir=None)

    async def lookup_kpi_tool(
        query: Annotated[str, Field(description="KPI id, slug, label, alias or a few words.", min_length=1)],
        domain: Annotated[Domain | None, Field(description="Only KPIs of this domain.")] = None,
        stage: Annotated[Stage | None, Field(description="Only KPIs suggested for this company stage.")] = None,
        tier: Annotated[Tier | None, Field(description="Only definitions of this source tier.")] = None,
        limit: Annotated[int, Field(description="Most matches to return.", ge=1, le=25)] = 5,
    ) -> Annotated[CallToolResult, LookupResult]:
        try:
            return success(lookup_kpi(context, query, domain=domain, stage=stage, tier=tier, limit=limit))
        except KpiError as error:
            return refusal(error)

    async def compute_kpi_tool(
        kpi: Annotated[str, Field(description="KPI id (or alias) to compute, e.g. 'sales.avg_contract_value'.")],
        inputs: Annotated[
            dict[str, InputArgument] | None,
            Field(
                description="Input name → number, or a bound value from an earlier call, or "
                '{"value": …, "binding": {…}} to state the rules a figure follows.'
            ),
        ] = None,
        variant: Annotated[
            str | None, Field(description="Governed variant id from lookup_kpi; omit for the default rules.")
        ] = None,
        period: Annotated[
            str | None, Field(description="Period of a flow KPI: '2026-Q3', '2026-09' or '2026'.")
        ] = None,
        as_of: Annotated[date | None, Field(description="Date of a point-in-time KPI (ISO 8601).")] = None,
        currency: Annotated[
            str | None, Field(description="ISO 4217 code of money inputs given as bare numbers.", pattern="^[A-Z]{3}$")
        ] = None,
        basis: Annotated[
            dict[str, str] | None,
            Field(description="Governed options, e.g. {'recurring_inclusion': 'recurring_plus_one_time'}."),
        ] = None,
        ledger: Annotated[
            LedgerArgument | None,
            Field(
                description="Compute from contract lines instead of inputs: a dataset name the server was started "
                'with, or {"rows": [...]} (optionally "fx_rates"). `basis` then selects governed ledger options.'
            ),
        ] = None,
        *,
        ctx: Context[Any],
    ) -> Annotated[CallToolResult, BoundValue]:
        try:
            if ledger is not None:
                if inputs:
                    raise KpiError(
                        ErrorCode.INVALID_ARGUMENT, "pass either inputs or a ledger, not both", field="ledger"
                    )
                value = await compute_with_ledger(
                    context,
                    ledgers,
                    ctx,
                    kpi,
                    ledger,
                    variant=variant,
                    period=period,
                    as_of=as_of,
                    currency=currency,
                    basis=basis,
                )
                return success(value)
            value = compute_from_inputs(
                context,
                kpi,
                inputs,
                variant=variant,
                period=period,
                as_of=as_of,
                currency=currency,
                basis=basis,
            )
            return success(value)
        except KpiError as error:
            return refusal(error)

    async def compare_metrics_tool(
        left: Annotated[ValueClaim, Field(description="A bound value (as returned by compute_kpi).")],
        right: Annotated[
            ValueClaim | BenchmarkRef,
            Field(description='Another bound value, or {"benchmark": "p25" | "median" | "p75"}.'),
        ],
    ) -> Annotated[CallToolResult, Comparison]:
        try:
            return success(compare_metrics(context, left, right))
        except KpiError as error:
            return refusal(error)

    tools: Mapping[str, tuple[ToolFn, str, str]] = {
        "lookup_kpi": (lookup_kpi_tool, "Look up a governed KPI", LOOKUP_DESCRIPTION),
        "compute_kpi": (compute_kpi_tool, "Compute a bound KPI value", COMPUTE_DESCRIPTION),
        "compare_metrics": (compare_metrics_tool, "Compare two bound values safely", COMPARE_DESCRIPTION),
    }
    made = []
    for name, (fn, title, description) in tools.items():
        tool = Tool.from_function(fn, name=name, title=title, description=description, annotations=READ_ONLY)
        schema = tool.fn_metadata.output_schema
        if schema is not None:
            # Published leaner; the SDK still validates results against the pydantic model itself.
            tool.fn_metadata.output_schema = lean_schema(schema)
        made.append(tool)
    return made
