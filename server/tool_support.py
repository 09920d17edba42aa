"""What every tool module shares: the services a call needs, argument bounds, and running work off the loop.

Each tool is a top-level function in a module of its own (`server/tool_*.py`); `server/registry.py`
lists them as data. A tool reaches the catalog and the registered ledgers through the server's
lifespan state (`services_of(ctx)`), so the functions themselves hold no state.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, TypeVar

import anyio.to_thread
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

from kpi_context.server.arguments import Basis
from kpi_context.server.ledger_calls import LedgerSpec
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.periods import Period

READ_ONLY = ToolAnnotations(readOnlyHint=True, idempotentHint=True, destructiveHint=False, openWorldHint=False)

T = TypeVar("T")

# Longest accepted text per argument. Real values are far shorter (the longest KPI id is under 40
# characters); the bounds exist so that no request can make the server rank or parse megabytes.
QUERY_MAX = 200
KPI_MAX = 100
VARIANT_MAX = 64
PERIOD_TEXT_MAX = 32
NAME_MAX = 64
"""Input names, dataset names, dimension names and members."""
VALUE_TEXT_MAX = 1_000
"""Any string inside a bound value passed back (`inputs`, `left`, `right`); the longest one issued is ~120."""


@dataclass(frozen=True)
class Services:
    """The catalog context and the operator's ledgers: built once per server, shared by every call."""

    context: ToolContext
    datasets: DatasetRegistry


def services_of(ctx: Context[Services, Any]) -> Services:
    services: Services = ctx.request_context.lifespan_context
    return services


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


# --- parameters several tools share, described once so every tool says the same thing ---------------

InputName = Annotated[str, Field(max_length=NAME_MAX)]
DatasetName = Annotated[str, Field(max_length=NAME_MAX)]
PeriodText = Annotated[str, Field(max_length=PERIOD_TEXT_MAX)]

KpiArg = Annotated[
    str, Field(description="KPI id (or alias) to compute, e.g. 'sales.avg_contract_value'.", max_length=KPI_MAX)
]
VariantArg = Annotated[
    str | None,
    Field(description="Governed variant id from lookup_kpi; omit for the default rules.", max_length=VARIANT_MAX),
]
PeriodArg = Annotated[
    PeriodText | Period | None,
    Field(
        description="The period: '2026-Q3', '2026-09', '2026', 'FY2027-Q3' (with a profile) or {'start', 'end'} ISO dates. "
        "A trailing-window KPI (NRR) takes the window ending at the period's close."
    ),
]
AsOfArg = Annotated[date | None, Field(description="Date of a point-in-time KPI (ISO 8601).")]
CurrencyArg = Annotated[
    str | None, Field(description="ISO 4217 code of money inputs given as bare numbers.", pattern="^[A-Z]{3}$")
]
BasisArg = Annotated[
    Basis | None,
    Field(description="Governed options (see lookup_kpi variants); ledger keys apply with `ledger`."),
]
Dimension = Annotated[str, Field(max_length=NAME_MAX)]
GroupByArg = Annotated[
    Dimension | None,
    Field(
        description="With `ledger`: cut by a dimension ('segment', 'region'…): the total plus one value per member "
        "in `groups`, rates and averages within each member."
    ),
]
WhereArg = Annotated[
    dict[Dimension, Dimension] | None,
    Field(description='With `ledger`: one member only, e.g. {"segment": "enterprise"}; bound to that population.'),
]
ChartArg = Annotated[bool, Field(description="Also return a PNG chart of the result (image content).")]

OptionsArg = Annotated[
    dict[Annotated[str, Field(max_length=NAME_MAX)], Annotated[str, Field(max_length=NAME_MAX)]] | None,
    Field(description="Governed options: the keys and values of compute_kpi's `basis` (listed there)."),
]

LedgerRefArg = Annotated[
    DatasetName | dict[str, Any],
    Field(description='As compute_kpi\'s `ledger`: a dataset name, or {"rows": [...]}.'),
]

LedgerArg = Annotated[
    DatasetName | LedgerSpec | None,
    Field(
        description="Compute from contract lines: a dataset name the server was started "
        'with, or {"rows": [...]} (columns: resource kpi://ledger-format), optionally with "fx_rates".'
    ),
]
