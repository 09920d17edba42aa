"""The three tools as an LLM sees them: typed, described parameters; each body calls the domain layer.

Every tool returns a pydantic model as structured output. A domain refusal (unknown KPI,
missing input, an unsafe comparison…) comes back as `is_error` whose text is a JSON payload
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
from kpi_context.server.arguments import (
    INPUTS_HELP,
    VALUE_HELP,
    Basis,
    InputValue,
    ValueArgument,
    comparison_side,
    input_arguments,
    value_claim,
)
from kpi_context.server.ledger_calls import LedgerArgument, compute_with_ledger
from kpi_context.server.output_schemas import lean_schema
from kpi_context.server.results import refusal, success
from kpi_context.tools.compare import Comparison, compare_metrics
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.lookup import Detail, LookupResult, lookup_kpi
from kpi_context.tools.periods import Period
from kpi_context.tools.values import BoundValue

READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, destructiveHint=False, openWorldHint=False)

LOOKUP_DESCRIPTION = """Find a governed SaaS KPI before you quote or compute it: its rules, unit and scale, formula
inputs, benchmark, must-pair KPIs and main pitfall. Accepts an id, an alias ('NDR') or words ('magic number').
A family name ('ACV') returns each member with what sets it apart: pick one deliberately. `exact` is true only
when the query named one KPI. detail='full' adds the whole governance record."""

COMPUTE_DESCRIPTION = """Compute a KPI as a bound value: an exact number tied to the rules that produced it.
Give `inputs` (names from lookup_kpi) or a `ledger`. Bare numbers are read in the input's unit; percents on the
0–100 scale, so 0.76 for a gross margin is refused as implausible, not read as 0.76 %. Inputs bound under other
rules or periods are refused. Quote `label` verbatim; pass the whole value to compare_metrics."""

COMPARE_DESCRIPTION = """Compare two bound values, or one with its benchmark. Only values under the same rules
(KPI, variant, binding, ledger options, currency, aligned periods) are compared; otherwise the call is refused
with unsafe_comparison, the mismatched axes and remedies. Never compute a difference yourself from a refusal."""


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
        detail: Annotated[
            Detail, Field(description="'card' (default): what you need to use the KPI; 'full': the whole record.")
        ] = Detail.CARD,
    ) -> Annotated[CallToolResult, LookupResult]:
        try:
            return success(
                lookup_kpi(context, query, domain=domain, stage=stage, tier=tier, limit=limit, detail=detail)
            )
        except KpiError as error:
            return refusal(error)

    async def compute_kpi_tool(
        kpi: Annotated[str, Field(description="KPI id (or alias) to compute, e.g. 'sales.avg_contract_value'.")],
        inputs: Annotated[dict[str, InputValue] | None, Field(description=INPUTS_HELP)] = None,
        variant: Annotated[
            str | None, Field(description="Governed variant id from lookup_kpi; omit for the default rules.")
        ] = None,
        period: Annotated[
            str | Period | None,
            Field(
                description="The period: '2026-Q3', '2026-09', '2026' or {'start': 'YYYY-MM-DD', 'end': 'YYYY-MM-DD'}. "
                "A trailing-window KPI (NRR) is computed for the window ending at the period's close."
            ),
        ] = None,
        as_of: Annotated[date | None, Field(description="Date of a point-in-time KPI (ISO 8601).")] = None,
        currency: Annotated[
            str | None, Field(description="ISO 4217 code of money inputs given as bare numbers.", pattern="^[A-Z]{3}$")
        ] = None,
        basis: Annotated[
            Basis | None,
            Field(description="Governed options (see lookup_kpi variants); ledger keys apply with `ledger`."),
        ] = None,
        ledger: Annotated[
            LedgerArgument | None,
            Field(
                description="Compute from contract lines instead of inputs: a dataset name the server was started "
                'with, or {"rows": [...]} (columns: resource kpi://ledger-format), optionally with "fx_rates".'
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
                    basis=basis.chosen() if basis else None,
                )
                return success(value)
            value = compute_from_inputs(
                context,
                kpi,
                input_arguments(inputs),
                variant=variant,
                period=period,
                as_of=as_of,
                currency=currency,
                basis=basis.chosen() if basis else None,
            )
            return success(value)
        except KpiError as error:
            return refusal(error)

    async def compare_metrics_tool(
        left: ValueArgument,
        right: Annotated[
            dict[str, Any],
            Field(description=f'{VALUE_HELP} Or {{"benchmark": "p25" | "median" | "p75"}} to place `left`.'),
        ],
    ) -> Annotated[CallToolResult, Comparison]:
        try:
            claim = value_claim(left, "left")
            return success(compare_metrics(context, claim, comparison_side(right, "right")))
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
        # The input schema is read by the model on every conversation: inlined, without generated titles.
        # Arguments are still validated strictly against the tool's own argument model (StrictArguments).
        tool.parameters = lean_schema(tool.parameters)
        made.append(tool)
    return made
