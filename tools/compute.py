"""compute_kpi: evaluate a governed formula over bound inputs, or bind a reported figure."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from kpi_context.ontology.binding import Binding, TimeBasisKind, Unit
from kpi_context.ontology.catalog import Catalog
from kpi_context.ontology.expression import UndefinedResult, evaluate, parse
from kpi_context.ontology.model import (
    DEFAULT_VARIANT_ID,
    Expression,
    ExpressionInput,
    FieldType,
    KpiDefinition,
    Production,
)
from kpi_context.tools.basis import inherited_basis
from kpi_context.tools.binder import Binder, Draft
from kpi_context.tools.claims import allowed_bindings, variant_id_of
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.governance import enforce_locks, with_locks
from kpi_context.tools.inputs import BoundInput, InputArgument, When, bind_input, opens_period, trailing_window
from kpi_context.tools.periods import Period, parse_period, shift_days
from kpi_context.tools.resolve import resolve_kpi
from kpi_context.tools.values import BoundValue, InputUse, ValueStatus

BINDING_BASIS_KEYS = ("value_basis", "recurring_inclusion", "annualization", "date_basis")
"""`basis` keys that select a governed variant by its binding (the ledger adds its own keys)."""


def resolve_when(kpi: KpiDefinition, binding: Binding, period: Period | str | None, as_of: date | None) -> When:
    if isinstance(period, str):
        period = parse_period(period)
    kind = binding.time_basis.kind
    window = binding.time_basis.window_months
    if kind is TimeBasisKind.TRAILING_WINDOW and period is not None and window is not None:
        # A trailing-window value is for its window: NRR "for Q3 2026" is the twelve months to 30 Sep 2026.
        period = trailing_window(period.end, window)
    if kind in (TimeBasisKind.PERIOD_FLOW, TimeBasisKind.TRAILING_WINDOW) and period is None:
        what = "a flow over a period" if kind is TimeBasisKind.PERIOD_FLOW else "a trailing-window measure"
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{kpi.id} is {what}: give `period` (e.g. '2026-Q3' or {{'start': …, 'end': …}})",
            field="period",
        )
    if kind is TimeBasisKind.POINT_IN_TIME and period is None and as_of is None:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{kpi.id} is measured at a point in time: give `as_of` (a date) or the `period` it closes",
            field="as_of",
        )
    # An opening balance (starting ARR) for a period is dated the day before the period starts.
    dated = None
    if period is not None and kind is TimeBasisKind.POINT_IN_TIME:
        dated = shift_days(period.start, -1) if opens_period(kpi) else period.end
    if dated is not None and as_of is not None and as_of != dated:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{kpi.id} for {period.label() if period else ''} is dated {dated.isoformat()}, not {as_of.isoformat()}; "
            "give one or the other",
            field="as_of",
        )
    if dated is not None and as_of is None:
        return When(period, dated)
    return When(period, as_of)


def choose_variant(kpi: KpiDefinition, variant: str | None, basis: Mapping[str, str] | None) -> str | None:
    """The variant named, or the one whose binding has the requested basis; refused if none has it."""
    chosen = variant_id_of(kpi, variant, "variant")
    wanted = {k: v for k, v in (basis or {}).items() if k in BINDING_BASIS_KEYS}
    if not wanted:
        return chosen
    candidates = allowed_bindings(kpi)
    matches = [
        vid
        for vid, binding in candidates.items()
        if all(getattr(binding, key).value == value for key, value in wanted.items())
    ]
    if chosen is not None or variant == DEFAULT_VARIANT_ID:
        matches = [m for m in matches if m == (chosen or DEFAULT_VARIANT_ID)]
    if not matches:
        offered = {
            vid: {key: getattr(binding, key).value for key in BINDING_BASIS_KEYS} for vid, binding in candidates.items()
        }
        raise KpiError(
            ErrorCode.VARIANT_NOT_ALLOWED,
            f"{kpi.id} has no governed variant with {wanted}; the catalog allows: "
            + "; ".join(f"{vid} ({', '.join(f'{k}={v}' for k, v in axes.items())})" for vid, axes in offered.items()),
            field="basis",
            details={"requested": wanted, "allowed": offered},
        )
    found = matches[0]
    return None if found == DEFAULT_VARIANT_ID else found


def compute_from_inputs(
    ctx: ToolContext,
    kpi_ref: str,
    inputs: Mapping[str, InputArgument] | None,
    *,
    variant: str | None = None,
    period: Period | str | None = None,
    as_of: date | None = None,
    currency: str | None = None,
    basis: Mapping[str, str] | None = None,
) -> BoundValue:
    binder = ctx.binder
    kpi = resolve_kpi(ctx.catalog, ctx.index, kpi_ref, field="kpi")
    if kpi.field_type in (FieldType.TEXT, FieldType.DATE):
        raise KpiError(
            ErrorCode.NOT_COMPUTABLE,
            f"{kpi.id} is a {kpi.field_type.value} field, not a number; see lookup_kpi for what belongs in it",
            field="kpi",
        )
    unknown_basis = sorted(set(basis or {}) - set(BINDING_BASIS_KEYS))
    if unknown_basis:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"basis keys {unknown_basis} apply only to ledger computations; without a ledger the keys are "
            f"{list(BINDING_BASIS_KEYS)}",
            field="basis",
        )
    variant, basis = with_locks(ctx, kpi, variant, basis)
    variant_id = choose_variant(kpi, variant, basis)
    binding = kpi.binding_for(variant_id)
    enforce_locks(ctx, kpi, variant_id, binding, {})
    if isinstance(period, str):
        period = parse_period(period, fiscal_start=ctx.fiscal_start)
    when = resolve_when(kpi, binding, period, as_of)
    given = dict(inputs or {})
    # The KPI's own figure may be given under its id or under an id merged into it (a former duplicate).
    own = next((name for name in kpi.known_ids if name in given), None)
    if own is not None and (kpi.production is Production.PRIMARY or len(given) == 1):
        return _reported(binder, kpi, variant_id, given, own, when, currency)
    expression = kpi.expression_for(variant_id)
    if expression is None:
        raise KpiError(
            ErrorCode.MISSING_INPUT,
            f"{kpi.id} is a primary figure reported by a system of record; pass it as inputs={{'{kpi.id}': <number>}}",
            field="inputs",
            details={"missing": [kpi.id]},
        )
    given = _renamed_merged_inputs(binder.catalog, expression, given)
    names = {spec.name for spec in expression.inputs}
    unknown = sorted(set(given) - names)
    if unknown:
        raise KpiError(
            ErrorCode.UNKNOWN_INPUT,
            f"{kpi.id} does not take {unknown}; its inputs are {sorted(names)} (formula: {expression.formula})",
            field=f"inputs.{unknown[0]}",
            details={"unknown": unknown, "expected": sorted(names)},
        )
    missing = [spec for spec in expression.inputs if spec.name not in given]
    if missing:
        raise KpiError(
            ErrorCode.MISSING_INPUT,
            f"{kpi.id} needs {[m.name for m in missing]} (formula: {expression.formula})",
            field="inputs",
            details={
                "missing": [m.name for m in missing],
                "described": {m.name: m.description or f"KPI {m.kpi}" for m in missing},
            },
        )
    bound = [bind_input(binder, kpi, spec, given[spec.name], when, currency) for spec in expression.inputs]
    result_currency = _common_currency(bound, currency, binding)
    values = {b.spec.name: b.decimal for b in bound}
    undefined_reason = None
    try:
        value = evaluate(parse(expression.formula), values)
    except UndefinedResult as exc:
        value, undefined_reason = None, str(exc)
    warnings = [note for b in bound for note in b.notes]
    if undefined_reason:
        warnings.append(f"undefined: {undefined_reason}")
    if any(b.value.status is ValueStatus.ASSERTED for b in bound):
        warnings.append("some inputs are asserted by the caller, not produced by this server")
    basis_used = inherited_basis(kpi, [(b.spec.name, b.value) for b in bound])
    enforce_locks(ctx, kpi, variant_id, binding, basis_used)
    return binder.bind(
        Draft(
            kpi=kpi,
            variant_id=variant_id,
            value=value,
            status=ValueStatus.COMPUTED,
            period=when.period,
            as_of=when.as_of,
            currency=result_currency,
            undefined_reason=undefined_reason,
            formula=expression.formula,
            inputs=tuple(input_use(b.spec.name, b.value) for b in bound),
            warnings=tuple(warnings),
            basis=basis_used,
        )
    )


def input_use(name: str, value: BoundValue) -> InputUse:
    """An input by reference: enough to read and trace it, without repeating its binding."""
    value_id = value.provenance.value_id if value.provenance is not None else None
    return InputUse(
        name=name, kpi=value.kpi, value=value.value, label=value.label, value_id=value_id, status=value.status
    )


def _renamed_merged_inputs(
    catalog: Catalog, expression: Expression, given: dict[str, InputArgument]
) -> dict[str, InputArgument]:
    """An input named by a KPI id that was merged into another (a former duplicate) takes the current name."""
    renamed = dict(given)
    for spec in expression.inputs:
        target = catalog.kpis.get(spec.kpi) if spec.kpi is not None and spec.name == spec.kpi else None
        if target is None or spec.name in renamed:
            continue
        former = next((old for old in target.merged_ids if old in renamed), None)
        if former is not None:
            renamed[spec.name] = renamed.pop(former)
    return renamed


def _reported(
    binder: Binder,
    kpi: KpiDefinition,
    variant_id: str | None,
    given: dict[str, InputArgument],
    own: str,
    when: When,
    currency: str | None,
) -> BoundValue:
    extra = sorted(set(given) - {own})
    if extra:
        raise KpiError(
            ErrorCode.UNKNOWN_INPUT,
            f"a reported {kpi.id} takes only inputs={{'{own}': …}}; remove {extra}",
            field=f"inputs.{extra[0]}",
        )
    spec = ExpressionInput(name=own, kpi=kpi.id, variant=variant_id)
    bound = bind_input(binder, kpi, spec, given[own], when, currency)
    binding = kpi.binding_for(variant_id)
    result_currency = _common_currency([bound], currency, binding)
    warnings = list(bound.notes)
    status = ValueStatus.ASSERTED if bound.value.status is ValueStatus.ASSERTED else ValueStatus.REPORTED
    return binder.bind(
        Draft(
            kpi=kpi,
            variant_id=variant_id,
            value=bound.decimal,
            status=status,
            period=when.period if binding.time_basis.kind is not TimeBasisKind.POINT_IN_TIME else None,
            as_of=when.as_of,
            currency=result_currency,
            warnings=tuple(warnings),
        )
    )


def _common_currency(bound: list[BoundInput], requested: str | None, binding: Binding) -> str | None:
    seen = {b.value.currency for b in bound if b.value.currency}
    if len(seen) > 1:
        raise KpiError(
            ErrorCode.CURRENCY_MISMATCH,
            f"inputs are in several currencies {sorted(seen)}; convert them to one first",
            field="inputs",
            details={"currencies": sorted(seen)},
        )
    found = requested or (seen.pop() if seen else None)
    if binding.unit in (Unit.CURRENCY, Unit.CURRENCY_PER_MONTH) and found is None:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            "the result is an amount of money: give `currency` (ISO 4217, e.g. 'USD')",
            field="currency",
        )
    return found
