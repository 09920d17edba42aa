"""Governed changes between two bound values of one KPI: the trend lines of a series or a board pack.

A change is worked out by the comparison `compare_metrics` makes (`compare_values`), so it follows the same rules a caller's own
comparison would (percentage points for percent KPIs, direction from the KPI's polarity) and is
refused for the same reasons. Only the few words a reader needs are kept.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from kpi_context.ontology.binding import Unit
from kpi_context.tools.compare import Direction, UnsafeComparison, compare_values
from kpi_context.tools.context import ToolContext
from kpi_context.tools.values import BoundValue, ValueClaim


class Change(BaseModel):
    """How a value moved against an earlier value of the same KPI under the same rules."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    against: str = Field(description="The earlier period or date.")
    text: str = Field(description="The change: '+$1,200,000 (+9.30%)' or '-1.20 percentage points'.")
    direction: Direction
    label: str = Field(description="The governed line to quote: KPI and rules, both periods, the change.")


def when_of(value: BoundValue, fiscal_start: int | None = None) -> str:
    """The period or date a value is for, as a reader says it (fiscal periods by their fiscal names)."""
    if value.period is not None and value.as_of is None:
        return value.period.label(fiscal_start)
    if value.as_of is not None:
        return f"as of {value.as_of.isoformat()}"
    return value.period.label(fiscal_start) if value.period is not None else "undated"


def claim_of(value: BoundValue) -> ValueClaim:
    """A bound value handed back to the comparison as a caller would hand it: whole, so its signature holds."""
    return ValueClaim.model_validate(value.model_dump(mode="json"))


def change(ctx: ToolContext, earlier: BoundValue, later: BoundValue) -> Change | str:
    """The change from `earlier` to `later`, or why there is none (the refusal's message)."""
    fiscal = ctx.fiscal_start
    for value in (earlier, later):
        if value.value is None:
            return f"no value for {when_of(value, fiscal)}: {value.undefined_reason or 'undefined'}"
    try:
        # Both values were produced by this server in this call: compared as they are, not re-read as claims.
        compared = compare_values(ctx.binder, later, earlier)
    except UnsafeComparison as refused:
        return refused.refusal.message
    # A percent KPI moves in percentage points; a relative change of a rate would read as a second rate.
    relative = (
        "" if compared.percent_change is None or later.unit is Unit.PERCENT else f" ({compared.percent_change:+}%)"
    )
    text = compared.difference_text + relative
    # The governed label is "<KPI> — <rules>, <period>: <value>"; the change keeps "<KPI> — <rules>".
    head = later.label.rsplit(": ", 1)[0]
    labelled_when = (
        later.period.label(fiscal) if later.period else (f"as of {later.as_of}" if later.as_of else "undated")
    )
    rules = head.removesuffix(f", {labelled_when}")
    return Change(
        against=when_of(earlier, fiscal),
        text=text,
        direction=compared.direction,
        label=f"{rules}, {when_of(later, fiscal)} vs {when_of(earlier, fiscal)}: {text}",
    )
