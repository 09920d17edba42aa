"""Short texts that explain a KPI's rules to a model: units with their scale, the binding in one line.

Cards and refusals are read by language models that follow them literally, so each phrase
states the scale a bare number is read in ("percent, 0–100: 76 means 76 %") instead of
leaving it to a README the model never sees.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from kpi_context.ontology.binding import Binding, DateBasis, TimeBasisKind, Unit
from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.model import (
    Direction,
    ExpressionInput,
    KpiDefinition,
    PeriodRole,
    PlausibleRange,
)
from kpi_context.ontology.search import describe_binding
from kpi_context.tools.formatting import format_value


def unit_text(unit: Unit) -> str:
    match unit:
        case Unit.PERCENT:
            return "percent, 0–100 scale (76 means 76 %)"
        case Unit.RATIO:
            return "ratio, a multiple (1.5 means 1.5x)"
        case Unit.CURRENCY:
            return "money (ISO 4217 currency)"
        case Unit.CURRENCY_PER_MONTH:
            return "money per month (ISO 4217 currency)"
        case Unit.COUNT:
            return "count"
        case Unit.MONTHS:
            return "months"
        case Unit.DAYS:
            return "days"
        case Unit.SCORE:
            return "score"
        case Unit.DATE:
            return "date (ISO 8601)"
        case Unit.TEXT:
            return "text"


def short_unit(unit: Unit) -> str:
    """The unit in a word or two; the scale only where a number could be misread (percent, ratio)."""
    match unit:
        case Unit.PERCENT:
            return "percent 0–100"
        case Unit.RATIO:
            return "ratio (multiple)"
        case Unit.CURRENCY:
            return "money"
        case Unit.CURRENCY_PER_MONTH:
            return "money per month"
        case _:
            return unit.value


def _when_text(binding: Binding) -> str:
    match binding.time_basis.kind:
        case TimeBasisKind.POINT_IN_TIME:
            return "point in time (as_of)"
        case TimeBasisKind.PERIOD_FLOW:
            return "flow over the period"
        case TimeBasisKind.TRAILING_WINDOW:
            return f"trailing {binding.time_basis.window_months} months to the period's close"
        case TimeBasisKind.NOT_APPLICABLE:
            return "no time basis"


def _date_text(basis: DateBasis) -> str | None:
    match basis:
        case DateBasis.SIGNED:
            return "counted from signature"
        case DateBasis.GO_LIVE:
            return "counted from go-live"
        case DateBasis.PERIOD_CLOSE:
            return "dated at period close"
        case DateBasis.NOT_APPLICABLE:
            return None


def binding_line(binding: Binding) -> str:
    """The binding as one line a model can quote: grain, inclusion, annualization, time, date basis."""
    parts = [
        describe_binding(binding),
        binding.value_basis.value.replace("_", " "),
        _when_text(binding),
        _date_text(binding.date_basis),
    ]
    return "; ".join(p for p in parts if p)


def direction_text(kpi: KpiDefinition, *, with_reason: bool = False) -> str | None:
    if kpi.polarity is None:
        return None
    match kpi.polarity.direction:
        case Direction.HIGHER_IS_BETTER:
            head = "higher is better"
        case Direction.LOWER_IS_BETTER:
            head = "lower is better"
        case Direction.NEUTRAL:
            head = "neutral (a change is reported, not judged)"
    return f"{head}: {kpi.polarity.reason}" if with_reason else head


def _bound(value: Decimal, unit: Unit) -> str:
    return format_value(value, unit, "")


def plausible_text(plausible: PlausibleRange | None, unit: Unit) -> str | None:
    if plausible is None:
        return None
    low, high = plausible.min, plausible.max
    if unit in (Unit.CURRENCY, Unit.CURRENCY_PER_MONTH):
        shown = [None if x is None else f"{x:,f}" for x in (low, high)]
    else:
        shown = [None if x is None else _bound(x, unit) for x in (low, high)]
    if shown[0] is not None and shown[1] is not None:
        return f"{shown[0]} to {shown[1]}"
    if shown[0] is not None:
        return f"at least {shown[0]}"
    if shown[1] is not None:
        return f"at most {shown[1]}"
    return None


def _role_text(role: PeriodRole) -> str | None:
    match role:
        case PeriodRole.CURRENT:
            return None
        case PeriodRole.PRIOR_PERIOD:
            return "prior period"
        case PeriodRole.PRIOR_YEAR:
            return "one year earlier"
        case PeriodRole.PRIOR_QUARTER:
            return "three months earlier"
        case PeriodRole.WINDOW:
            return "over the trailing window"
        case PeriodRole.WINDOW_OPEN:
            return "at the window's open"


def input_binding(catalog: Catalog, spec: ExpressionInput) -> Binding:
    if spec.binding is not None:
        return spec.binding
    assert spec.kpi is not None  # an input names a KPI or carries its own binding
    return catalog.kpis[spec.kpi].binding_for(spec.variant)


class InputCard(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="Key in compute_kpi `inputs`.")
    unit: str = Field(description="Unit and scale a bare number is read in.")
    reads: str = Field(description="What to pass: a KPI id (its bound value or a number), or the figure described.")
    when: str | None = Field(default=None, description="Period or date the input must be for, if not the KPI's own.")


def input_cards(catalog: Catalog, kpi: KpiDefinition) -> list[InputCard]:
    expression = kpi.expression
    if expression is None:
        binding = kpi.binding
        return [InputCard(name=kpi.id, unit=short_unit(binding.unit), reads="the reported figure")]
    cards = []
    for spec in expression.inputs:
        binding = input_binding(catalog, spec)
        if spec.kpi is not None:
            reads = spec.kpi if spec.variant is None else f"{spec.kpi} (variant {spec.variant})"
        else:
            reads = spec.description or "a raw figure"
        cards.append(
            InputCard(name=spec.name, unit=short_unit(binding.unit), reads=reads, when=_role_text(spec.period))
        )
    return cards
