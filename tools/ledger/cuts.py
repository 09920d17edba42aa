"""A KPI cut by a dimension: the total, one value per member, whether they add up, and any mix shift.

Additive KPIs (ARR, MRR, the bridge movements, logo counts) are sums over accounts, each account
in exactly one member: their groups add up to the total exactly, or the cut is refused as a defect.
Averages and rates are computed within each group from its own numerator and denominator, and
there the total can move against every group (Simpson's paradox): the cut says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.formatting import format_value
from kpi_context.tools.ledger.measures import Measured
from kpi_context.tools.ledger.run import ADDITIVE, Measure
from kpi_context.tools.values import BoundValue


class LedgerCut(BaseModel):
    """A KPI at one point: its total, and (with group_by) one bound value per member of the dimension."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    total: BoundValue
    groups: list[BoundValue] = Field(
        default_factory=list, description="One per member, sorted by member name, 'unassigned' last."
    )
    reconciles: bool | None = Field(
        default=None,
        description="True when the groups of an additive KPI add up to the total exactly; None for averages and rates.",
    )
    mix_shift: str | None = Field(
        default=None, description="A note when the total moves against every group (Simpson's paradox)."
    )


def _additive_amount(measure: Measure, measured: Measured) -> Decimal:
    """The exact sum a group contributes to its total: the value, or the exact amount it is derived from."""
    parts = {c.name: c.value for c in measured.components}
    match measure:
        case Measure.MRR:
            return parts["arr"]  # MRR is ARR ÷ 12: its groups add up exactly when their ARRs do
        case Measure.NET_NEW_ARR:
            return parts["end"] - parts["start"]  # the value sums movements rounded to the cent; the bridge is exact
        case _:
            assert measured.value is not None  # sums and counts are always defined
            return measured.value


def reconcile(measure: Measure, total: Measured, groups: Sequence[Measured], where: str) -> bool | None:
    """True when an additive measure's groups add up to its total exactly; None for other measures.

    Refused (`does_not_reconcile`) otherwise: every account is in exactly one member, so a gap is a defect.
    """
    if measure not in ADDITIVE or not groups:
        return None
    summed = sum((_additive_amount(measure, g) for g in groups), Decimal(0))
    whole = _additive_amount(measure, total)
    if summed != whole:
        raise KpiError(
            ErrorCode.DOES_NOT_RECONCILE,
            f"the groups of {measure.value} add up to {summed}, not its total {whole} ({where}); "
            "this is a defect of the engine, not of the ledger: please report it",
            field="group_by",
            details={"groups_sum": str(summed), "total": str(whole)},
        )
    return True


def rounding_note(total: BoundValue, groups: Sequence[BoundValue], dimension: str) -> str | None:
    """A warning when groups, each rounded to the cent, add up to other than the rounded total (never in exact terms)."""
    if total.value is None or any(g.value is None for g in groups):
        return None
    summed = sum((g.value for g in groups if g.value is not None), Decimal(0))
    if summed == total.value:
        return None
    shown = format_value(summed, total.unit, total.currency)
    return (
        f"the {dimension} groups, each rounded on its own, add up to {shown}; their exact values add up to the "
        "total exactly (the difference is rounding)"
    )


def _sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)


_MOVED = {1: "rose", -1: "fell", 0: "did not change"}


def shift_over_time(
    name: str, dimension: str, before: LedgerCut, now: LedgerCut, before_label: str, now_label: str
) -> str | None:
    """The mix-shift note when the total moves from one point to the next against every member's own move."""
    if before.total.value is None or now.total.value is None:
        return None
    direction = _sign(now.total.value - before.total.value)
    earlier = {_member(g): g.value for g in before.groups}
    moves = [
        _sign(g.value - previous)
        for g in now.groups
        if g.value is not None and (previous := earlier.get(_member(g))) is not None
    ]
    if direction == 0 or len(moves) < 2 or any(move == direction for move in moves):
        return None
    groups_moved = _MOVED[moves[0]] if len(set(moves)) == 1 else f"did not {'rise' if direction > 0 else 'fall'}"
    unit, currency = now.total.unit, now.total.currency
    return (
        f"Mix shift: {name} {_MOVED[direction]} from {before_label} to {now_label} "
        f"({format_value(before.total.value, unit, currency)} → {format_value(now.total.value, unit, currency)}) "
        f"while it {groups_moved} in every {dimension}, so the total moved because accounts shifted between "
        f"{dimension} members (Simpson's paradox): read the {dimension} values, not the total."
    )


def shift_within(name: str, dimension: str, cut: LedgerCut) -> str | None:
    """For a KPI that is itself a change (ACV trend, growth): the note when the total's sign is against every group's."""
    if cut.total.value is None:
        return None
    direction = _sign(cut.total.value)
    signs = [_sign(g.value) for g in cut.groups if g.value is not None]
    if direction == 0 or len(signs) < 2 or any(sign == direction for sign in signs):
        return None
    shown = format_value(cut.total.value, cut.total.unit, cut.total.currency)
    groups_went = {1: "positive", -1: "negative", 0: "zero"}[signs[0]] if len(set(signs)) == 1 else "not so"
    return (
        f"Mix shift: {name} is {shown} in total but {groups_went} in every {dimension}, so the total moved because "
        f"accounts shifted between {dimension} members (Simpson's paradox): read the {dimension} values, not the total."
    )


def _member(value: BoundValue) -> str:
    segment = value.binding.grain.segment
    assert segment is not None  # groups of a cut are always bound to their member
    return segment.member
