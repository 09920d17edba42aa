"""compute_kpi in the domain layer: reported figures, variants and bases, refusals, and catalog formulas.

Every expected figure is worked out by hand in a comment next to the assertion.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from kpi_context.ontology.binding import Unit
from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, ErrorDetail, KpiError
from kpi_context.tools.periods import Period
from kpi_context.tools.values import BenchmarkBand, BoundValue, ValueClaim, ValueStatus

SEP_30 = date(2026, 9, 30)
Q3 = Period(start=date(2026, 7, 1), end=date(2026, 9, 30))


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=b"compute-tests")


def refused(ctx: ToolContext, kpi: str, inputs: dict[str, Any] | None, **options: Any) -> ErrorDetail:
    with pytest.raises(KpiError) as info:
        compute_from_inputs(ctx, kpi, inputs, **options)
    return info.value.detail


def acv(ctx: ToolContext, inputs: dict[str, Any], **options: Any) -> BoundValue:
    options.setdefault("period", "2026-Q3")
    options.setdefault("currency", "USD")
    return compute_from_inputs(ctx, "sales.avg_contract_value", inputs, **options)


NEW_LOGO = {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20}


# --- primary (reported) KPIs ------------------------------------------------------------------


def test_a_primary_kpi_is_bound_as_reported_with_the_catalogs_binding(ctx: ToolContext) -> None:
    arr = compute_from_inputs(ctx, "sales.arr", {"sales.arr": 10_000_000}, as_of=SEP_30, currency="USD")
    assert arr.status is ValueStatus.REPORTED
    assert arr.value == Decimal("10000000")
    assert arr.binding == ctx.catalog.kpis["sales.arr"].binding
    assert (arr.as_of, arr.period, arr.currency) == (SEP_30, None, "USD")
    assert arr.formula is None
    # The caller's figure is bound under the catalog's default rules, which the server cannot check.
    assert arr.warnings == [
        "reported by the caller: bound under the catalog's rules (live recurring run-rate), "
        "which the server could not verify"
    ]
    assert arr.provenance is not None
    # "<short name> — <KPI label>, as reported, <when>: <value>"; ARR's label is "ARR".
    assert arr.label == "ARR — ARR, as reported, as of 2026-09-30: $10,000,000"


def test_a_balance_given_a_period_is_dated_at_the_periods_close(ctx: ToolContext) -> None:
    arr = compute_from_inputs(ctx, "sales.arr", {"sales.arr": 10_000_000}, period="2026-Q3", currency="USD")
    assert (arr.as_of, arr.period) == (SEP_30, None)


def test_a_primary_kpi_without_its_figure_asks_for_it(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.arr", None, as_of=SEP_30, currency="USD")
    assert detail.code is ErrorCode.MISSING_INPUT
    assert detail.details["missing"] == ["sales.arr"]
    assert "inputs={'sales.arr': <number>}" in detail.message


def test_a_primary_kpi_takes_no_other_input(ctx: ToolContext) -> None:
    detail = refused(
        ctx, "sales.arr", {"sales.arr": 10_000_000, "customers.total_customers": 200}, as_of=SEP_30, currency="USD"
    )
    assert (detail.code, detail.field) == (ErrorCode.UNKNOWN_INPUT, "inputs.customers.total_customers")


def test_a_primary_figure_typed_with_its_kpi_is_asserted(ctx: ToolContext) -> None:
    typed = ValueClaim(kpi="sales.arr", value=10_000_000, currency="USD")
    arr = compute_from_inputs(ctx, "sales.arr", {"sales.arr": typed}, as_of=SEP_30, currency="USD")
    assert arr.status is ValueStatus.ASSERTED


def test_a_computed_kpi_given_only_its_own_figure_is_reported_with_a_warning(ctx: ToolContext) -> None:
    value = acv(ctx, {"sales.avg_contract_value": 62_000})
    assert value.status is ValueStatus.REPORTED
    assert value.value == Decimal("62000")
    assert value.warnings == [
        "reported by the caller: bound under the catalog's rules (new-logo average, recurring only, TCV ÷ term), "
        "which the server could not verify"
    ]
    assert value.label == "ACV — Average Contract Value, as reported, Q3 2026: $62,000"
    assert value.formula is None


def test_a_kpi_named_by_a_unique_alias_is_computed(ctx: ToolContext) -> None:
    # "net dollar retention" names NRR only. (10,000,000 + 1,500,000 − 200,000 − 300,000) ÷ 10,000,000 = 110%.
    value = compute_from_inputs(
        ctx,
        "net dollar retention",
        {
            "sales.starting_arr": 10_000_000,
            "sales.expansion": 1_500_000,
            "sales.downgrades": 200_000,
            "sales.churn_arr": 300_000,
        },
        period="2026",
        currency="USD",
    )
    assert value.kpi == "customers.net_revenue_retention"
    assert value.value == Decimal("110")


def test_an_ambiguous_name_is_not_found_with_suggestions(ctx: ToolContext) -> None:
    detail = refused(ctx, "ACV", NEW_LOGO, period="2026-Q3", currency="USD")
    assert (detail.code, detail.field) == (ErrorCode.NOT_FOUND, "kpi")
    assert {"sales.avg_contract_value", "customers.avg_contract_value"} <= set(detail.details["suggestions"])


def test_a_kpi_reference_of_punctuation_only_is_refused_with_a_code(ctx: ToolContext) -> None:
    detail = refused(ctx, "!!!", NEW_LOGO, period="2026-Q3", currency="USD")
    assert detail.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID_ARGUMENT)
    assert detail.field == "kpi"


# --- variants and bases ------------------------------------------------------------------------


def test_a_named_variant_uses_its_own_formula_and_label(ctx: ToolContext) -> None:
    # First-contract-year new business 1,300,000 ÷ 20 new logos = 65,000.
    value = acv(ctx, {"first_year_new_business": 1_300_000, "new_customers_signed": 20}, variant="first_year")
    assert value.variant == "first_year"
    assert value.value == Decimal("65000")
    assert value.formula == "first_year_new_business / new_customers_signed"
    assert value.binding.annualization.value == "first_contract_year"
    assert value.label == "ACV — new-logo average, recurring only, first contract year, Q3 2026: $65,000"
    # The benchmark measures the default rules, so this value is not placed on it.
    assert value.benchmark_position is None


def test_a_basis_selects_the_governed_variant_that_has_it(ctx: ToolContext) -> None:
    # Recurring plus one-time: (1,240,000 + 160,000) ÷ 20 = 1,400,000 ÷ 20 = 70,000.
    value = acv(
        ctx,
        {**NEW_LOGO, "new_one_time_value": 160_000},
        basis={"recurring_inclusion": "recurring_plus_one_time"},
    )
    assert value.variant == "contract_value"
    assert value.value == Decimal("70000")


def test_a_basis_the_default_rules_already_have_keeps_the_default(ctx: ToolContext) -> None:
    value = acv(ctx, NEW_LOGO, basis={"annualization": "tcv_over_term_years", "recurring_inclusion": "recurring_only"})
    assert value.variant == "default"
    # 1,240,000 ÷ 20 = 62,000.
    assert value.value == Decimal("62000")


def test_a_basis_outside_the_allowed_variants_is_refused_not_guessed(ctx: ToolContext) -> None:
    detail = refused(
        ctx,
        "sales.avg_contract_value",
        NEW_LOGO,
        basis={"recurring_inclusion": "all_charges"},
        period="2026-Q3",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.VARIANT_NOT_ALLOWED, "basis")
    assert detail.details["requested"] == {"recurring_inclusion": "all_charges"}
    assert set(detail.details["allowed"]) == {"default", "first_year", "contract_value"}


def test_a_basis_that_contradicts_the_named_variant_is_refused(ctx: ToolContext) -> None:
    detail = refused(
        ctx,
        "sales.avg_contract_value",
        NEW_LOGO,
        variant="first_year",
        basis={"recurring_inclusion": "recurring_plus_one_time"},
        period="2026-Q3",
        currency="USD",
    )
    assert detail.code is ErrorCode.VARIANT_NOT_ALLOWED


def test_a_basis_that_only_another_variant_has_is_refused_for_the_named_default(ctx: ToolContext) -> None:
    detail = refused(
        ctx,
        "sales.avg_contract_value",
        NEW_LOGO,
        variant="default",
        basis={"annualization": "first_contract_year"},
        period="2026-Q3",
        currency="USD",
    )
    assert detail.code is ErrorCode.VARIANT_NOT_ALLOWED


def test_an_unknown_variant_is_refused_with_the_governed_ones(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.avg_contract_value", NEW_LOGO, variant="gross", period="2026-Q3", currency="USD")
    assert (detail.code, detail.field) == (ErrorCode.VARIANT_NOT_ALLOWED, "variant")
    assert detail.details["allowed"] == ["default", "first_year", "contract_value"]


def test_ledger_only_basis_keys_are_refused_without_a_ledger(ctx: ToolContext) -> None:
    detail = refused(
        ctx, "sales.avg_contract_value", NEW_LOGO, basis={"discounts": "gross"}, period="2026-Q3", currency="USD"
    )
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "basis")
    assert "discounts" in detail.message


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("kpi", ["sales.deals_summary", "fundraising.planned_close_date"])
def test_text_and_date_kpis_are_not_computable(ctx: ToolContext, kpi: str) -> None:
    detail = refused(ctx, kpi, {kpi: 1}, as_of=SEP_30)
    assert (detail.code, detail.field) == (ErrorCode.NOT_COMPUTABLE, "kpi")


def test_an_input_the_formula_does_not_take_is_unknown(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.avg_contract_value", {**NEW_LOGO, "sales.arr": 1}, period="2026-Q3", currency="USD")
    assert (detail.code, detail.field) == (ErrorCode.UNKNOWN_INPUT, "inputs.sales.arr")
    assert detail.details == {
        "unknown": ["sales.arr"],
        "expected": ["new_customers_signed", "new_logo_contract_value"],
    }


def test_missing_raw_inputs_are_listed_in_formula_order_with_their_descriptions(ctx: ToolContext) -> None:
    detail = refused(
        ctx,
        "sales.avg_contract_value",
        {"new_customers_signed": 20},
        variant="contract_value",
        period="2026-Q3",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.MISSING_INPUT, "inputs")
    # contract_value: (new_logo_contract_value + new_one_time_value) / new_customers_signed.
    assert detail.details["missing"] == ["new_logo_contract_value", "new_one_time_value"]
    specs = {
        spec.name: spec for spec in ctx.catalog.kpis["sales.avg_contract_value"].expression_for("contract_value").inputs
    }
    described = detail.details["described"]
    assert described["new_logo_contract_value"] == specs["new_logo_contract_value"].description
    assert described["new_one_time_value"] == specs["new_one_time_value"].description
    assert described["new_one_time_value"]


def test_missing_kpi_inputs_are_described_by_their_kpi_id(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.cac_payback_period", {"finance.total_sm": 600_000}, period="2026-Q3", currency="USD")
    assert (detail.code, detail.field) == (ErrorCode.MISSING_INPUT, "inputs")
    assert detail.details["missing"] == ["sales.new_business", "sales.gross_margin"]
    assert detail.details["described"]["sales.new_business"] == "KPI sales.new_business"


def test_a_flow_without_a_period_is_refused(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.avg_contract_value", NEW_LOGO, currency="USD")
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "period")


@pytest.mark.parametrize("period", ["FY2026", "2026-Q٣"])
def test_a_period_outside_the_calendar_shorthand_is_refused(ctx: ToolContext, period: str) -> None:
    # Fiscal years need a fiscal calendar the server does not have; only ASCII digits are read.
    detail = refused(ctx, "sales.avg_contract_value", NEW_LOGO, period=period, currency="USD")
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "period")


def test_a_balance_without_a_date_is_refused(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.arr", {"sales.arr": 1}, currency="USD")
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "as_of")


def test_a_balance_dated_off_the_close_of_its_period_is_refused(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.arr", {"sales.arr": 1}, period="2026-Q3", as_of=date(2026, 8, 31), currency="USD")
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "as_of")


def test_an_amount_of_money_without_a_currency_is_refused(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.avg_contract_value", NEW_LOGO, period="2026-Q3")
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "currency")


def test_inputs_in_several_currencies_are_refused_when_no_currency_is_requested(ctx: ToolContext) -> None:
    inputs = {
        "sales.new_business": ValueClaim(kpi="sales.new_business", value=1_240_000, currency="EUR"),
        "finance.total_sm": ValueClaim(kpi="finance.total_sm", value=600_000, currency="USD"),
        "sales.gross_margin": 75,
    }
    detail = refused(ctx, "sales.cac_payback_period", inputs, period="2026-Q3")
    assert (detail.code, detail.field) == (ErrorCode.CURRENCY_MISMATCH, "inputs")
    assert detail.details["currencies"] == ["EUR", "USD"]


# --- catalog formulas, worked by hand ----------------------------------------------------------


def test_an_average_is_rounded_to_the_cent(ctx: ToolContext) -> None:
    # 1,000,000 ÷ 3 = 333,333.333… → 333,333.33.
    value = acv(ctx, {"new_logo_contract_value": 1_000_000, "new_customers_signed": 3})
    assert value.value == Decimal("333333.33")


def test_net_revenue_retention_over_a_trailing_year(ctx: ToolContext) -> None:
    # (10,000,000 + 1,500,000 − 200,000 − 300,000) ÷ 10,000,000 = 11,000,000 ÷ 10,000,000 = 1.10 → 110%.
    value = compute_from_inputs(
        ctx,
        "customers.net_revenue_retention",
        {
            "sales.starting_arr": 10_000_000,
            "sales.expansion": 1_500_000,
            "sales.downgrades": 200_000,
            "sales.churn_arr": 300_000,
        },
        period="2026",
        currency="USD",
    )
    assert value.value == Decimal("110")
    assert value.currency is None
    assert value.label == "NRR — trailing 12 months, starting-cohort ARR, 2026: 110%"
    # Catalog quartiles 96 / 101 / 109: 110 is above p75.
    assert value.benchmark_position is not None
    assert value.benchmark_position.band is BenchmarkBand.ABOVE_P75


def test_net_revenue_retention_for_one_quarter_uses_the_period_rate_variant_and_no_benchmark(ctx: ToolContext) -> None:
    # (10,000,000 + 400,000 − 100,000 − 50,000) ÷ 10,000,000 = 10,250,000 ÷ 10,000,000 = 1.025 → 102.5%.
    value = compute_from_inputs(
        ctx,
        "customers.net_revenue_retention",
        {
            "sales.starting_arr": 10_000_000,
            "sales.expansion": 400_000,
            "sales.downgrades": 100_000,
            "sales.churn_arr": 50_000,
        },
        variant="period_rate",
        period="2026-Q3",
        currency="USD",
    )
    assert value.value == Decimal("102.5")
    assert value.benchmark_position is None


def test_gross_revenue_retention_excludes_expansion(ctx: ToolContext) -> None:
    # (10,000,000 − 200,000 − 300,000) ÷ 10,000,000 = 9,500,000 ÷ 10,000,000 = 0.95 → 95%.
    value = compute_from_inputs(
        ctx,
        "customers.gross_revenue_retention",
        {"sales.starting_arr": 10_000_000, "sales.downgrades": 200_000, "sales.churn_arr": 300_000},
        period="2026",
        currency="USD",
    )
    assert value.value == Decimal("95")


def test_a_negative_downgrade_is_refused_even_when_confirmed(ctx: ToolContext) -> None:
    # A downgrade entered as −500,000 would give (10,000,000 + 500,000 − 0) ÷ 10,000,000 = 105%, which a cap
    # at 100% used to hide as a "top quartile" GRR. A movement is a positive amount by definition, so no
    # confirmation admits a negative one.
    credit = ValueClaim(value=-500_000, unit=Unit.CURRENCY, confirm=True)
    detail = refused(
        ctx,
        "customers.gross_revenue_retention",
        {"sales.starting_arr": 10_000_000, "sales.downgrades": credit, "sales.churn_arr": 0},
        period="2026",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "inputs.sales.downgrades")
    assert detail.details["minimum"] == "0"


def runway(ctx: ToolContext, cash: int, net_burn: int) -> BoundValue:
    return compute_from_inputs(
        ctx,
        "finance.runway_months",
        {"finance.operationally_available_cash": cash, "finance.net_burn_rate": net_burn},
        period="2026-09",
        currency="USD",
    )


def test_runway_is_available_cash_over_monthly_net_burn(ctx: ToolContext) -> None:
    # 3,000,000 ÷ 250,000 per month = 12 months.
    value = runway(ctx, 3_000_000, 250_000)
    assert value.value == Decimal("12")
    assert value.as_of == SEP_30
    assert value.label.endswith(": 12 months")


@pytest.mark.parametrize("net_burn", [0, -50_000])
def test_runway_is_undefined_when_the_company_does_not_burn_cash(ctx: ToolContext, net_burn: int) -> None:
    # max(net burn, 0) is 0 for a break-even or cash-generating month: cash ÷ 0 has no value.
    value = runway(ctx, 3_000_000, net_burn)
    assert value.value is None
    assert value.undefined_reason is not None and "division by zero" in value.undefined_reason
    assert any(w.startswith("undefined:") for w in value.warnings)
    assert value.status is ValueStatus.COMPUTED


def test_magic_number_divides_net_new_arr_by_the_prior_quarters_spend(ctx: ToolContext) -> None:
    # 900,000 net new ARR in Q3 ÷ 1,200,000 S&M in Q2 = 0.75.
    value = compute_from_inputs(
        ctx,
        "sales.magic_number",
        {"sales.net_new_arr": 900_000, "sm_prior_period": 1_200_000},
        period="2026-Q3",
        currency="USD",
    )
    assert value.value == Decimal("0.75")
    assert value.unit.value == "ratio"
    assert value.currency is None


def test_cac_payback_is_spend_over_monthly_gross_margin_new_arr(ctx: ToolContext) -> None:
    # 1,200,000 new ARR ÷ 12 = 100,000 per month; × 75% gross margin = 75,000; 600,000 ÷ 75,000 = 8 months.
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        {"finance.total_sm": 600_000, "sales.new_business": 1_200_000, "sales.gross_margin": 75},
        period="2026-Q3",
        currency="USD",
    )
    assert value.value == Decimal("8")
    assert value.unit.value == "months"
    assert value.period == Q3
    assert value.formula == "finance.total_sm / (per_month(sales.new_business) * ratio(sales.gross_margin))"
    assert [use.name for use in value.inputs] == ["finance.total_sm", "sales.new_business", "sales.gross_margin"]


def test_cac_payback_is_undefined_at_zero_gross_margin(ctx: ToolContext) -> None:
    # 100,000 per month × 0% = 0: nothing to pay the spend back with. A 0 % margin is below the plausible
    # range (5–100), so it is stated as a percent and confirmed.
    zero_margin = ValueClaim(value=0, unit=Unit.PERCENT, confirm=True)
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        {"finance.total_sm": 600_000, "sales.new_business": 1_200_000, "sales.gross_margin": zero_margin},
        period="2026-Q3",
        currency="USD",
    )
    assert value.value is None
    assert value.label.endswith(": undefined")


# --- the calendar's ends and results too large to bind -------------------------------------------


def test_an_opening_balance_for_the_first_quarter_of_year_one_is_out_of_range(ctx: ToolContext) -> None:
    # Starting ARR for Q1 of year 1 is dated the day before 0001-01-01, which no calendar has.
    error = refused(ctx, "sales.starting_arr", {"sales.starting_arr": 1000}, period="0001-Q1", currency="USD")
    assert (error.code, error.field) == (ErrorCode.OUT_OF_RANGE, "period")


def test_a_trailing_window_that_opens_before_year_one_is_out_of_range(ctx: ToolContext) -> None:
    # NRR for Q1 of year 1 is the twelve months to 0001-03-31: they would open in year 0.
    inputs = {"sales.starting_arr": 100, "sales.expansion": 2, "sales.downgrades": 1, "sales.churn_arr": 1}
    error = refused(ctx, "customers.net_revenue_retention", inputs, period="0001-Q1", currency="USD")
    assert (error.code, error.field) == (ErrorCode.OUT_OF_RANGE, "period")


def test_a_prior_period_input_for_the_first_quarter_of_year_one_is_out_of_range(ctx: ToolContext) -> None:
    inputs = {"acv_current": 100, "acv_prior": 90}
    error = refused(ctx, "customers.acv_trend_pct", inputs, period="0001-Q1", currency="USD")
    assert (error.code, error.field) == (ErrorCode.OUT_OF_RANGE, "period")


def test_a_period_in_year_zero_is_out_of_range(ctx: ToolContext) -> None:
    error = refused(ctx, "sales.new_business", {"sales.new_business": 1000}, period="0000-Q3", currency="USD")
    assert (error.code, error.field) == (ErrorCode.OUT_OF_RANGE, "period")


def test_the_last_quarter_of_the_calendar_is_computed(ctx: ToolContext) -> None:
    value = compute_from_inputs(
        ctx, "sales.new_business", {"sales.new_business": 1000}, period="9999-Q4", currency="USD"
    )
    assert value.period == Period(start=date(9999, 10, 1), end=date(9999, 12, 31))


def test_a_result_too_large_to_round_exactly_is_out_of_range_not_a_crash(ctx: ToolContext) -> None:
    # 10^12 ÷ 10^-25 × 100 = 10^39 %: a plausible EBITDA over a near-zero revenue, and a result of 40 digits.
    inputs = {"finance.ebitda": 10**12, "finance.total_revenue": 1e-25}
    error = refused(ctx, "finance.ebitda_margin", inputs, period="2026-Q3", currency="USD")
    assert (error.code, error.field) == (ErrorCode.OUT_OF_RANGE, "inputs")


def test_a_trailing_window_for_a_fiscal_quarter_ends_at_the_fiscal_close(tmp_path) -> None:
    from tests.support.profiles import context, loaded, minimal_document

    catalog = load_catalog()
    fiscal = context(catalog, loaded(tmp_path, minimal_document(fiscal_year_start_month=2), catalog))
    # Q3 FY2027 closes on 31 Oct 2026: NRR is read over the twelve months 1 Nov 2025 – 31 Oct 2026.
    nrr = compute_from_inputs(
        fiscal, "customers.net_revenue_retention", {"customers.net_revenue_retention": 105}, period="FY2027-Q3"
    )
    assert nrr.period is not None
    assert (nrr.period.start.isoformat(), nrr.period.end.isoformat()) == ("2025-11-01", "2026-10-31")
    assert "12 months to Oct 2026" in nrr.label
