"""Facts: every figure the given bound values (or board pack) back, with the KPI, period and variant it is of.

A bound value backs its own number, each group of a segment cut, each named component (the ARR
bridge's movements are values of their own KPIs: new business, expansion, churn…), and its benchmark
quartiles. Two values of one KPI and variant that compare_metrics would compare also back their
governed difference and relative change, so "ARR grew 16.1%" is backed when Q2 and Q3 ARR are given.
A board pack backs each item, each change it states and each bridge line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum
from itertools import combinations

from kpi_context.ontology.binding import TimeBasisKind, Unit
from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.model import DEFAULT_VARIANT_ID
from kpi_context.tools.board_pack import BoardPack
from kpi_context.tools.compare import UnsafeComparison, compare_metrics
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import KpiError
from kpi_context.tools.narrative.figures import FigureKind, extract_figures
from kpi_context.tools.narrative.timing import find_periods, parse_label
from kpi_context.tools.periods import Period
from kpi_context.tools.signing import canonical
from kpi_context.tools.trend import claim_of
from kpi_context.tools.values import BoundValue

BRIDGE_KPIS = {
    "start": "sales.starting_arr",
    "new": "sales.new_business",
    "expansion": "sales.expansion",
    "reactivation": "sales.reactivation",
    "contraction": "sales.downgrades",
    "churn": "sales.churn_arr",
    "end": "sales.arr",
}
"""The ARR bridge's components (of a net new ARR value), each a value of its own KPI."""

BRIDGE_LINE_KPIS = {
    "Opening ARR": "sales.starting_arr",
    "New business": "sales.new_business",
    "Expansion": "sales.expansion",
    "Reactivation": "sales.reactivation",
    "Contraction": "sales.downgrades",
    "Churn": "sales.churn_arr",
}
"""A board pack's bridge lines by their printed names."""

_COUNT_PART = re.compile(r"customers|accounts|logos|count|signed|churned|responses|deals", re.IGNORECASE)


class Role(StrEnum):
    VALUE = "value"
    GROUP = "group"
    COMPONENT = "component"
    CHANGE = "change"
    BENCHMARK = "benchmark"


@dataclass(frozen=True)
class Fact:
    """One backed figure: a number, what it is a number of, and the governed words that say so."""

    number: Decimal
    kind: FigureKind
    role: Role
    label: str
    kpi: str | None
    """None for a component the catalog has no KPI for (a count of accounts inside a rate)."""
    variant: str = DEFAULT_VARIANT_ID
    currency: str | None = None
    period: Period | None = None
    as_of: date | None = None
    at_close: bool = False
    """A balance or a trailing-window rate: named by any period that closes when it does."""
    value: BoundValue | None = None
    """The whole bound value behind a VALUE fact, for comparisons; None for what a pack states."""
    since: Period | None = None
    """For a change: the earlier period it is measured from (a change is named by either end)."""

    @property
    def when(self) -> str:
        if self.period is not None:
            return self.period.label()
        return self.as_of.isoformat() if self.as_of is not None else "undated"


def kind_of(unit: Unit) -> FigureKind | None:
    match unit:
        case Unit.CURRENCY | Unit.CURRENCY_PER_MONTH:
            return FigureKind.MONEY
        case Unit.PERCENT:
            return FigureKind.PERCENT
        case Unit.RATIO:
            return FigureKind.MULTIPLE
        case Unit.MONTHS:
            return FigureKind.MONTHS
        case Unit.DAYS:
            return FigureKind.DAYS
        case Unit.COUNT | Unit.SCORE:
            return FigureKind.NUMBER
        case Unit.DATE | Unit.TEXT:
            return None


def accepts(figure: FigureKind, fact: Fact, currency: str | None) -> bool:
    """Whether a figure of this kind can state this fact: a bare number can state any; "$" only money in USD."""
    if figure is FigureKind.NUMBER:
        return True
    if figure is not fact.kind:
        return False
    return figure is not FigureKind.MONEY or currency is None or fact.currency in (None, currency)


def _at_close(value: BoundValue) -> bool:
    return value.binding.time_basis.kind in (TimeBasisKind.POINT_IN_TIME, TimeBasisKind.TRAILING_WINDOW)


def _component_kind(name: str, parent: FigureKind) -> FigureKind:
    if _COUNT_PART.search(name):
        return FigureKind.NUMBER
    if name.endswith(("_pct", "_rate")):
        return FigureKind.PERCENT
    return FigureKind.MONEY if parent in (FigureKind.MONEY, FigureKind.PERCENT) else parent


def value_facts(value: BoundValue, catalog: Catalog | None = None) -> list[Fact]:
    """What one bound value backs: itself, its groups, components, inputs and benchmark quartiles."""
    kind = kind_of(value.unit)
    if kind is None:
        return []
    own = Fact(
        Decimal(0),
        kind,
        Role.VALUE,
        value.label,
        value.kpi,
        variant=value.variant,
        currency=value.currency,
        period=value.period,
        as_of=value.as_of,
        at_close=_at_close(value),
    )
    facts: list[Fact] = []
    if value.value is not None:
        facts.append(replace(own, number=value.value, value=value))
    for group in value.groups:
        if group.value is not None:
            facts.append(replace(own, number=group.value, role=Role.GROUP, label=group.label))
    bridge = value.kpi == "sales.net_new_arr"
    for component in value.components:
        if bridge and component.name in BRIDGE_KPIS:
            label = f"{component.name} of the ARR bridge in {value.label}"
            closing = component.name in ("start", "end")
            facts.append(
                Fact(
                    component.value,
                    FigureKind.MONEY,
                    Role.COMPONENT,
                    label,
                    BRIDGE_KPIS[component.name],
                    currency=value.currency,
                    period=value.period,
                    at_close=closing,
                )
            )
        else:
            facts.append(
                Fact(
                    component.value,
                    _component_kind(component.name, kind),
                    Role.COMPONENT,
                    f"{component.name.replace('_', ' ')} in {value.label}",
                    None,
                    currency=value.currency,
                    period=value.period,
                )
            )
    for used in value.inputs:
        source = None if catalog is None else catalog.get(used.kpi)
        used_kind = None if source is None else kind_of(source.binding.unit)
        if used.value is None or source is None or used_kind is None:
            continue
        label = f"input {used.name} of {value.label}: {used.label}"
        facts.append(
            Fact(used.value, used_kind, Role.COMPONENT, label, source.id, currency=value.currency, period=value.period)
        )
    position = value.benchmark_position
    if position is not None:
        for name, quartile in (("p25", position.p25), ("median", position.median), ("p75", position.p75)):
            label = f"{name} of the benchmark for {value.label.split(' — ')[0]} ({position.source})"
            facts.append(Fact(quartile, kind, Role.BENCHMARK, label, value.kpi, value.variant, value.currency))
    return facts


def change_facts(ctx: ToolContext, values: Sequence[BoundValue]) -> list[Fact]:
    """The governed difference and relative change of each comparable pair of values of one KPI and variant."""
    facts: list[Fact] = []
    for a, b in combinations(values, 2):
        if a.kpi != b.kpi or a.variant != b.variant or a.value is None or b.value is None:
            continue
        try:
            compared = compare_metrics(ctx, claim_of(b), claim_of(a))
        except (UnsafeComparison, KpiError):
            continue
        later, earlier = (b, a) if compared.baseline == "right" else (a, b)
        kind = FigureKind.POINTS if a.unit is Unit.PERCENT else kind_of(a.unit)
        if kind is None:
            continue
        difference = Fact(
            compared.difference,
            kind,
            Role.CHANGE,
            compared.summary,
            a.kpi,
            variant=a.variant,
            currency=a.currency,
            period=later.period,
            as_of=later.as_of,
            at_close=_at_close(later),
            since=earlier.period,
        )
        facts.append(difference)
        if compared.percent_change is not None and a.unit is not Unit.PERCENT:
            facts.append(replace(difference, number=compared.percent_change, kind=FigureKind.PERCENT))
    return facts


def pack_facts(ctx: ToolContext, pack: BoardPack) -> list[Fact]:
    """What a board pack states: each item, each change and benchmark it quotes, each bridge line."""
    period = parse_label(pack.period)
    facts: list[Fact] = []
    for item in pack.items:
        kpi = ctx.catalog.get(item.kpi)
        kind = None if kpi is None else kind_of(kpi.binding.unit)
        if kpi is None or kind is None:
            continue
        at_close = kpi.binding.time_basis.kind in (TimeBasisKind.POINT_IN_TIME, TimeBasisKind.TRAILING_WINDOW)
        if item.value is not None:
            facts.append(
                Fact(
                    item.value,
                    kind,
                    Role.VALUE,
                    item.label,
                    item.kpi,
                    currency=pack.currency,
                    period=period,
                    at_close=at_close,
                )
            )
        for change in item.changes.values():
            if isinstance(change, str):
                continue
            for figure in extract_figures(change.text):
                number = -figure.value if figure.sign < 0 else figure.value
                label = f"change of {item.label.split(' — ')[0]} against {change.against}: {change.text}"
                facts.append(
                    Fact(
                        number,
                        figure.kind,
                        Role.CHANGE,
                        label,
                        item.kpi,
                        currency=pack.currency,
                        period=period,
                        at_close=at_close,
                        since=_against(change.against),
                    )
                )
        if item.benchmark:
            for figure in extract_figures(item.benchmark):
                label = f"benchmark for {item.label.split(' — ')[0]}: {item.benchmark}"
                facts.append(Fact(figure.value, figure.kind, Role.BENCHMARK, label, item.kpi, currency=pack.currency))
    if pack.bridge is not None:
        for line in pack.bridge.lines:
            kpi_id = BRIDGE_LINE_KPIS.get(line.line)
            label = f"{line.line} in the ARR bridge, {pack.bridge.period}: {line.amount}"
            facts.append(
                Fact(
                    line.amount, FigureKind.MONEY, Role.COMPONENT, label, kpi_id, currency=pack.currency, period=period
                )
            )
        label = f"Closing ARR in the ARR bridge, {pack.bridge.period}: {pack.bridge.closing}"
        facts.append(
            Fact(
                pack.bridge.closing,
                FigureKind.MONEY,
                Role.COMPONENT,
                label,
                "sales.arr",
                currency=pack.currency,
                period=period,
                at_close=True,
            )
        )
    return facts


def _against(text: str) -> Period | None:
    """The earlier period a pack's change is measured from: "Q2 2026", "12 months to Jun 2026", "as of 2026-06-30"."""
    found = find_periods(text, None)
    if len(found) != 1:
        return None
    day = found[0].day
    return found[0].period if day is None else Period(start=day, end=day)


def pack_is_signed(ctx: ToolContext, pack: BoardPack) -> bool:
    """Whether the pack is this server's, unaltered: its signature checks out over everything it says."""
    return ctx.binder.signer.verify(canonical(pack.model_dump(mode="json")), pack.provenance.signature)
