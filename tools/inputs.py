"""Binding the inputs of a computation and refusing those bound differently than the formula needs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Annotated

from pydantic import StringConstraints

from kpi_context.ontology.binding import Binding, TimeBasisKind, Unit, binding_differences
from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, ExpressionInput, KpiDefinition, PeriodRole, PlausibleRange
from kpi_context.tools.binder import Binder, Draft
from kpi_context.tools.claims import check_count, claim_decimal, merge_binding, verified
from kpi_context.tools.describe import plausible_text, unit_text
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.formatting import format_value
from kpi_context.tools.periods import Period, months_before, shift_days
from kpi_context.tools.values import BoundValue, Number, ValueClaim, ValueStatus

PERCENT_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,12})? ?%$"
PercentText = Annotated[str, StringConstraints(pattern=PERCENT_PATTERN)]
"""A percent written with its sign, e.g. "76%": read on the 0–100 scale."""

InputArgument = Number | PercentText | ValueClaim


@dataclass(frozen=True)
class When:
    """The period or date a computation is for."""

    period: Period | None
    as_of: date | None

    def for_role(self, role: PeriodRole, window_months: int | None = None) -> When:
        """The period or date an input in `role` must be for."""
        match role:
            case PeriodRole.CURRENT:
                return self
            case PeriodRole.PRIOR_PERIOD | PeriodRole.PRIOR_YEAR | PeriodRole.PRIOR_QUARTER:
                if self.period is None:
                    return When(None, None)
                shifts = {PeriodRole.PRIOR_YEAR: -12, PeriodRole.PRIOR_QUARTER: -3}
                shift = shifts.get(role, -(self.period.months or 0))
                if shift == 0:
                    raise KpiError(
                        ErrorCode.INVALID_ARGUMENT,
                        "a prior-period input needs a whole-month period (e.g. '2026-Q3')",
                        field="period",
                    )
                return When(self.period.shifted(shift), None)
            case PeriodRole.WINDOW | PeriodRole.WINDOW_OPEN:
                if self.period is None or window_months is None:
                    return When(None, None)
                window = trailing_window(self.period.end, window_months)
                if role is PeriodRole.WINDOW:
                    return When(window, None)
                return When(None, shift_days(window.start, -1))


@dataclass(frozen=True)
class BoundInput:
    spec: ExpressionInput
    value: BoundValue
    decimal: Decimal
    notes: tuple[str, ...] = ()
    """What the caller should know about how the input was read (a unit conversion, a confirmed outlier)."""


def opens_period(kpi: KpiDefinition) -> bool:
    """A balance taken at the period's open (starting ARR): a point-in-time KPI read from the prior period.

    Its date for a period is the day before the period starts, not the period's close.
    """
    expression = kpi.expression
    return (
        kpi.binding.time_basis.kind is TimeBasisKind.POINT_IN_TIME
        and expression is not None
        and all(item.period is PeriodRole.PRIOR_PERIOD for item in expression.inputs)
    )


def required_binding(catalog_get: Mapping[str, KpiDefinition], spec: ExpressionInput) -> Binding:
    if spec.binding is not None:
        return spec.binding
    assert spec.kpi is not None  # guaranteed by ExpressionInput's validator
    return catalog_get[spec.kpi].binding_for(spec.variant)


def _mismatch(spec: ExpressionInput, parent: KpiDefinition, diffs: list[tuple[str, str, str]], hint: str) -> KpiError:
    first_axis = diffs[0][0]
    listed = "; ".join(f"{axis}: needs {w!r}, got {g!r}" for axis, w, g in diffs)
    return KpiError(
        ErrorCode.INPUT_BINDING_MISMATCH,
        f"input {spec.name!r} of {parent.id} is bound differently than the formula needs ({listed}). {hint}".strip(),
        field=f"inputs.{spec.name}",
        details={
            "input": spec.name,
            "axis": first_axis,
            "mismatches": [{"axis": a, "required": w, "given": g} for a, w, g in diffs],
        },
    )


def bind_input(
    binder: Binder,
    parent: KpiDefinition,
    spec: ExpressionInput,
    argument: InputArgument,
    when: When,
    currency: str | None,
) -> BoundInput:
    """Bind one input, or refuse it with the axis on which it disagrees with the formula."""
    field = f"inputs.{spec.name}"
    catalog = binder.catalog.kpis
    needed = required_binding(catalog, spec)
    target = when.for_role(spec.period, parent_window(parent))
    # A bare number or percent string is the input itself: a fault in it is at `inputs.<name>`.
    value_field = field if not isinstance(argument, ValueClaim) else f"{field}.value"
    if isinstance(argument, str):
        if not re.fullmatch(PERCENT_PATTERN, argument, re.ASCII):
            raise KpiError(
                ErrorCode.INVALID_ARGUMENT,
                f'input {spec.name!r}: {argument!r} is not a percent such as "76%" (ASCII digits)',
                field=field,
            )
        argument = ValueClaim(value=argument.rstrip("%").strip(), unit=Unit.PERCENT)
    elif not isinstance(argument, ValueClaim):
        argument = ValueClaim(value=argument)
    notes: tuple[str, ...] = ()
    trusted = verified(binder, argument)
    given_kpi: str | None
    if trusted is not None:
        given_kpi, given_binding = trusted.kpi, trusted.binding
        value, status = trusted.value, trusted.status
        period, as_of, value_currency = trusted.period, trusted.as_of, trusted.currency
    else:
        argument_kpi = canonical_kpi_id(binder.catalog, argument.kpi)
        given_kpi = argument_kpi or spec.kpi
        # A value claimed for another KPI carries that KPI's rules, not the ones this input needs.
        claimed = catalog.get(argument_kpi) if argument_kpi is not None else None
        own_default = argument_kpi == spec.kpi and argument.variant is None
        base = needed if claimed is None or own_default else claimed.binding_for(argument.variant)
        given_binding = merge_binding(base, argument.binding, field)
        value, status = claim_decimal(argument, field, value_field=value_field), ValueStatus.ASSERTED
        if value is not None:
            plausible = plausible_range_of(binder.catalog, spec)
            # Before the plausible range: a fractional or negative count is wrong even when confirmed.
            check_count(value, needed.unit, plausible, f"input {spec.name!r}", value_field)
            value, notes = read_figure(
                value, argument, needed.unit, plausible, spec.name, argument.currency or currency
            )
        if argument.binding is None and argument.kpi is None and argument.provenance is None:
            status = ValueStatus.REPORTED
        period, as_of = argument.period or target.period, argument.as_of or target.as_of
        value_currency = argument.currency or currency
    # Binding axes first: the grain or basis that differs is what the caller must fix.
    diffs = [(axis.value, want, got) for axis, want, got in binding_differences(needed, given_binding)]
    if spec.kpi is not None and given_kpi != spec.kpi:
        diffs.append(("kpi", spec.kpi, str(given_kpi)))
    if diffs:
        hint = _remedy_hint(binder, spec, given_kpi)
        raise _mismatch(spec, parent, diffs, hint)
    if value is None:
        raise KpiError(
            ErrorCode.UNDEFINED_VALUE,
            f"input {spec.name!r} has no value (it was undefined)",
            field=f"{field}.value",
        )
    source = catalog.get(spec.kpi) if spec.kpi is not None else None
    _check_when(spec, target, period, as_of, needed, field, opening=source is not None and opens_period(source))
    if needed.currency_required and value_currency is None:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"input {spec.name!r} is an amount of money: give its currency, or `currency` for the call",
            field="currency",
            details={"input": spec.name},
        )
    if needed.currency_required and currency and value_currency and value_currency != currency:
        raise KpiError(
            ErrorCode.CURRENCY_MISMATCH,
            f"input {spec.name!r} is in {value_currency} but the computation is in {currency}; "
            "convert it first (this server does not hold exchange rates)",
            field=f"{field}.currency",
            details={"input": spec.name, "input_currency": value_currency, "currency": currency},
        )
    if trusted is not None:
        return BoundInput(spec, trusted, value)
    bound = _bind_as_input(binder, parent, spec, needed, value, status, period, as_of, value_currency)
    return BoundInput(spec, bound, value, notes)


def parent_window(parent: KpiDefinition) -> int | None:
    time = parent.binding.time_basis
    return time.window_months if time.kind is TimeBasisKind.TRAILING_WINDOW else None


def trailing_window(close: date, months: int, *, field: str = "period") -> Period:
    """The `months` ending on `close`: 12 months to 2026-09-30 is 2025-10-01 to 2026-09-30.

    A window that would open before 0001-01-01 is refused (`out_of_range`, naming `field`).
    """
    opened = months_before(close, months, field=field)
    return Period(start=opened + timedelta(days=1), end=close)


def plausible_range_of(catalog: Catalog, spec: ExpressionInput) -> PlausibleRange | None:
    if spec.kpi is None:
        return spec.plausible_range
    return catalog.kpis[spec.kpi].plausible_range


_CONVERSIONS: dict[tuple[Unit, Unit], Decimal] = {
    (Unit.RATIO, Unit.PERCENT): Decimal(100),
    (Unit.PERCENT, Unit.RATIO): Decimal("0.01"),
}


def _shown(value: Decimal, unit: Unit, currency: str | None = None) -> str:
    """A number as the caller would write it in this unit: 76%, 0.8%, 1.5x, -$500,000 (500,000 with no currency)."""
    plain = value.normalize()
    if unit in (Unit.CURRENCY, Unit.CURRENCY_PER_MONTH) and currency is None:
        return f"{plain:,f}"
    return format_value(plain, unit, currency)


def read_figure(
    value: Decimal,
    claim: ValueClaim,
    needed: Unit,
    plausible: PlausibleRange | None,
    name: str,
    currency: str | None = None,
) -> tuple[Decimal, tuple[str, ...]]:
    """The number in the unit the formula needs, refused when it is implausible and not confirmed.

    A bare number is read in the needed unit; one outside the plausible range is refused with both
    readings, because a fraction typed where a percent belongs (0.76 for 76 %) is the commonest
    silent error. A stated unit is converted and recorded; a stated, confirmed outlier is kept
    with a warning.
    """
    field = f"inputs.{name}"
    notes: list[str] = []
    stated = claim.unit
    if stated is not None and stated is not needed:
        factor = _CONVERSIONS.get((stated, needed))
        if factor is None:
            raise KpiError(
                ErrorCode.INPUT_BINDING_MISMATCH,
                f"input {name!r} is stated in {stated.value} but the formula needs {unit_text(needed)}",
                field=f"{field}.unit",
                details={"input": name, "axis": "unit", "required": needed.value, "given": stated.value},
            )
        converted = value * factor
        notes.append(f"input {name}: given as {value} ({stated.value}), read as {_shown(converted, needed)}")
        value = converted
    if plausible is not None and plausible.below_definitional_min(value):
        raise _below_definition(value, plausible, needed, name, currency)
    if plausible is None or plausible.contains(value):
        return value, tuple(notes)
    shown = _shown(value, needed, currency)
    limits = plausible_text(plausible, needed)
    if stated is not None and claim.confirm:
        notes.append(
            f"input {name}: {shown} is outside the plausible range ({limits}); kept because the caller confirmed it"
        )
        return value, tuple(notes)
    details: dict[str, object] = {"input": name, "given": str(value), "plausible": limits, "unit": needed.value}
    if stated is None:
        message = f"input {name!r}: {value} would be read as {shown}, outside the plausible range ({limits})."
        alternative = value * 100 if needed is Unit.PERCENT else None
        if alternative is not None and plausible.contains(alternative):
            message += (
                f' Did you mean {format_value(alternative.normalize(), needed, None)}? Send "{alternative.normalize():f}%" '
                f'or {{"value": {value}, "unit": "ratio"}}.'
            )
            details["did_you_mean"] = f"{alternative.normalize():f}"
        message += f' If {shown} is true, send {{"value": {value}, "unit": "{needed.value}", "confirm": true}}.'
    else:
        message = (
            f"input {name!r}: {shown} is outside the plausible range ({limits}); if it is true, "
            'add "confirm": true to the input.'
        )
    raise KpiError(ErrorCode.IMPLAUSIBLE_VALUE, message, field=field, details=details)


def _below_definition(
    value: Decimal, plausible: PlausibleRange, needed: Unit, name: str, currency: str | None
) -> KpiError:
    """A value under a minimum the definition sets (a movement entered with a minus sign): never kept."""
    assert plausible.min is not None  # guaranteed by the model when the minimum is set by definition
    shown = _shown(value, needed, currency)
    floor = _shown(plausible.min, needed, currency)
    why = f" {plausible.note}" if plausible.note else ""
    return KpiError(
        ErrorCode.INVALID_ARGUMENT,
        f"input {name!r}: {shown} is below {floor}, the least value its definition allows, and is refused even when "
        f"confirmed.{why}",
        field=f"inputs.{name}",
        details={"input": name, "given": str(value), "minimum": str(plausible.min), "unit": needed.value},
    )


def canonical_kpi_id(catalog: Catalog, kpi_id: str | None) -> str | None:
    """The id a claim's KPI goes by now: an id merged into another KPI (a former duplicate) names that KPI."""
    if kpi_id is None or kpi_id in catalog.kpis:
        return kpi_id
    return next((kpi.id for kpi in catalog if kpi_id in kpi.merged_ids), kpi_id)


def _check_when(
    spec: ExpressionInput,
    target: When,
    period: Period | None,
    as_of: date | None,
    needed: Binding,
    field: str,
    *,
    opening: bool = False,
) -> None:
    if target.period is not None and period is not None and period != target.period:
        raise KpiError(
            ErrorCode.PERIOD_MISMATCH,
            f"input {spec.name!r} is for {period.label()} but the formula needs {target.period.label()} "
            f"({spec.period.value.replace('_', ' ')})",
            field=f"{field}.period",
        )
    point = needed.time_basis.kind is TimeBasisKind.POINT_IN_TIME
    close = None
    if target.period is not None and point:
        close = shift_days(target.period.start, -1) if opening else target.period.end
    expected_date = target.as_of or close
    if point and as_of is not None and expected_date is not None and as_of != expected_date:
        raise KpiError(
            ErrorCode.PERIOD_MISMATCH,
            f"input {spec.name!r} is as of {as_of.isoformat()} but the formula needs {expected_date.isoformat()}",
            field=f"{field}.as_of",
        )


def _bind_as_input(
    binder: Binder,
    parent: KpiDefinition,
    spec: ExpressionInput,
    needed: Binding,
    value: Decimal,
    status: ValueStatus,
    period: Period | None,
    as_of: date | None,
    currency: str | None,
) -> BoundValue:
    if spec.kpi is not None:
        kpi = binder.catalog.kpis[spec.kpi]
        return binder.bind(
            Draft(
                kpi=kpi,
                variant_id=spec.variant,
                value=value,
                status=status,
                period=period,
                as_of=as_of,
                currency=currency,
            )
        )
    # A raw input is not a catalog KPI: it is bound and reported, but carries no signature of its own.
    shown_currency = currency if needed.currency_required else None
    return BoundValue(
        kpi=f"{parent.id}#{spec.name}",
        variant=DEFAULT_VARIANT_ID,
        value=value,
        unit=needed.unit,
        currency=shown_currency,
        period=period,
        as_of=as_of,
        binding=needed,
        status=status,
        label=f"{spec.name} (raw input of {parent.id}): {format_value(value, needed.unit, shown_currency)}",
        provenance=None,
    )


def _remedy_hint(binder: Binder, spec: ExpressionInput, given_kpi: str | None) -> str:
    if spec.kpi is None:
        return f"Supply {spec.name} as described: {spec.description or 'see lookup_kpi'}."
    wanted = binder.catalog.kpis[spec.kpi]
    hint = f"Supply {spec.kpi} ({wanted.label_for(spec.variant)}; {wanted.binding_for(spec.variant).grain.describe()})."
    if given_kpi and given_kpi != spec.kpi and binder.catalog.get(given_kpi) is not None:
        other = binder.catalog.kpis[given_kpi]
        hint += f" {other.id} is {other.binding.grain.describe()}, so it cannot stand in for it."
    return hint
