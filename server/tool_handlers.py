"""The three tools as an LLM sees them: typed, described parameters; each body calls the domain layer.

Every tool returns a pydantic model as structured output. A domain refusal (unknown KPI,
missing input, an unsafe comparison…) comes back as `is_error` whose text is a JSON payload
carrying a stable `code`, so a model can branch on it instead of parsing prose.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from datetime import date
from typing import Annotated, Any, TypeVar

import anyio.to_thread
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
from kpi_context.server.ledger_calls import LedgerSpec, compute_with_ledger
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
T = TypeVar("T")

# Longest accepted text per argument. Real values are far shorter (the longest KPI id is under 40
# characters); the bounds exist so that no request can make the server rank or parse megabytes.
QUERY_MAX = 200
KPI_MAX = 100
VARIANT_MAX = 64
PERIOD_TEXT_MAX = 32
NAME_MAX = 64
"""Input names and dataset names."""
VALUE_TEXT_MAX = 1_000
"""Any string inside a bound value passed back (`inputs`, `left`, `right`); the longest one issued is ~120."""

InputName = Annotated[str, Field(max_length=NAME_MAX)]
DatasetName = Annotated[str, Field(max_length=NAME_MAX)]


async def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run blocking domain work (ranking, exact arithmetic) in a worker thread, never on the event loop."""
    return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))


def check_text_lengths(raw: object, field: str, limit: int = VALUE_TEXT_MAX) -> None:
    """Refuse a bound value passed back whose keys or strings are longer than any value the server issues."""
    if isinstance(raw, str):
        if len(raw) > limit:
            raise KpiError(
                ErrorCode.INVALID_ARGUMENT,
                f"argument {field!r} is {len(raw):,} characters long; at most {limit:,} are accepted",
                field=field,
            )
    elif isinstance(raw, Mapping):
        for key, value in raw.items():
            check_text_lengths(key, field, limit)
            check_text_lengths(value, f"{field}.{key}", limit)
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            check_text_lengths(item, f"{field}.{index}", limit)


def make_tools(context: ToolContext, datasets: DatasetRegistry | None = None) -> list[Tool]:
    """The three tools, bound to `context` (and to the ledgers in `datasets`), ready for the server."""
    ledgers = datasets or DatasetRegistry(data_dir=None)

    async def lookup_kpi_tool(
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
    ) -> Annotated[CallToolResult, LookupResult]:
        try:
            found = await off_loop(
                lookup_kpi, context, query, domain=domain, stage=stage, tier=tier, limit=limit, detail=detail
            )
            return success(found)
        except KpiError as error:
            return refusal(error)

    async def compute_kpi_tool(
        kpi: Annotated[
            str,
            Field(description="KPI id (or alias) to compute, e.g. 'sales.avg_contract_value'.", max_length=KPI_MAX),
        ],
        inputs: Annotated[dict[InputName, InputValue] | None, Field(description=INPUTS_HELP)] = None,
        variant: Annotated[
            str | None,
            Field(
                description="Governed variant id from lookup_kpi; omit for the default rules.", max_length=VARIANT_MAX
            ),
        ] = None,
        period: Annotated[
            Annotated[str, Field(max_length=PERIOD_TEXT_MAX)] | Period | None,
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
            DatasetName | LedgerSpec | None,
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
            check_text_lengths(inputs, "inputs")
            value = await off_loop(
                compute_from_inputs,
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
            check_text_lengths(left, "left")
            check_text_lengths(right, "right")
            claim = value_claim(left, "left")
            return success(await off_loop(compare_metrics, context, claim, comparison_side(right, "right")))
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
