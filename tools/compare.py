"""compare_metrics: compare two bound values, or one against its benchmark — or refuse, and say why.

A refusal carries no difference, ratio or percent change anywhere, so an LLM cannot
quote a number the server would not stand behind. It names each axis on which the
two values disagree and what would be comparable instead.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kpi_context.ontology.binding import TimeBasisKind, binding_differences
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, KpiDefinition
from kpi_context.tools.basis import basis_differences
from kpi_context.tools.binder import Binder, benchmark_position
from kpi_context.tools.claims import read_claim
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.formatting import format_value, quantize
from kpi_context.tools.remedies import Remedy, remedies_for
from kpi_context.tools.resolve import resolve_kpi
from kpi_context.tools.values import BenchmarkPosition, BoundValue, Unit, ValueClaim, ValueStatus


class BenchmarkRef(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    benchmark: Literal["p25", "median", "p75"] = Field(description="Which quartile of the KPI's benchmark.")


class ComparisonKind(StrEnum):
    TREND = "trend"
    SAME_PERIOD = "same_period"
    BENCHMARK = "benchmark"


class Direction(StrEnum):
    BETTER = "better"
    WORSE = "worse"
    UNCHANGED = "unchanged"
    NOT_JUDGED = "not_judged"
    """The KPI is neutral: a change is reported, not called good or bad."""


class Side(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kpi: str
    variant: str = DEFAULT_VARIANT_ID
    label: str
    status: ValueStatus = ValueStatus.COMPUTED
    value: Decimal | None


class Mismatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    axis: str
    left: str
    right: str
    why: str


class Comparison(BaseModel):
    """A comparison the server stands behind: same KPI rules on both sides."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    comparable: Literal[True]
    kind: ComparisonKind
    left: Side
    right: Side
    baseline: Literal["left", "right"] = Field(description="The side changes are measured from (the earlier one).")
    difference: Decimal = Field(
        description="subject − baseline, in the values' unit (percentage points for percent KPIs)."
    )
    difference_text: str = Field(description="The difference with its unit, to quote: '-7.38 percentage points'.")
    ratio: Decimal | None = Field(description="subject ÷ baseline; null when the baseline is zero.")
    percent_change: Decimal | None = Field(
        description="Relative change (subject − baseline) ÷ |baseline| × 100; null if baseline 0. For percent KPIs "
        "this is a change relative to the baseline, not percentage points."
    )
    direction: Direction
    summary: str
    notes: list[str] = Field(default_factory=list)


class ComparisonRefusal(BaseModel):
    """The structured payload of an unsafe comparison: why, and what to compare instead."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: Literal[ErrorCode.UNSAFE_COMPARISON]
    comparable: Literal[False]
    message: str
    left: Side
    right: Side
    mismatches: list[Mismatch]
    remedies: list[Remedy]


class UnsafeComparison(KpiError):
    def __init__(self, refusal: ComparisonRefusal) -> None:
        super().__init__(ErrorCode.UNSAFE_COMPARISON, refusal.message)
        self.refusal = refusal


_WHY = {
    "kpi": "different KPIs count different things, even under the same rules",
    "variant": "they follow different governed variants of the KPI",
    "value_basis": "they measure different kinds of money or quantity",
    "grain.level": "different entities (one customer vs the whole company)",
    "grain.aggregation": "an average vs a total (or similar) differ by the entity count, not by performance",
    "grain.population": "different populations (new logos vs all active customers)",
    "grain.segment": "different populations: one segment vs another, or vs the whole company",
    "recurring_inclusion": "one includes charges the other leaves out",
    "annualization": "contract amounts are annualized differently",
    "time_basis": "a balance at a date vs a flow over a period or window",
    "date_basis": "counted from different dates (signature vs go-live)",
    "unit": "they are in different units",
    "currency": "they are in different currencies; this server holds no exchange rates",
    "period": "their periods are not the same length, so the change would mix time with performance",
    "undated": "a value without a period or date cannot be placed in time; recompute it with its period",
    "undefined": "one side has no value",
    "basis": "they were computed under different governed ledger options, which move the number",
    "benchmark": "the benchmark was measured under other rules",
    "catalog": "computed under different catalog versions, whose definitions may differ",
    "profile": "computed under different governance profiles (or one without), whose locked rules and definitions "
    "may differ",
    "deviation": "one was computed against a locked decision of the profile (override), the other not the same way",
}


def _mismatch_phrase(m: Mismatch) -> str:
    if m.axis == "undated":
        return "a value has no period or date (give `period` or `as_of` when computing it)"
    if m.axis == "deviation":
        return f"one value deviates from a locked decision ({m.left} vs {m.right})"
    return f"{m.axis} differs ({m.left} vs {m.right})"


def _side(value: BoundValue) -> Side:
    return Side(kpi=value.kpi, variant=value.variant, label=value.label, status=value.status, value=value.value)


def _mismatch(axis: str, left: str, right: str) -> Mismatch:
    return Mismatch(axis=axis, left=left, right=right, why=_WHY[axis])


def _when(value: BoundValue) -> str:
    if value.binding.time_basis.kind is TimeBasisKind.POINT_IN_TIME and value.as_of is not None:
        return value.as_of.isoformat()
    return value.period.label() if value.period else (value.as_of.isoformat() if value.as_of else "undated")


def _resolved(ctx: ToolContext, claim: ValueClaim, field: str) -> ValueClaim:
    """A claim naming its KPI by alias ('NDR') names it by id, as in compute_kpi; an ambiguous one ('ACV') is refused."""
    if claim.kpi is None or claim.kpi in ctx.catalog.kpis:
        return claim
    found = resolve_kpi(ctx.catalog, ctx.index, claim.kpi, field=f"{field}.kpi")
    return claim.model_copy(update={"kpi": found.id})


def compare_metrics(ctx: ToolContext, left: ValueClaim, right: ValueClaim | BenchmarkRef) -> Comparison:
    binder = ctx.binder
    left = _resolved(ctx, left, "left")
    if isinstance(right, ValueClaim):
        right = _resolved(ctx, right, "right")
    a = read_claim(binder, left, "left")
    if isinstance(right, BenchmarkRef):
        return _against_benchmark(binder, a, right)
    return compare_values(binder, a, read_claim(binder, right, "right"))


def compare_values(binder: Binder, a: BoundValue, b: BoundValue) -> Comparison:
    """The comparison of two values already read (or produced here): the rules compare_metrics applies."""
    mismatches: list[Mismatch] = []
    same_kpi = a.kpi == b.kpi
    # Two KPIs can share every binding axis and still count different things (expansion and
    # downgrades are both company totals over existing customers), so identity is an axis of its own.
    if not same_kpi:
        mismatches.append(_mismatch("kpi", a.kpi, b.kpi))
    if same_kpi and a.variant != b.variant:
        mismatches.append(_mismatch("variant", a.variant, b.variant))
    mismatches += [_mismatch(axis.value, lv, rv) for axis, lv, rv in binding_differences(a.binding, b.binding)]
    if a.currency != b.currency:
        mismatches.append(_mismatch("currency", a.currency or "none", b.currency or "none"))
    if same_kpi:
        mismatches += [
            Mismatch(axis=f"basis.{key}", left=lv, right=rv, why=_WHY["basis"])
            for key, lv, rv in basis_differences(a, b)
        ]
    mismatches += _governance_mismatches(a, b)
    kind, order, period_problem = _alignment(a, b)
    if period_problem and a.binding.time_basis == b.binding.time_basis:
        # Periods can only be aligned between values of one time basis; otherwise that axis already says why.
        mismatches.append(period_problem)
    for side, value in (("left", a), ("right", b)):
        if value.value is None:
            mismatches.append(_mismatch("undefined", *(("no value", "-") if side == "left" else ("-", "no value"))))
    if mismatches:
        raise UnsafeComparison(
            ComparisonRefusal(
                code=ErrorCode.UNSAFE_COMPARISON,
                comparable=False,
                message="Refused, not comparable: " + "; ".join(_mismatch_phrase(m) for m in mismatches[:4]),
                left=_side(a),
                right=_side(b),
                mismatches=mismatches,
                remedies=remedies_for(binder.catalog, a, b),
            )
        )
    baseline, subject = (a, b) if order == "left" else (b, a)
    notes: list[str] = []
    notes += [
        f"{s} value is asserted by the caller"
        for s, v in (("left", a), ("right", b))
        if v.status is ValueStatus.ASSERTED
    ]
    assert baseline.value is not None and subject.value is not None  # refused above otherwise
    return _result(kind, a, b, order, baseline.value, subject.value, binder.catalog.get(a.kpi), notes)


def _profile_text(value: BoundValue) -> str:
    profile = value.provenance.profile if value.provenance is not None else None
    return "no profile" if profile is None else f"{profile.id} ({profile.hash[:19]}…)"


def _governance_mismatches(a: BoundValue, b: BoundValue) -> list[Mismatch]:
    """Catalog version, governance profile and lock deviations: axes only signed values state (asserted ones have none)."""
    found = []
    if a.provenance is not None and b.provenance is not None:
        if a.provenance.catalog_version != b.provenance.catalog_version:
            found.append(_mismatch("catalog", a.provenance.catalog_version, b.provenance.catalog_version))
        if a.provenance.profile != b.provenance.profile:
            found.append(_mismatch("profile", _profile_text(a), _profile_text(b)))
    if a.deviation != b.deviation:
        found.append(
            _mismatch("deviation", *(v.deviation.policy if v.deviation else "follows the locks" for v in (a, b)))
        )
    return found


def _alignment(a: BoundValue, b: BoundValue) -> tuple[ComparisonKind, Literal["left", "right"], Mismatch | None]:
    """Trend or same-period, which side is the baseline, and any period problem."""
    point = a.binding.time_basis.kind is TimeBasisKind.POINT_IN_TIME
    if point:
        if a.as_of is None or b.as_of is None:
            return ComparisonKind.SAME_PERIOD, "right", _mismatch("undated", _when(a), _when(b))
        if a.as_of == b.as_of:
            return ComparisonKind.SAME_PERIOD, "right", None
        return ComparisonKind.TREND, ("left" if a.as_of < b.as_of else "right"), None
    if a.period is None or b.period is None:
        return ComparisonKind.SAME_PERIOD, "right", _mismatch("undated", _when(a), _when(b))
    if a.period == b.period:
        return ComparisonKind.SAME_PERIOD, "right", None
    same_months = a.period.months is not None and a.period.months == b.period.months
    if not same_months and (a.period.end - a.period.start) != (b.period.end - b.period.start):
        return ComparisonKind.TREND, "right", _mismatch("period", a.period.label(), b.period.label())
    return ComparisonKind.TREND, ("left" if a.period.start < b.period.start else "right"), None


def _direction(kpi: KpiDefinition | None, change: Decimal) -> Direction:
    if change == 0:
        return Direction.UNCHANGED
    higher = None if kpi is None else kpi.higher_is_better
    if higher is None:
        return Direction.NOT_JUDGED
    return Direction.BETTER if (change > 0) == higher else Direction.WORSE


def difference_text(difference: Decimal, unit: Unit, currency: str | None) -> str:
    """A signed difference with its unit: '+$120,000.50', '-7.38 percentage points', '+0.25x'."""
    sign = "+" if difference > 0 else ("-" if difference < 0 else "")
    magnitude = abs(difference)
    if unit is Unit.PERCENT:
        return f"{sign}{magnitude:,f} percentage points"
    return f"{sign}{format_value(magnitude, unit, currency)}"


def _result(
    kind: ComparisonKind,
    a: BoundValue,
    b: BoundValue,
    order: Literal["left", "right"],
    base: Decimal,
    subject: Decimal,
    kpi: KpiDefinition | None,
    notes: list[str],
) -> Comparison:
    unit = a.unit
    difference = quantize(subject - base, unit)
    shown = difference_text(difference, unit, a.currency)
    ratio = None if base == 0 else quantize(subject / base, Unit.RATIO)
    percent = None if base == 0 else quantize((subject - base) / abs(base) * 100, Unit.PERCENT)
    if base == 0:
        notes.append("the baseline is zero: ratio and percent change are undefined")
    direction = _direction(kpi, subject - base)
    first, second = (a, b) if order == "left" else (b, a)
    relative = f", {percent:+}% relative" if percent is not None else ""
    summary = f"{second.label} vs {first.label}: {shown}{relative}; {direction.value.replace('_', ' ')}"
    return Comparison(
        comparable=True,
        kind=kind,
        left=_side(a),
        right=_side(b),
        baseline=order,
        difference=difference,
        difference_text=shown,
        ratio=ratio,
        percent_change=percent,
        direction=direction,
        summary=summary,
        notes=notes,
    )


def _against_benchmark(binder: Binder, value: BoundValue, ref: BenchmarkRef) -> Comparison:
    kpi = binder.catalog.get(value.kpi)
    benchmark = None if kpi is None else kpi.benchmark
    variant = None if value.variant == DEFAULT_VARIANT_ID else value.variant
    position: BenchmarkPosition | None = None
    note: str | None = "the catalog has no benchmark for this KPI"
    if kpi is not None and benchmark is not None:
        position, note = benchmark_position(
            benchmark,
            value.value or Decimal(0),
            value.binding,
            variant,
            value.currency,
            measured_under=kpi.binding_for(benchmark.variant),
        )
    if kpi is None or benchmark is None or position is None or value.value is None:
        why = note or "the value is undefined"
        raise UnsafeComparison(
            ComparisonRefusal(
                code=ErrorCode.UNSAFE_COMPARISON,
                comparable=False,
                message=f"Refused: {value.label} cannot be placed against a benchmark — {why}",
                left=_side(value),
                right=Side(
                    kpi=value.kpi,
                    variant="benchmark",
                    label=f"benchmark {ref.benchmark}",
                    status=ValueStatus.REPORTED,
                    value=None,
                ),
                mismatches=[_mismatch("benchmark", value.variant, why)],
                remedies=remedies_for(binder.catalog, value, None),
            )
        )
    quartile = {"p25": position.p25, "median": position.median, "p75": position.p75}[ref.benchmark]
    quoted = format_value(quartile, value.unit, value.currency)
    reference = Side(
        kpi=kpi.id,
        variant=benchmark.variant or DEFAULT_VARIANT_ID,
        label=f"{kpi.label} benchmark {ref.benchmark} ({position.source}): {quoted}",
        status=ValueStatus.REPORTED,
        value=quartile,
    )
    difference = quantize(value.value - quartile, value.unit)
    shown = difference_text(difference, value.unit, value.currency)
    ratio = None if quartile == 0 else quantize(value.value / quartile, Unit.RATIO)
    percent = None if quartile == 0 else quantize((value.value - quartile) / abs(quartile) * 100, Unit.PERCENT)
    direction = _direction(kpi, value.value - quartile)
    return Comparison(
        comparable=True,
        kind=ComparisonKind.BENCHMARK,
        left=_side(value),
        right=reference,
        baseline="right",
        difference=difference,
        difference_text=shown,
        ratio=ratio,
        percent_change=percent,
        direction=direction,
        summary=f"{value.label} is {position.reading}; {shown} from the {ref.benchmark} "
        f"({direction.value.replace('_', ' ')})",
        notes=[f"benchmark source: {position.source}"],
    )
