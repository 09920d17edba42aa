"""compute_kpi over a contract ledger: choose the rules, validate the rows, run the SQL, bind the result.

The options a caller passes in `basis` (or the KPI's defaults) decide every rule that moves
the number; they are applied in SQL, reported in the ledger trace, and the binding axes they
touch are set on the value's binding. When those axes match a governed variant of the KPI the
value carries that variant; when they match none it keeps its rules and says so in a warning,
so it can only be compared with values computed the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

import duckdb

from kpi_context.ontology.binding import Aggregation, Binding, TimeBasisKind, binding_differences
from kpi_context.ontology.ledger_options import (
    LEDGER_KPI_OPTIONS,
    KpiOptions,
    LedgerOptions,
    OptionKey,
    bound_binding,
    catalog_defaults,
    parse_option,
)
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, KpiDefinition
from kpi_context.tools.binder import Draft
from kpi_context.tools.claims import allowed_bindings, variant_id_of
from kpi_context.tools.compute import resolve_when
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.inputs import When
from kpi_context.tools.ledger import measures
from kpi_context.tools.ledger.measures import Measured, Movement
from kpi_context.tools.ledger.source import DatasetRegistry, ledger_source
from kpi_context.tools.ledger.sql import priced_key, priced_sql
from kpi_context.tools.ledger.validate import Validation, open_ledger
from kpi_context.tools.periods import Period, months_before, shift_days
from kpi_context.tools.resolve import resolve_kpi
from kpi_context.tools.values import BoundValue, Component, LedgerTrace, ValueStatus

Progress = Callable[[float, float | None, str], None]
"""(progress, total, message), as MCP progress notifications carry them."""

_STEPS = 4.0


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


KPI_MEASURES: Mapping[str, Measure] = {
    "sales.arr": Measure.ARR,
    "sales.carr": Measure.ARR,
    "sales.mrr": Measure.MRR,
    "sales.starting_arr": Measure.STARTING_ARR,
    "sales.new_business": Measure.NEW_BUSINESS,
    "sales.expansion": Measure.EXPANSION,
    "sales.downgrades": Measure.CONTRACTION,
    "sales.churn_arr": Measure.CHURN,
    "sales.reactivation": Measure.REACTIVATION,
    "sales.net_new_arr": Measure.NET_NEW_ARR,
    "customers.net_revenue_retention": Measure.NRR,
    "customers.gross_revenue_retention": Measure.GRR,
    "customers.total_customers": Measure.ACTIVE_LOGOS,
    "sales.new_customers_added": Measure.NEW_LOGOS,
    "customers.new_customers_added": Measure.NEW_LOGOS,
    "customers.customers_churned": Measure.CHURNED_LOGOS,
    "customers.logo_churn_rate": Measure.LOGO_CHURN_RATE,
    "sales.avg_contract_value": Measure.NEW_LOGO_ACV,
    "sales.booked_acv": Measure.BOOKED_ACV,
    "customers.avg_contract_value": Measure.BLENDED_ACV,
    "customers.acv_trend_pct": Measure.ACV_TREND,
    "customers.top_customer_concentration": Measure.TOP_CONCENTRATION,
}
"""The KPIs a ledger computes; kept in step with the option table of `ontology.ledger_options`."""

_BRIDGE_MOVEMENTS = {
    Measure.NEW_BUSINESS: Movement.NEW,
    Measure.EXPANSION: Movement.EXPANSION,
    Measure.CONTRACTION: Movement.CONTRACTION,
    Measure.CHURN: Movement.CHURN,
    Measure.REACTIVATION: Movement.REACTIVATION,
}
_TOP_CUSTOMERS = {None: 10, "largest_customer": 1}


def compute_from_ledger(
    ctx: ToolContext,
    kpi_ref: str,
    ledger: str | Mapping[str, Any],
    *,
    datasets: DatasetRegistry,
    variant: str | None = None,
    period: Period | str | None = None,
    as_of: date | None = None,
    currency: str | None = None,
    basis: Mapping[str, str] | None = None,
    progress: Progress | None = None,
) -> BoundValue:
    kpi = resolve_kpi(ctx.catalog, ctx.index, kpi_ref, field="kpi")
    measure, spec = KPI_MEASURES.get(kpi.id), LEDGER_KPI_OPTIONS.get(kpi.id)
    if measure is None or spec is None:
        raise KpiError(
            ErrorCode.NOT_COMPUTABLE,
            f"{kpi.id} is not computed from a contract ledger; the ledger computes {sorted(KPI_MEASURES)}",
            field="kpi",
            details={"ledger_kpis": sorted(KPI_MEASURES)},
        )
    variant_id = variant_id_of(kpi, variant, "variant")
    catalog_binding = kpi.binding_for(variant_id)
    options = chosen_options(kpi.id, spec, catalog_binding, basis)
    binding = bound_binding(catalog_binding, options, spec.keys)
    variant_id, warnings = _governed(kpi, variant_id, variant is not None, binding)
    when = resolve_when(kpi, binding, period, as_of)
    source = ledger_source(ledger, datasets)

    def report(step: float, message: str) -> None:
        if progress is not None:
            progress(step, _STEPS, message)

    report(0, f"reading ledger {source.name!r}")
    with _database_errors(), open_ledger(datasets.store, source, currency) as opened:
        checked, con = opened.validation, opened.con
        report(1, f"{checked.rows_used:,} of {checked.rows_read:,} rows valid; pricing lines")
        # Priced lines depend on the file, the rates and five options only: kept with the dataset, they serve
        # every KPI computed under the same rules.
        priced = opened.derive(
            (opened.lines_key, priced_key(options)),
            functools.partial(_price, options, opened.lines),
        )
        con.execute(f"CREATE TEMP VIEW priced AS SELECT * FROM {priced}")
        report(2, f"computing {kpi.id}")
        measured, when = _run(con, measure, options, when, kpi, variant_id, binding)
    report(_STEPS, "done")
    trace = LedgerTrace(
        dataset=source.name,
        rows_read=checked.rows_read,
        rows_used=checked.rows_used,
        rows_rejected=checked.rows_rejected,
        rejections=checked.rejections[:REJECTIONS_SHOWN],
        contributing=_without_ids(measured.contributing, ctx.trace_ids),
    )
    if measured.undefined_reason:
        warnings.append(f"undefined: {measured.undefined_reason}")
    return ctx.binder.bind(
        Draft(
            kpi=kpi,
            variant_id=variant_id,
            value=measured.value,
            status=ValueStatus.COMPUTED,
            period=when.period,
            as_of=when.as_of,
            currency=checked.currency,
            undefined_reason=measured.undefined_reason,
            formula=measured.formula,
            components=tuple(_tidy(c) for c in measured.components),
            ledger=trace,
            warnings=tuple(warnings + _data_warnings(checked)),
            binding=binding,
            basis={key.value: options.value_of(key).value for key in spec.keys},
        )
    )


@contextmanager
def _database_errors() -> Iterator[None]:
    """A database error becomes a coded refusal; its own text ("Binder Error: …") never reaches the caller.

    An overflow is the ledger's amounts (or rates) exceeding the exact DECIMAL(38,6) the engine sums
    in: `out_of_range`. Anything else the database refuses is reported as a ledger it cannot compute,
    with the kind of error only.
    """
    try:
        yield
    except (duckdb.OutOfRangeException, duckdb.ConversionException) as exc:
        raise KpiError(
            ErrorCode.OUT_OF_RANGE,
            "the ledger's amounts, or amounts converted at ledger.fx_rates, exceed the engine's exact decimals "
            "(at most 32 integer digits, 6 decimals, per line and in every sum)",
            field="ledger",
            details={"database_error": type(exc).__name__},
        ) from None
    except duckdb.Error as exc:
        raise KpiError(
            ErrorCode.LEDGER_INVALID,
            "the ledger could not be computed by the engine; check its columns and values against kpi://ledger-format",
            field="ledger",
            details={"database_error": type(exc).__name__},
        ) from None


def _cent(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


REJECTIONS_SHOWN = 5
"""Rejected rows a value lists (the count is always complete): enough to see the pattern, not a dump."""


def _without_ids(contributing: Mapping[str, object], keep: int) -> dict[str, object]:
    """Counts always; account and contract ids only as many as the operator allows (customer identifiers)."""
    out: dict[str, object] = {}
    for key, value in contributing.items():
        if key.endswith("_ids"):
            ids = _flatten_ids(value)[:keep]
            if ids:
                out[key] = ids
        elif isinstance(value, Mapping):
            out[key] = _without_ids(value, keep)
        else:
            out[key] = value
    return out


def _flatten_ids(value: object) -> list[str]:
    if isinstance(value, Mapping):
        return [i for group in value.values() for i in _flatten_ids(group)]
    if isinstance(value, list):
        return [str(i) for i in value]
    return [str(value)]


def _price(options: LedgerOptions, lines: str, cursor: duckdb.DuckDBPyConnection, target: str) -> None:
    cursor.execute(f"CREATE {target} AS {priced_sql(options, lines)}")


def chosen_options(kpi_id: str, spec: KpiOptions, binding: Binding, basis: Mapping[str, str] | None) -> LedgerOptions:
    """The defaults for this KPI (catalog binding first), with the caller's `basis` applied; unknown keys refused."""
    options = catalog_defaults(spec, binding)
    updates: dict[str, object] = {}
    for raw_key, raw_value in (basis or {}).items():
        key = next((k for k in OptionKey if k.value == raw_key), None)
        if key is None or key not in spec.keys:
            raise KpiError(
                ErrorCode.INVALID_ARGUMENT,
                f"basis key {raw_key!r} does not apply to {kpi_id} computed from a ledger; "
                f"its keys are {[k.value for k in spec.keys]}",
                field=f"basis.{raw_key}",
                details={"allowed_keys": [k.value for k in spec.keys]},
            )
        value = parse_option(key, raw_value, spec) if isinstance(raw_value, str) else None
        if value is None:
            allowed = [v.value for v in spec.allowed(key)]
            raise KpiError(
                ErrorCode.INVALID_ARGUMENT,
                f"basis.{raw_key} for {kpi_id} is one of {allowed}, not {raw_value!r}",
                field=f"basis.{raw_key}",
                details={"allowed": allowed},
            )
        updates[key.value] = value
    return options.model_copy(update=updates)


def _governed(
    kpi: KpiDefinition, variant_id: str | None, explicit: bool, binding: Binding
) -> tuple[str | None, list[str]]:
    """The governed variant whose binding the applied rules produce, or a warning that none does."""
    allowed = allowed_bindings(kpi)
    chosen = variant_id or DEFAULT_VARIANT_ID
    if allowed[chosen] == binding:
        return variant_id, []
    if not explicit:
        for vid, candidate in allowed.items():
            if candidate == binding:
                return (None if vid == DEFAULT_VARIANT_ID else vid), []
    differences = ", ".join(
        f"{axis.value} {got} (governed: {want})" for axis, want, got in binding_differences(allowed[chosen], binding)
    )
    return variant_id, [
        f"computed under rules no governed variant of {kpi.id} uses ({differences}); "
        "compare it only with values bound the same way"
    ]


def _tidy(component: Component) -> Component:
    """Round a component once, half-even to the cent (24000.000000000000 → 24000, …279999999999 → .28).

    The value itself is computed from the exact sums; components are shown for tracing and for
    recomputing the value by hand, which they reproduce at the value's own rounding.
    """
    value = _cent(component.value)
    tidy = value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
    return component.model_copy(update={"value": tidy})


def _data_warnings(checked: Validation) -> list[str]:
    notes = []
    if checked.rows_rejected:
        listed = min(checked.rows_rejected, REJECTIONS_SHOWN)
        notes.append(
            f"{checked.rows_rejected:,} of {checked.rows_read:,} ledger rows were rejected and left out "
            f"({listed:,} listed with row number and reason in ledger.rejections)"
        )
    if checked.converted_from:
        notes.append(
            f"amounts in {', '.join(checked.converted_from)} converted to {checked.currency} at the given rates"
        )
    return notes


def _needs_period(kpi: KpiDefinition, when: When) -> Period:
    if when.period is None:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"{kpi.id} is read at the open of a period: give `period` (e.g. '2026-Q3')",
            field="period",
        )
    return when.period


def _run(
    con: duckdb.DuckDBPyConnection,
    measure: Measure,
    options: LedgerOptions,
    when: When,
    kpi: KpiDefinition,
    variant_id: str | None,
    binding: Binding,
) -> tuple[Measured, When]:
    match measure:
        case Measure.ARR:
            assert when.as_of is not None  # resolve_when guarantees a date for point-in-time KPIs
            return measures.arr_at(con, options, when.as_of), when
        case Measure.MRR:
            assert when.as_of is not None
            arr = measures.arr_at(con, options, when.as_of)
            return Measured(
                arr.value / 12 if arr.value is not None else None,
                "ARR ÷ 12",
                (Component(name="arr", value=arr.value or Decimal(0)),),
                arr.contributing,
            ), when
        case Measure.STARTING_ARR:
            period = _needs_period(kpi, when)
            opened = shift_days(period.start, -1)
            return measures.arr_at(con, options, opened, "starting ARR"), When(period, opened)
        case Measure.NEW_BUSINESS | Measure.EXPANSION | Measure.CONTRACTION | Measure.CHURN | Measure.REACTIVATION:
            period = _needs_period(kpi, when)
            moved = measures.bridge(con, options, shift_days(period.start, -1), period.end)
            movement = _BRIDGE_MOVEMENTS[measure]
            return Measured(
                moved.amounts[movement],
                f"ARR bridge {movement.value} movement over the period",
                moved.components(),
                moved.trace(),
            ), when
        case Measure.NET_NEW_ARR:
            period = _needs_period(kpi, when)
            moved = measures.bridge(con, options, shift_days(period.start, -1), period.end)
            # Each movement is a value of its own, rounded to the cent by the bound rule; net new ARR is their
            # sum, so it equals the same KPI computed from those five values and its components add up to it.
            # (The bridge itself reconciles exactly before rounding: measures.bridge checks it.)
            cents = {m: _cent(moved.amounts[m]) for m in _BRIDGE_MOVEMENTS.values()}
            added = cents[Movement.NEW] + cents[Movement.EXPANSION] + cents[Movement.REACTIVATION]
            return Measured(
                added - cents[Movement.CONTRACTION] - cents[Movement.CHURN],
                "new + expansion + reactivation − contraction − churn, each rounded to the cent",
                moved.components(),
                moved.trace(),
            ), when
        case Measure.NEW_LOGOS | Measure.CHURNED_LOGOS:
            period = _needs_period(kpi, when)
            moved = measures.bridge(con, options, shift_days(period.start, -1), period.end)
            movement = Movement.NEW if measure is Measure.NEW_LOGOS else Movement.CHURN
            return Measured(
                Decimal(moved.accounts[movement]),
                f"accounts in the bridge's {movement.value} movement",
                (),
                {"accounts": moved.accounts[movement], "account_ids": moved.samples[movement]},
            ), when
        case Measure.NRR | Measure.GRR | Measure.LOGO_CHURN_RATE:
            period = _needs_period(kpi, when)
            opened = _window_open(binding, period)
            if measure is Measure.LOGO_CHURN_RATE:
                return measures.logo_churn_rate(con, options, opened, period.end), when
            return measures.retention(con, options, opened, period.end, gross=measure is Measure.GRR), when
        case Measure.ACTIVE_LOGOS:
            assert when.as_of is not None
            return measures.active_logos(con, options, when.as_of), when
        case Measure.BLENDED_ACV:
            assert when.as_of is not None
            median = binding.grain.aggregation is Aggregation.MEDIAN
            return measures.blended_acv(con, options, when.as_of, median=median), when
        case Measure.TOP_CONCENTRATION:
            assert when.as_of is not None
            return measures.concentration(con, options, when.as_of, _TOP_CUSTOMERS.get(variant_id, 10)), when
        case Measure.ACV_TREND:
            period = _needs_period(kpi, when)
            prior = months_before(period.end, 12) if variant_id == "year_over_year" else shift_days(period.start, -1)
            current = measures.blended_acv(con, options, period.end, median=False)
            before = measures.blended_acv(con, options, prior, median=False)
            components = (
                Component(name="acv_current", value=current.value or Decimal(0), description=f"on {period.end}"),
                Component(name="acv_prior", value=before.value or Decimal(0), description=f"on {prior}"),
            )
            formula = "(blended ACV at close − blended ACV at the prior close) ÷ blended ACV at the prior close × 100"
            if current.value is None or before.value is None or before.value == 0:
                return Measured(
                    None, formula, components, {}, "blended ACV is undefined or zero at one of the two dates"
                ), when
            value = measures.ratio(current.value - before.value, before.value) * measures.HUNDRED
            return Measured(
                value, formula, components, {"current": current.contributing, "prior": before.contributing}
            ), when
        case Measure.BOOKED_ACV:
            period = _needs_period(kpi, when)
            return measures.booked_acv(con, options, period.start, period.end), when
        case Measure.NEW_LOGO_ACV:
            period = _needs_period(kpi, when)
            return measures.new_logo_acv(con, options, period.start, period.end), when


def _window_open(binding: Binding, period: Period) -> date:
    """The day whose close opens the measurement: window_months before the close, or the period's eve."""
    if binding.time_basis.kind is TimeBasisKind.TRAILING_WINDOW and binding.time_basis.window_months:
        return months_before(period.end, binding.time_basis.window_months)
    return shift_days(period.start, -1)
