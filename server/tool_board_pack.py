"""The `board_pack` tool: the KPI section of a board deck for one period, in one call."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp.types import CallToolResult
from pydantic import Field

from kpi_context.server.arguments import InputValue, basis_argument, input_figures, ledger_reference
from kpi_context.server.ledger_calls import ledger_argument, with_progress
from kpi_context.server.results import refusal, success, with_image
from kpi_context.server.tool_support import (
    KPI_MAX,
    CurrencyArg,
    InputName,
    LedgerRefArg,
    OptionsArg,
    PeriodText,
    Services,
    check_text_lengths,
    off_loop,
    services_of,
)
from kpi_context.tools import board_pack as pack_domain
from kpi_context.tools.board_pack import MAX_PACK_KPIS, BoardPack, CompareTo
from kpi_context.tools.charts import chart_for_pack
from kpi_context.tools.charts_render import render_png
from kpi_context.tools.errors import KpiError

TITLE = "The KPI section of a board deck"
DESCRIPTION = """A governed board pack for one period: ARR with QoQ/YoY growth, the ARR bridge, NRR, GRR, logo
churn, new-logo and blended ACV, CARR from the `ledger`; CAC payback, magic number, burn multiple, Rule of 40
and runway from finance `inputs`. Each KPI has its label, changes and must-pair KPIs. KPIs lacking inputs are
listed under not_computable with exactly what to add; nothing is guessed."""

PACK_INPUTS_HELP = (
    "Finance figures keyed by catalog id or formula input name, as in compute_kpi "
    '({"finance.total_sm": 1450000, "sales.gross_margin": 76}). For other periods give a list under the id: '
    '[1450000, {"value": 1300000, "period": "2026-Q2"}]; a bare number is for `period`.'
)


def _drawn(pack: BoardPack) -> bytes:
    return render_png(chart_for_pack(pack))


async def board_pack(
    period: Annotated[PeriodText, Field(description="The pack's period: '2026-Q3', '2026-09' or '2026'.")],
    ledger: LedgerRefArg | None = None,
    inputs: Annotated[
        dict[InputName, InputValue | list[InputValue]] | None, Field(description=PACK_INPUTS_HELP)
    ] = None,
    currency: CurrencyArg = None,
    kpis: Annotated[
        list[Annotated[str, Field(max_length=KPI_MAX)]] | None,
        Field(
            description="KPI ids instead of the default section; 'default' stands for it, so "
            "['default', 'customers.arpa'] extends it.",
            max_length=MAX_PACK_KPIS,
        ),
    ] = None,
    compare_to: Annotated[
        tuple[CompareTo, ...], Field(description="Earlier periods each KPI is compared with.", max_length=2)
    ] = (CompareTo.PRIOR_PERIOD, CompareTo.PRIOR_YEAR),
    basis: OptionsArg = None,
    chart: Annotated[bool, Field(description="Also return the ARR bridge as a PNG waterfall (image content).")] = False,
    *,
    ctx: Context[Services, Any],
) -> Annotated[CallToolResult, BoardPack]:
    services = services_of(ctx)
    try:
        check_text_lengths(inputs, "inputs")
        found = await with_progress(
            ctx,
            pack_domain.board_pack,
            services.context,
            period,
            datasets=services.datasets,
            ledger=None if ledger is None else ledger_argument(ledger_reference(ledger)),
            inputs=input_figures(inputs),
            currency=currency,
            kpis=kpis,
            compare_to=tuple(dict.fromkeys(compare_to)),
            basis=basis_argument(basis),
        )
        if not chart or found.bridge is None:
            return success(found)
        png = await off_loop(_drawn, found)
        return with_image(success(found), png)
    except KpiError as error:
        return refusal(error)
