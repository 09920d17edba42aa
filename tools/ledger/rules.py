"""Which rules a ledger KPI is computed under: its measure, the options applied, and the governed binding.

The options a caller passes in `basis` (or the KPI's defaults) decide every rule that moves
the number; the binding axes they touch are set on the value's binding. When those axes match a
governed variant of the KPI the value carries that variant; when they match none it keeps its
rules and says so in a warning, so it can only be compared with values computed the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from kpi_context.ontology.binding import Binding, binding_differences
from kpi_context.ontology.ledger_options import (
    LEDGER_KPI_OPTIONS,
    KpiOptions,
    LedgerOptions,
    LiveBasis,
    MovementTiming,
    NewCustomerExpansion,
    OptionKey,
    OptionValue,
    RenewalUplift,
    SamePeriodChurn,
    bound_binding,
    catalog_defaults,
    parse_option,
)
from kpi_context.ontology.model import DEFAULT_VARIANT_ID, KpiDefinition
from kpi_context.tools.claims import allowed_bindings, variant_id_of
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.governance import enforce_locks, with_locks
from kpi_context.tools.ledger.run import Measure
from kpi_context.tools.resolve import resolve_kpi

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
    "customers.new_customers_added": Measure.NEW_LOGOS,
    "customers.customers_churned": Measure.CHURNED_LOGOS,
    "customers.logo_churn_rate": Measure.LOGO_CHURN_RATE,
    "sales.avg_contract_value": Measure.NEW_LOGO_ACV,
    "sales.booked_acv": Measure.BOOKED_ACV,
    "customers.avg_contract_value": Measure.BLENDED_ACV,
    "customers.acv_trend_pct": Measure.ACV_TREND,
    "customers.top_customer_concentration": Measure.TOP_CONCENTRATION,
    "sales.growth_rate_yoy": Measure.ARR_GROWTH,
    "sales.arr_growth_qoq": Measure.ARR_GROWTH,
    "sales.quick_ratio": Measure.QUICK_RATIO,
    "customers.gross_dollar_churn_rate": Measure.GROSS_DOLLAR_CHURN,
    "customers.net_dollar_churn_rate": Measure.NET_DOLLAR_CHURN,
    "customers.expansion_rate": Measure.EXPANSION_RATE,
    "customers.contraction_rate": Measure.CONTRACTION_RATE,
    "customers.arpa": Measure.ARPA,
}
"""The KPIs a ledger computes; kept in step with the option table of `ontology.ledger_options`."""


@dataclass(frozen=True)
class Rules:
    """A ledger KPI resolved: its measure, the options applied, the binding and governance they give."""

    kpi: KpiDefinition
    measure: Measure
    spec: KpiOptions
    variant_id: str | None
    options: LedgerOptions
    binding: Binding
    warnings: tuple[str, ...]


def rules_for(ctx: ToolContext, kpi_ref: str, variant: str | None, basis: Mapping[str, str] | None) -> Rules:
    kpi = resolve_kpi(ctx.catalog, ctx.index, kpi_ref, field="kpi")
    measure, spec = KPI_MEASURES.get(kpi.id), LEDGER_KPI_OPTIONS.get(kpi.id)
    if measure is None or spec is None:
        raise KpiError(
            ErrorCode.NOT_COMPUTABLE,
            f"{kpi.id} is not computed from a contract ledger; the ledger computes {sorted(KPI_MEASURES)}",
            field="kpi",
            details={"ledger_kpis": sorted(KPI_MEASURES)},
        )
    variant, basis = with_locks(ctx, kpi, variant, basis, ledger_keys={key.value for key in spec.keys})
    variant_id = variant_id_of(kpi, variant, "variant")
    if spec.variants is not None and (variant_id or DEFAULT_VARIANT_ID) not in spec.variants:
        raise KpiError(
            ErrorCode.NOT_COMPUTABLE,
            f"variant {variant_id!r} of {kpi.id} is not computed from a contract ledger (give its inputs to "
            f"compute_kpi instead); from a ledger: {list(spec.variants)}",
            field="variant",
            details={"ledger_variants": list(spec.variants)},
        )
    catalog_binding = kpi.binding_for(variant_id)
    options = chosen_options(kpi.id, spec, catalog_binding, basis)
    binding = bound_binding(catalog_binding, options, spec.keys)
    variant_id, warnings = _governed(kpi, variant_id, variant is not None, binding)
    enforce_locks(ctx, kpi, variant_id, binding, {key.value: options.value_of(key).value for key in spec.keys})
    return Rules(kpi, measure, spec, variant_id, options, binding, tuple(warnings))


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
    chosen = options.model_copy(update=updates)
    _coherent(kpi_id, chosen)
    return _implied(kpi_id, spec, chosen, set(updates))


_IMPLIED_BY_DAILY: tuple[tuple[OptionKey, OptionValue], ...] = (
    (OptionKey.SAME_PERIOD_CHURN, SamePeriodChurn.COUNTED),
    (OptionKey.NEW_CUSTOMER_EXPANSION, NewCustomerExpansion.IN_EXPANSION),
)
"""Day-by-day movements count a customer in and out within the period, and date a new customer's change."""


def _implied(kpi_id: str, spec: KpiOptions, options: LedgerOptions, explicit: set[str]) -> LedgerOptions:
    """The options day-by-day movements imply, set so the value's basis says what was applied; a contradiction refused."""
    if options.movement_timing is not MovementTiming.DAILY:
        return options
    updates: dict[str, object] = {}
    for key, implied in _IMPLIED_BY_DAILY:
        if key not in spec.keys:
            continue
        if key.value in explicit and options.value_of(key) is not implied:
            raise KpiError(
                ErrorCode.INVALID_ARGUMENT,
                f"basis.movement_timing=daily classifies every day's change, so for {kpi_id} it implies "
                f"{key.value}={implied.value}, not {options.value_of(key).value}",
                field=f"basis.{key.value}",
                details={"implied": {key.value: implied.value}},
            )
        updates[key.value] = implied
    return options.model_copy(update=updates)


def _coherent(kpi_id: str, options: LedgerOptions) -> None:
    """Refuse options that only make sense together when one is missing: never a silent no-op."""
    if options.renewal_uplift is RenewalUplift.WHEN_SIGNED and options.live_basis is not LiveBasis.SIGNED:
        raise KpiError(
            ErrorCode.INVALID_ARGUMENT,
            f"basis.renewal_uplift=when_signed counts signed value ahead of its start, so {kpi_id} needs "
            "live_basis=signed with it",
            field="basis.renewal_uplift",
            details={"requires": {"live_basis": LiveBasis.SIGNED.value}},
        )


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
