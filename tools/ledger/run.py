"""From a KPI's measure and its dates to values: the dates each point reads, one statement, the values per group.

`measure_at` takes the dates of one point (a single value) or of many (a series) and runs the
measure's one statement over all of them at once; what it returns for a point does not depend on
the other points.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import TypeVar

import duckdb

from kpi_context.ontology.binding import Aggregation, Binding, TimeBasisKind
from kpi_context.ontology.ledger_options import LedgerOptions
from kpi_context.ontology.model import KpiDefinition
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.inputs import When
from kpi_context.tools.ledger import board, bridge, measures
from kpi_context.tools.ledger.board import DollarRate
from kpi_context.tools.ledger.bridge import Movement
from kpi_context.tools.ledger.frame import Cut, Frame, Key, Point
from kpi_context.tools.ledger.measures import Measured
from kpi_context.tools.periods import Period, months_before, shift_days
from kpi_context.tools.values import Component


class Measure(StrEnum):
    ARR = "arr"
    MRR = "mrr"
    STARTING_ARR = "starting_arr"
    NEW_BUSINESS = "new_business"
    EXPANSION = "expansion"
    CONTRACTION = "contraction"
    CHURN = "churn"
    REACTIVATION = "reactivation"
    NET_NEW_ARR = "net_new_arr"
    NRR = "nrr"
    GRR = "grr"
    ACTIVE_LOGOS = "active_logos"
    NEW_LOGOS = "new_logos"
    CHURNED_LOGOS = "churned_logos"
    LOGO_CHURN_RATE = "logo_churn_rate"
    NEW_LOGO_ACV = "new_logo_acv"
    BOOKED_ACV = "booked_acv"
    BLENDED_ACV = "blended_acv"
    ACV_TREND = "acv_trend"
    TOP_CONCENTRATION = "top_concentration"
    ARR_GROWTH = "arr_growth"
    QUICK_RATIO = "quick_ratio"
    GROSS_DOLLAR_CHURN = "gross_dollar_churn"
    NET_DOLLAR_CHURN = "net_dollar_churn"
    EXPANSION_RATE = "expansion_rate"
    CONTRACTION_RATE = "contraction_rate"
    ARPA = "arpa"


ADDITIVE = frozenset(
    {
        Measure.ARR,
        Measure.MRR,
        Measure.STARTING_ARR,
        Measure.NEW_BUSINESS,
        Measure.EXPANSION,
        Measure.CONTRACTION,
        Measure.CHURN,
        Measure.REACTIVATION,
        Measure.NET_NEW_ARR,
        Measure.ACTIVE_LOGOS,
        Measure.NEW_LOGOS,
        Measure.CHURNED_LOGOS,
    }
)
"""Measures whose groups add up to their total: sums over accounts, each account in exactly one member."""

CHANGES = frozenset({Measure.ACV_TREND, Measure.ARR_GROWTH})
"""Measures that are themselves a change between two dates."""

DOLLAR_RATES = {
    Measure.GROSS_DOLLAR_CHURN: DollarRate.GROSS_CHURN,
    Measure.NET_DOLLAR_CHURN: DollarRate.NET_CHURN,
    Measure.EXPANSION_RATE: DollarRate.EXPANSION,
    Measure.CONTRACTION_RATE: DollarRate.CONTRACTION,
}
"""Rates of the opening cohort over a trailing window, each a share of its starting ARR."""

BRIDGE_MOVEMENTS = {
    Measure.NEW_BUSINESS: Movement.NEW,
    Measure.EXPANSION: Movement.EXPANSION,
    Measure.CONTRACTION: Movement.CONTRACTION,
    Measure.CHURN: Movement.CHURN,
    Measure.REACTIVATION: Movement.REACTIVATION,
}
_TOP_CUSTOMERS = {None: 10, "largest_customer": 1}

T = TypeVar("T")

Groups = dict[str | None, Measured]
"""The values of one point: the total (key None) and, with a cut, one per member."""


def cent(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


def needs_period(kpi: KpiDefinition, when: When) -> Period:
    if when.period is None:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{kpi.id} is read at the open of a period: give `period` (e.g. '2026-Q3')",
            field="period",
        )
    return when.period


def window_open(binding: Binding, period: Period) -> date:
    """The day whose close opens the measurement: window_months before the close, or the period's eve."""
    if binding.time_basis.kind is TimeBasisKind.TRAILING_WINDOW and binding.time_basis.window_months:
        return months_before(period.end, binding.time_basis.window_months)
    return shift_days(period.start, -1)


def _as_of(when: When) -> date:
    assert when.as_of is not None  # resolve_when guarantees a date for point-in-time KPIs
    return when.as_of


def measure_at(
    con: duckdb.DuckDBPyConnection,
    measure: Measure,
    options: LedgerOptions,
    whens: Sequence[When],
    *,
    kpi: KpiDefinition,
    variant_id: str | None,
    binding: Binding,
    cut: Cut | None = None,
    lines: str = "lines",
    members: tuple[str, ...] = (),
    ids: bool = True,
) -> tuple[list[Groups], list[When]]:
    """The measure at every point, in one statement; each point's values per group, and its dates as bound.

    ids: list a few contributing account ids in the traces (only if the operator lets any out).
    """

    def frame(points: Sequence[Point]) -> Frame:
        return Frame(tuple(points), cut, lines, members)

    def per_point(found: Mapping[Key, T], build: Callable[[T, int], Measured]) -> list[Groups]:
        return [{g: build(found[(k, g)], k) for g in frame([]).groups} for k in range(len(whens))]

    match measure:
        case Measure.ARR | Measure.MRR | Measure.ACTIVE_LOGOS | Measure.ARPA:
            days = [_as_of(w) for w in whens]
            found = measures.levels(con, frame([Point(d) for d in days]), ids=ids)
            return per_point(found, lambda level, k: _level(measure, level, days[k])), list(whens)
        case Measure.STARTING_ARR:
            periods = [needs_period(kpi, w) for w in whens]
            opened = [shift_days(p.start, -1) for p in periods]
            found = measures.levels(con, frame([Point(d) for d in opened]), ids=ids)
            results = per_point(found, lambda level, k: measures.arr_at(level, opened[k].isoformat(), "starting ARR"))
            return results, [When(p, d) for p, d in zip(periods, opened, strict=True)]
        case Measure.BLENDED_ACV:
            median = binding.grain.aggregation is Aggregation.MEDIAN
            found = measures.levels(con, frame([Point(_as_of(w)) for w in whens]), median=median, ids=ids)
            return per_point(found, lambda level, _: measures.blended_acv(level, median=median)), list(whens)
        case Measure.TOP_CONCENTRATION:
            top = _TOP_CUSTOMERS.get(variant_id, 10)
            found = measures.levels(con, frame([Point(_as_of(w)) for w in whens]), top=top)
            return per_point(found, lambda level, _: measures.concentration(level, top)), list(whens)
        case (
            Measure.NEW_BUSINESS
            | Measure.EXPANSION
            | Measure.CONTRACTION
            | Measure.CHURN
            | Measure.REACTIVATION
            | Measure.NET_NEW_ARR
            | Measure.NEW_LOGOS
            | Measure.CHURNED_LOGOS
            | Measure.QUICK_RATIO
        ):
            periods = [needs_period(kpi, w) for w in whens]
            points = [Point(p.end, shift_days(p.start, -1)) for p in periods]
            moved = bridge.bridges(con, frame(points), options)
            return per_point(moved, lambda b, _: _flow(measure, b)), list(whens)
        case (
            Measure.NRR
            | Measure.GRR
            | Measure.LOGO_CHURN_RATE
            | Measure.GROSS_DOLLAR_CHURN
            | Measure.NET_DOLLAR_CHURN
            | Measure.EXPANSION_RATE
            | Measure.CONTRACTION_RATE
        ):
            periods = [needs_period(kpi, w) for w in whens]
            opens = [window_open(binding, p) for p in periods]
            # The cohort is the accounts live at the window's open, placed in members on that day.
            moved = bridge.bridges(con, frame([Point(p.end, o, o) for p, o in zip(periods, opens, strict=True)]))
            if measure is Measure.LOGO_CHURN_RATE:
                return per_point(moved, lambda b, _: bridge.logo_churn_rate(b)), list(whens)
            if measure in DOLLAR_RATES:
                rate = DOLLAR_RATES[measure]
                return per_point(moved, lambda b, _: board.dollar_rate(b, rate)), list(whens)
            gross = measure is Measure.GRR
            return per_point(moved, lambda b, _: bridge.retention(b, options, gross=gross)), list(whens)
        case Measure.BOOKED_ACV | Measure.NEW_LOGO_ACV:
            periods = [needs_period(kpi, w) for w in whens]
            new = measure is Measure.NEW_LOGO_ACV
            booked = measures.bookings(con, options, frame([Point(p.end, p.start) for p in periods]), new_logos=new)
            build = measures.new_logo_acv if new else measures.booked_acv
            return per_point(booked, lambda b, _: build(b)), list(whens)
        case Measure.ACV_TREND | Measure.ARR_GROWTH:
            periods = [needs_period(kpi, w) for w in whens]
            if measure is Measure.ARR_GROWTH:
                priors = [window_open(binding, p) for p in periods]
            elif variant_id == "year_over_year":
                priors = [months_before(p.end, 12) for p in periods]
            else:
                priors = [shift_days(p.start, -1) for p in periods]
            # Both ends in one statement: point 2i is period i's close, 2i + 1 its earlier close, each
            # placing accounts in members on its own date.
            days = [d for p, prior in zip(periods, priors, strict=True) for d in (p.end, prior)]
            found = measures.levels(con, frame([Point(d) for d in days]), ids=ids)
            change = _growth if measure is Measure.ARR_GROWTH else _acv_trend
            results = [
                {
                    g: change(found[(2 * k, g)], found[(2 * k + 1, g)], periods[k].end, priors[k])
                    for g in frame([]).groups
                }
                for k in range(len(whens))
            ]
            return results, list(whens)


def _level(measure: Measure, level: measures.Level, day: date) -> Measured:
    match measure:
        case Measure.ACTIVE_LOGOS:
            return measures.active_logos(level, day.isoformat())
        case Measure.ARPA:
            return board.arpa(level, day.isoformat())
        case Measure.MRR:
            arr = measures.arr_at(level, day.isoformat())
            return Measured(
                arr.value / 12 if arr.value is not None else None,
                "ARR ÷ 12",
                (Component(name="arr", value=arr.value or Decimal(0)),),
                arr.contributing,
            )
        case _:
            return measures.arr_at(level, day.isoformat())


def _flow(measure: Measure, moved: bridge.Bridge) -> Measured:
    if measure is Measure.QUICK_RATIO:
        return board.quick_ratio(moved)
    if measure in BRIDGE_MOVEMENTS:
        movement = BRIDGE_MOVEMENTS[measure]
        return Measured(
            moved.amounts[movement],
            f"ARR bridge {movement.value} movement over the period",
            moved.components(),
            moved.trace(),
        )
    if measure is Measure.NET_NEW_ARR:
        # Each movement is a value of its own, rounded to the cent by the bound rule; net new ARR is their
        # sum, so it equals the same KPI computed from those five values and its components add up to it.
        # (The bridge itself reconciles exactly before rounding: bridge.bridges checks it.)
        cents = {m: cent(moved.amounts[m]) for m in BRIDGE_MOVEMENTS.values()}
        added = cents[Movement.NEW] + cents[Movement.EXPANSION] + cents[Movement.REACTIVATION]
        return Measured(
            added - cents[Movement.CONTRACTION] - cents[Movement.CHURN],
            "new + expansion + reactivation − contraction − churn, each rounded to the cent",
            moved.components(),
            moved.trace(),
        )
    movement = Movement.NEW if measure is Measure.NEW_LOGOS else Movement.CHURN
    return Measured(
        Decimal(moved.accounts[movement]),
        f"accounts in the bridge's {movement.value} movement",
        (),
        {"accounts": moved.accounts[movement], "account_ids": moved.samples[movement]},
    )


def _acv_trend(now: measures.Level, before: measures.Level, closed: date, prior: date) -> Measured:
    current = measures.blended_acv(now, median=False)
    earlier = measures.blended_acv(before, median=False)
    components = (
        Component(name="acv_current", value=current.value or Decimal(0), description=f"on {closed}"),
        Component(name="acv_prior", value=earlier.value or Decimal(0), description=f"on {prior}"),
    )
    formula = "(blended ACV at close − blended ACV at the prior close) ÷ blended ACV at the prior close × 100"
    if current.value is None or earlier.value is None or earlier.value == 0:
        return Measured(None, formula, components, {}, "blended ACV is undefined or zero at one of the two dates")
    value = measures.ratio(current.value - earlier.value, earlier.value) * measures.HUNDRED
    return Measured(value, formula, components, {"current": current.contributing, "prior": earlier.contributing})


def _growth(now: measures.Level, before: measures.Level, closed: date, prior: date) -> Measured:
    # Both ends as bound ARR values are (to the cent), so the growth is the catalog formula over those two values.
    current, earlier = cent(now.arr), cent(before.arr)
    components = (
        Component(name="arr_current", value=current, description=f"ARR on {closed}"),
        Component(name="arr_prior", value=earlier, description=f"ARR on {prior}"),
    )
    formula = "(ARR at close − ARR at the earlier close) ÷ ARR at the earlier close × 100, each ARR to the cent"
    trace: dict[str, object] = {
        "current": {"accounts": now.accounts, "contracts": now.contracts, "account_ids": now.account_ids},
        "prior": {"accounts": before.accounts, "contracts": before.contracts, "account_ids": before.account_ids},
    }
    if earlier == 0:
        return Measured(None, formula, components, trace, f"ARR on {prior} is zero: growth from nothing is undefined")
    return Measured(measures.ratio(current - earlier, earlier) * measures.HUNDRED, formula, components, trace)
