"""The `ledger` argument of compute_kpi: its wire model, and running the engine off the event loop.

DuckDB work is blocking, so it runs in a worker thread; the engine's progress callback is
relayed to the client as MCP progress notifications (sent only when the client asked for
them by passing a progress token).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import anyio
import anyio.from_thread
import anyio.to_thread
from mcp.server.mcpserver import Context
from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt

from kpi_context.tools.context import ToolContext
from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.periods import Period
from kpi_context.tools.values import BoundValue


class LedgerSpec(BaseModel):
    """An inline ledger, or a named dataset with exchange rates."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: list[dict[str, Any]] | None = Field(
        default=None,
        description="Contract lines; at most 10,000.",
    )
    dataset: str | None = Field(default=None, description="Name of a dataset the server was started with.")
    fx_rates: dict[str, StrictInt | StrictFloat | Decimal] | None = Field(
        default=None, description="Currency code → rate into the requested currency."
    )
    dimensions: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None,
        description="Extra columns of `rows` to cut by (five are built in).",
        max_length=16,
    )


LedgerArgument = str | LedgerSpec

T = TypeVar("T")


async def with_progress(mcp: Context[Any], fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking ledger computation in a worker thread, relaying its progress callback to the client."""

    def progress(done: float, total: float | None, message: str) -> None:
        anyio.from_thread.run(functools.partial(mcp.report_progress, done, total, message))

    call = functools.partial(fn, *args, progress=progress, **kwargs)
    result: T = await anyio.to_thread.run_sync(call)
    return result


async def compute_with_ledger(
    context: ToolContext,
    datasets: DatasetRegistry,
    mcp: Context[Any],
    kpi: str,
    ledger: LedgerArgument,
    *,
    variant: str | None,
    period: str | Period | None,
    as_of: date | None,
    currency: str | None,
    basis: dict[str, str] | None,
    where: dict[str, str] | None = None,
) -> BoundValue:
    return await with_progress(
        mcp,
        compute_from_ledger,
        context,
        kpi,
        ledger_argument(ledger),
        datasets=datasets,
        variant=variant,
        period=period,
        as_of=as_of,
        currency=currency,
        basis=basis,
        where=where,
    )


def ledger_argument(ledger: LedgerArgument) -> str | dict[str, Any]:
    """The wire argument as the engine takes it: a dataset name, or the inline ledger's fields that were given."""
    return ledger if isinstance(ledger, str) else ledger.model_dump(exclude_none=True)
