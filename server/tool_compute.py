"""The `compute_kpi` tool: one KPI as a bound value, from inputs or from a contract ledger."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from kpi_context.server.arguments import INPUTS_HELP, InputValue, input_arguments
from kpi_context.server.ledger_calls import LedgerSpec, compute_with_ledger, ledger_argument, with_progress
from kpi_context.server.results import refusal, success
from kpi_context.server.tool_support import (
    AsOfArg,
    BasisArg,
    CurrencyArg,
    GroupByArg,
    InputName,
    KpiArg,
    LedgerArg,
    PeriodArg,
    Services,
    VariantArg,
    WhereArg,
    check_text_lengths,
    off_loop,
    services_of,
)
from kpi_context.tools import compute as arithmetic
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.governance import with_profile_rates
from kpi_context.tools.ledger.engine import compute_cuts_from_ledger
from kpi_context.tools.periods import parse_period
from kpi_context.tools.series import cut_value
from kpi_context.tools.values import BoundValue

TITLE = "Compute a bound KPI value"
DESCRIPTION = """Compute a KPI as a bound value: an exact number tied to the rules that produced it.
Give `inputs` (names from lookup_kpi) or a `ledger`. Bare numbers are read in the input's unit; percents on the
0–100 scale, so 0.76 for a gross margin is refused as implausible, not read as 0.76 %. Inputs bound under other
rules or periods are refused. Quote `label` verbatim; pass the whole value to compare_metrics."""


async def compute_kpi(
    kpi: KpiArg,
    inputs: Annotated[dict[InputName, InputValue] | None, Field(description=INPUTS_HELP)] = None,
    variant: VariantArg = None,
    period: PeriodArg = None,
    as_of: AsOfArg = None,
    currency: CurrencyArg = None,
    basis: BasisArg = None,
    ledger: LedgerArg = None,
    group_by: GroupByArg = None,
    where: WhereArg = None,
    override: Annotated[
        bool, Field(description="true to deviate from the organisation's locked rules; the value says so.")
    ] = False,
    *,
    ctx: Context[Services, Any],
) -> Annotated[CallToolResult, BoundValue]:
    services = services_of(ctx)
    context = services.context.overriding(override)
    try:
        if isinstance(period, str):
            period = parse_period(period, fiscal_start=context.fiscal_start)
        if ledger is not None:
            close = period.end if period is not None and not isinstance(period, str) else as_of
            rated, currency = with_profile_rates(context, ledger_argument(ledger), currency, close)
            if inputs:
                raise KpiError(ErrorCode.INVALID_ARGUMENT, "pass either inputs or a ledger, not both", field="ledger")
            if group_by is not None:
                if where:
                    raise KpiError(ErrorCode.INVALID_ARGUMENT, "give group_by or where, not both", field="where")
                cut = await with_progress(
                    ctx,
                    compute_cuts_from_ledger,
                    context,
                    kpi,
                    rated,
                    datasets=services.datasets,
                    group_by=group_by,
                    variant=variant,
                    period=period,
                    as_of=as_of,
                    currency=currency,
                    basis=basis.chosen() if basis else None,
                )
                return success(cut_value(context, cut))
            value = await compute_with_ledger(
                context,
                services.datasets,
                ctx,
                kpi,
                rated if isinstance(rated, str) else LedgerSpec.model_validate(rated),
                variant=variant,
                period=period,
                as_of=as_of,
                currency=currency,
                basis=basis.chosen() if basis else None,
                where=where,
            )
            return success(value)
        for name, given in (("group_by", group_by), ("where", where)):
            if given:
                raise KpiError(
                    ErrorCode.INVALID_ARGUMENT, f"{name} cuts a ledger computation: give `ledger` too", field=name
                )
        check_text_lengths(inputs, "inputs")
        value = await off_loop(
            arithmetic.compute_from_inputs,
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
