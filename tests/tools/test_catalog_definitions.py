"""Catalog 1.2.0, definition by definition: each corrected or added KPI computed from inputs through compute_kpi.

Every expected figure is worked out by hand in the comment beside it, never copied from program output.
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

Q2 = Period(start=date(2026, 4, 1), end=date(2026, 6, 30))
Q3 = Period(start=date(2026, 7, 1), end=date(2026, 9, 30))
TWELVE_MONTHS_TO_SEP = Period(start=date(2025, 10, 1), end=date(2026, 9, 30))


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=b"catalog-definitions")


def compute(ctx: ToolContext, kpi: str, inputs: dict[str, Any], **options: Any) -> BoundValue:
    options.setdefault("currency", "USD")
    return compute_from_inputs(ctx, kpi, inputs, **options)


def refused(ctx: ToolContext, kpi: str, inputs: dict[str, Any], **options: Any) -> ErrorDetail:
    options.setdefault("currency", "USD")
    with pytest.raises(KpiError) as info:
        compute_from_inputs(ctx, kpi, inputs, **options)
    return info.value.detail


RETENTION = {
    "sales.starting_arr": 10_000_000,
    "sales.expansion": 1_200_000,
    "sales.downgrades": 600_000,
    "sales.churn_arr": 500_000,
}


# --- 1. trailing-twelve-month KPIs read twelve-month windows ------------------------------------------


def test_nrr_for_a_start_and_end_period_of_twelve_months_reads_the_window(ctx: ToolContext) -> None:
    # (10,000,000 + 1,200,000 − 600,000 − 500,000) ÷ 10,000,000 = 10,100,000 ÷ 10,000,000 = 1.01 → 101%.
    value = compute(ctx, "customers.net_revenue_retention", RETENTION, period=TWELVE_MONTHS_TO_SEP)
    assert value.value == Decimal("101")
    assert value.period == TWELVE_MONTHS_TO_SEP


def test_nrr_for_a_quarter_given_as_start_and_end_is_the_twelve_months_to_its_close(ctx: ToolContext) -> None:
    value = compute(ctx, "customers.net_revenue_retention", RETENTION, period=Q3)
    assert value.period == TWELVE_MONTHS_TO_SEP


def test_nrr_refuses_one_quarters_expansion_for_a_trailing_year(ctx: ToolContext) -> None:
    quarter_only = ValueClaim(value=300_000, period=Q3)
    detail = refused(
        ctx, "customers.net_revenue_retention", {**RETENTION, "sales.expansion": quarter_only}, period="2026-Q3"
    )
    assert (detail.code, detail.field) == (ErrorCode.PERIOD_MISMATCH, "inputs.sales.expansion.period")


def test_prior_quarter_nrr_for_a_month_reads_the_twelve_months_ending_three_months_earlier(ctx: ToolContext) -> None:
    # For September 2026 the prior-quarter NRR is the NRR of the twelve months to 30 June 2026, not to 31 August.
    to_june = Period(start=date(2025, 7, 1), end=date(2026, 6, 30))
    value = compute(
        ctx,
        "customers.prior_quarter_nrr",
        {"prior_value": ValueClaim(value=104, period=to_june)},
        period="2026-09",
    )
    assert value.value == Decimal("104")
    to_august = Period(start=date(2025, 9, 1), end=date(2026, 8, 31))
    detail = refused(
        ctx, "customers.prior_quarter_nrr", {"prior_value": ValueClaim(value=104, period=to_august)}, period="2026-09"
    )
    assert detail.code is ErrorCode.PERIOD_MISMATCH


# --- 2. the KBCM ACV benchmark sits where its grain matches ----------------------------------------------


def test_a_new_logo_acv_mean_is_not_placed_on_the_median_contract_benchmark(ctx: ToolContext) -> None:
    # 1,240,000 ÷ 20 = 62,000: the KBCM median, but for a median customer contract, not a new-logo mean.
    value = compute(
        ctx,
        "sales.avg_contract_value",
        {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20},
        period="2026-Q3",
    )
    assert value.value == Decimal("62000")
    assert value.benchmark_position is None


def test_the_median_account_acv_is_placed_on_the_kbcm_quartiles_with_an_unverified_warning(ctx: ToolContext) -> None:
    value = compute(
        ctx,
        "customers.avg_contract_value",
        {"median_account_arr": 62_000},
        variant="median_per_account",
        as_of=date(2026, 9, 30),
    )
    position = value.benchmark_position
    assert position is not None
    # Quartiles 25,000 / 62,000 / 100,000: 62,000 is at the median.
    assert position.band is BenchmarkBand.AT_MEDIAN
    assert position.reading.startswith("at the median of peers (higher is better)")
    assert position.reading.endswith("figures not verified against KBCM/Sapphire SaaS Survey 2024 (15th Annual)")


def test_the_blended_acv_mean_gets_no_position_on_the_median_benchmark(ctx: ToolContext) -> None:
    # 12,400,000 ARR ÷ 200 customers = 62,000 a mean, which a median benchmark does not place.
    value = compute(
        ctx,
        "customers.avg_contract_value",
        {"sales.arr": 12_400_000, "customers.total_customers": 200},
        as_of=date(2026, 9, 30),
    )
    assert value.value == Decimal("62000")
    assert value.benchmark_position is None
    assert any("median_per_account" in w for w in value.warnings)


# --- 3. runway is never negative ----------------------------------------------------------------------


def test_runway_with_negative_cash_is_zero_months_not_negative(ctx: ToolContext) -> None:
    # max(−100,000, 0) ÷ max(50,000, 0) = 0 ÷ 50,000 = 0 months (the old formula gave −2).
    value = compute(
        ctx,
        "finance.runway_months",
        {"finance.operationally_available_cash": -100_000, "finance.net_burn_rate": 50_000},
        period="2026-09",
    )
    assert value.value == Decimal("0")


def test_runway_on_unadjusted_cash_floors_negative_cash_too(ctx: ToolContext) -> None:
    # An overdrawn account: max(−20,000, 0) ÷ max(40,000, 0) = 0 months. A negative balance is outside the cash
    # range (0 and up), so the caller states its unit and confirms it.
    overdrawn = ValueClaim(value=-20_000, unit=Unit.CURRENCY, confirm=True)
    value = compute(
        ctx,
        "finance.runway_months",
        {"finance.total_unrestricted_cash": overdrawn, "finance.net_burn_rate": 40_000},
        variant="unadjusted_cash",
        period="2026-09",
    )
    assert value.value == Decimal("0")


# --- 4. negative movements are refused, not capped -----------------------------------------------------


def test_grr_from_positive_losses_needs_no_cap(ctx: ToolContext) -> None:
    # (10,000,000 − 600,000 − 500,000) ÷ 10,000,000 = 8,900,000 ÷ 10,000,000 = 0.89 → 89%.
    value = compute(
        ctx,
        "customers.gross_revenue_retention",
        {k: v for k, v in RETENTION.items() if k != "sales.expansion"},
        period="2026",
    )
    assert value.value == Decimal("89")
    assert value.formula == "percent((sales.starting_arr - sales.downgrades - sales.churn_arr) / sales.starting_arr)"


@pytest.mark.parametrize("kpi", ["customers.gross_revenue_retention", "customers.net_revenue_retention"])
def test_downgrades_entered_as_a_negative_amount_are_refused_even_when_confirmed(ctx: ToolContext, kpi: str) -> None:
    # −600,000 would give NRR (10,000,000 + 1,200,000 + 600,000 − 500,000) ÷ 10,000,000 = 113% instead of 101%,
    # and GRR 110% that a cap used to show as 100%.
    negative = ValueClaim(value=-600_000, unit=Unit.CURRENCY, confirm=True)
    inputs = {**RETENTION, "sales.downgrades": negative}
    if kpi == "customers.gross_revenue_retention":
        del inputs["sales.expansion"]
    detail = refused(ctx, kpi, inputs, period="2026")
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "inputs.sales.downgrades")


def test_a_negative_movement_reported_on_its_own_is_refused(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.churn_arr", {"sales.churn_arr": -1}, period="2026-Q3")
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "inputs.sales.churn_arr")


# --- 5. EBITDA has no double-counting add-back; operating income follows it ----------------------------


def test_ebitda_has_no_da_add_back_variant(ctx: ToolContext) -> None:
    detail = refused(
        ctx,
        "finance.ebitda",
        {"finance.gross_profit": 1_000_000, "finance.total_opex": 1_300_000},
        variant="da_add_back",
        period="2026-Q3",
    )
    assert detail.code is ErrorCode.VARIANT_NOT_ALLOWED


def test_ebitda_and_operating_income(ctx: ToolContext) -> None:
    # EBITDA: 1,000,000 gross profit − 1,300,000 opex = −300,000.
    ebitda = compute(
        ctx, "finance.ebitda", {"finance.gross_profit": 1_000_000, "finance.total_opex": 1_300_000}, period="2026-Q3"
    )
    assert ebitda.value == Decimal("-300000")
    # Operating income: −300,000 − 50,000 D&A = −350,000.
    operating = compute(
        ctx,
        "finance.operating_income",
        {"finance.ebitda": -300_000, "finance.depreciation_amortization": 50_000},
        period="2026-Q3",
    )
    assert operating.value == Decimal("-350000")
    # Operating margin: −350,000 ÷ 2,000,000 = −0.175 → −17.5%.
    margin = compute(
        ctx,
        "finance.operating_margin",
        {"finance.operating_income": -350_000, "finance.total_revenue": 2_000_000},
        period="2026-Q3",
    )
    assert margin.value == Decimal("-17.5")


# --- 6. Rule of 40: ARR growth + free-cash-flow margin, EBITDA as a variant ------------------------------


def test_rule_of_40_adds_growth_to_the_free_cash_flow_margin_over_twelve_months(ctx: ToolContext) -> None:
    # 30% growth + (−5%) free-cash-flow margin = 25.
    value = compute(
        ctx, "operations.rule_of_40", {"sales.growth_rate_yoy": 30, "finance.fcf_margin": -5}, period="2026-Q3"
    )
    assert value.value == Decimal("25")
    assert value.formula == "sales.growth_rate_yoy + finance.fcf_margin"
    # Quartiles −4 / 15 / 31: 25 lies between the median and p75.
    assert value.benchmark_position is not None
    assert value.benchmark_position.band is BenchmarkBand.MEDIAN_TO_P75


def test_rule_of_40_refuses_a_quarterly_free_cash_flow_margin(ctx: ToolContext) -> None:
    quarterly = ValueClaim(value=-5, period=Q3)
    detail = refused(
        ctx, "operations.rule_of_40", {"sales.growth_rate_yoy": 30, "finance.fcf_margin": quarterly}, period="2026-Q3"
    )
    assert (detail.code, detail.field) == (ErrorCode.PERIOD_MISMATCH, "inputs.finance.fcf_margin.period")


def test_rule_of_40_on_ebitda_is_a_variant_with_no_benchmark_position(ctx: ToolContext) -> None:
    # 30% growth + 12% EBITDA margin = 42.
    value = compute(
        ctx,
        "operations.rule_of_40",
        {"sales.growth_rate_yoy": 30, "finance.ebitda_margin": 12},
        variant="ebitda_margin",
        period="2026-Q3",
    )
    assert value.value == Decimal("42")
    assert value.benchmark_position is None


def test_free_cash_flow_and_its_margin(ctx: ToolContext) -> None:
    # 900,000 operating cash flow − 300,000 capex = 600,000.
    fcf = compute(
        ctx, "finance.free_cash_flow", {"operating_cash_flow": 900_000, "capital_expenditure": 300_000}, period="2026"
    )
    assert fcf.value == Decimal("600000")
    # 600,000 ÷ 8,000,000 = 0.075 → 7.5%.
    margin = compute(
        ctx,
        "finance.fcf_margin",
        {"finance.free_cash_flow": 600_000, "finance.total_revenue": 8_000_000},
        period="2026",
    )
    assert margin.value == Decimal("7.5")


def test_capital_expenditure_entered_as_a_negative_amount_is_refused(ctx: ToolContext) -> None:
    detail = refused(
        ctx, "finance.free_cash_flow", {"operating_cash_flow": 900_000, "capital_expenditure": -300_000}, period="2026"
    )
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "inputs.capital_expenditure")


# --- 7. the CAC family follows what it cites ---------------------------------------------------------


def test_blended_cac_ratio_divides_the_prior_quarters_spend_by_this_quarters_carr(ctx: ToolContext) -> None:
    # 1,200,000 fully loaded S&M in Q2 ÷ (800,000 new + 400,000 expansion CARR signed in Q3) = 1,200,000 ÷ 1,200,000 = 1.
    inputs = {
        "sm_prior_period": ValueClaim(value=1_200_000, period=Q2),
        "new_carr": 800_000,
        "expansion_carr": 400_000,
    }
    value = compute(ctx, "sales.blended_cac_ratio", inputs, period="2026-Q3")
    assert value.value == Decimal("1")
    same_quarter = {**inputs, "sm_prior_period": ValueClaim(value=1_200_000, period=Q3)}
    detail = refused(ctx, "sales.blended_cac_ratio", same_quarter, period="2026-Q3")
    assert (detail.code, detail.field) == (ErrorCode.PERIOD_MISMATCH, "inputs.sm_prior_period.period")


def test_the_same_period_cac_ratio_is_a_labelled_variant(ctx: ToolContext) -> None:
    # 900,000 Q3 S&M ÷ (800,000 + 400,000) = 0.75.
    value = compute(
        ctx,
        "sales.blended_cac_ratio",
        {"finance.total_sm": 900_000, "new_carr": 800_000, "expansion_carr": 400_000},
        variant="same_period",
        period="2026-Q3",
    )
    assert value.value == Decimal("0.75")
    assert value.variant == "same_period"


@pytest.mark.parametrize(
    ("kpi", "spend", "carr"),
    [
        ("sales.new_cac_ratio", "new_logo_sm_prior_period", "new_carr"),
        ("sales.expansion_cac_ratio", "expansion_sm_cs_prior_period", "expansion_carr"),
    ],
)
def test_new_and_expansion_cac_ratios_lag_spend_by_one_period(
    ctx: ToolContext, kpi: str, spend: str, carr: str
) -> None:
    # 600,000 of Q2 spend ÷ 400,000 of Q3 CARR = 1.5.
    value = compute(ctx, kpi, {spend: ValueClaim(value=600_000, period=Q2), carr: 400_000}, period="2026-Q3")
    assert value.value == Decimal("1.5")


def test_cac_is_fully_loaded_with_allocated_overhead(ctx: ToolContext) -> None:
    # 660,000 S&M with overhead ÷ 20 new logos = 33,000; direct S&M 600,000 ÷ 20 = 30,000.
    loaded = compute(
        ctx, "sales.cac", {"sm_fully_loaded": 660_000, "customers.new_customers_added": 20}, period="2026-Q3"
    )
    direct = compute(
        ctx,
        "sales.cac",
        {"finance.total_sm": 600_000, "customers.new_customers_added": 20},
        variant="direct_sm",
        period="2026-Q3",
    )
    assert (loaded.value, direct.value) == (Decimal("33000"), Decimal("30000"))


def test_cac_payback_on_the_smsb_definition_uses_committed_arr_and_subscription_margin(ctx: ToolContext) -> None:
    # 1,200,000 new CARR ÷ 12 = 100,000 a month; × 80% subscription margin = 80,000; 600,000 ÷ 80,000 = 7.5 months.
    value = compute(
        ctx,
        "sales.cac_payback_period",
        {"sm_fully_loaded": 600_000, "new_carr": 1_200_000, "subscription_margin": 80},
        variant="smsb",
        period="2026-Q3",
    )
    assert value.value == Decimal("7.5")
    assert value.binding.date_basis.value == "signed"


def test_cac_payback_default_is_cited_as_the_catalogs_own(ctx: ToolContext) -> None:
    source = ctx.catalog.kpis["sales.cac_payback_period"].definition_source
    assert source.tier.value == "editorial"
    assert source.attribution_notice is not None and "smsb variant" in source.attribution_notice


# --- 8. definitions that say what they compute -----------------------------------------------------


def test_arr_per_fte_divides_by_full_time_equivalents(ctx: ToolContext) -> None:
    # 13,000,000 ARR ÷ 100 FTE = 130,000: the median of the per-FTE quartiles 100,000 / 130,000 / 175,000.
    value = compute(ctx, "hr.arr_per_fte", {"sales.arr": 13_000_000, "fte_employees": 100}, as_of=date(2026, 9, 30))
    assert value.value == Decimal("130000")
    assert value.benchmark_position is not None
    assert value.benchmark_position.band is BenchmarkBand.AT_MEDIAN
    # Per head: 13,000,000 ÷ 104 employees = 125,000, not placed on a per-FTE benchmark.
    per_head = compute(
        ctx,
        "hr.arr_per_fte",
        {"sales.arr": 13_000_000, "hr.total_headcount": 104},
        variant="per_head",
        as_of=date(2026, 9, 30),
    )
    assert per_head.value == Decimal("125000")
    assert per_head.benchmark_position is None


def test_arr_prose_says_the_contract_year_in_force_as_its_binding_does(ctx: ToolContext) -> None:
    arr = ctx.catalog.kpis["sales.arr"]
    assert arr.binding.annualization.value == "current_contract_year"
    assert "contract year in force" in arr.formula
    assert "divided by the term" not in arr.formula


def test_the_new_customer_count_says_go_live(ctx: ToolContext) -> None:
    kpi = ctx.catalog.kpis["customers.new_customers_added"]
    assert "went live" in kpi.formula
    assert "signed their first" not in kpi.formula


def test_gross_margin_keeps_customer_success_in_opex_by_default_and_the_survey_boundary_is_a_variant(
    ctx: ToolContext,
) -> None:
    # Default: (1,000,000 − 240,000 COGS) ÷ 1,000,000 = 76%.
    default = compute(
        ctx, "sales.gross_margin", {"finance.total_revenue": 1_000_000, "finance.total_cogs": 240_000}, period="2026-Q3"
    )
    assert default.value == Decimal("76")
    assert default.benchmark_position is None
    # Customer success in COGS: (1,000,000 − 300,000) ÷ 1,000,000 = 70%, between p25 65 and the median 72.
    survey = compute(
        ctx,
        "sales.gross_margin",
        {"finance.total_revenue": 1_000_000, "cogs_with_cs": 300_000},
        variant="including_customer_success",
        period="2026-Q3",
    )
    assert survey.value == Decimal("70")
    assert survey.benchmark_position is not None
    assert survey.benchmark_position.band is BenchmarkBand.P25_TO_MEDIAN
    assert "customer success management is operating expense" in ctx.catalog.kpis["sales.gross_margin"].formula.lower()


# --- duplicates merged, aliases that name one KPI ----------------------------------------------------


def test_a_merged_id_computes_as_the_kpi_it_was_merged_into(ctx: ToolContext) -> None:
    # finance.gross_margin_pct is now sales.gross_margin: (2,000,000 − 500,000) ÷ 2,000,000 = 75%.
    value = compute(
        ctx,
        "finance.gross_margin_pct",
        {"finance.total_revenue": 2_000_000, "finance.total_cogs": 500_000},
        period="2026-Q3",
    )
    assert (value.kpi, value.value) == ("sales.gross_margin", Decimal("75"))


def test_a_merged_id_takes_its_own_reported_figure(ctx: ToolContext) -> None:
    value = compute(ctx, "sales.total_revenue", {"sales.total_revenue": 2_000_000}, period="2026-Q3")
    assert (value.kpi, value.value, value.status) == ("finance.total_revenue", Decimal("2000000"), ValueStatus.REPORTED)


def test_a_value_claimed_under_a_merged_id_feeds_the_kpi_it_was_merged_into(ctx: ToolContext) -> None:
    # (2,000,000 − 500,000) ÷ 2,000,000 = 75%, with revenue claimed under its former id sales.total_revenue.
    revenue = ValueClaim(kpi="sales.total_revenue", value=2_000_000, currency="USD", period=Q3)
    value = compute(
        ctx, "sales.gross_margin", {"finance.total_revenue": revenue, "finance.total_cogs": 500_000}, period="2026-Q3"
    )
    assert value.value == Decimal("75")


@pytest.mark.parametrize(
    ("name", "kpi"),
    [
        ("expansion rate", "customers.expansion_rate"),
        ("gross dollar churn", "customers.gross_dollar_churn_rate"),
        ("finance.gross_margin_pct", "sales.gross_margin"),
        ("Actual Burn Rate (Past Period)", "finance.burn_rate_actual"),
    ],
)
def test_a_name_resolves_to_the_one_kpi_it_means(ctx: ToolContext, name: str, kpi: str) -> None:
    found = ctx.index.resolve(name)
    assert found is not None
    assert found.id == kpi


# --- board KPIs added in 1.2.0 --------------------------------------------------------------------


def test_saas_quick_ratio(ctx: ToolContext) -> None:
    # (800,000 + 300,000 + 100,000) ÷ (150,000 + 250,000) = 1,200,000 ÷ 400,000 = 3.
    inputs = {
        "sales.new_business": 800_000,
        "sales.expansion": 300_000,
        "sales.reactivation": 100_000,
        "sales.downgrades": 150_000,
        "sales.churn_arr": 250_000,
    }
    assert compute(ctx, "sales.quick_ratio", inputs, period="2026-Q3").value == Decimal("3")


@pytest.mark.parametrize(
    ("kpi", "inputs", "expected"),
    [
        # (600,000 + 500,000) ÷ 10,000,000 = 0.11 → 11% (= 100 − GRR 89).
        ("customers.gross_dollar_churn_rate", {"sales.downgrades": 600_000, "sales.churn_arr": 500_000}, "11"),
        # (600,000 + 500,000 − 1,200,000) ÷ 10,000,000 = −0.01 → −1% (= 100 − NRR 101).
        (
            "customers.net_dollar_churn_rate",
            {"sales.downgrades": 600_000, "sales.churn_arr": 500_000, "sales.expansion": 1_200_000},
            "-1",
        ),
        # 1,200,000 ÷ 10,000,000 = 0.12 → 12%.
        ("customers.expansion_rate", {"sales.expansion": 1_200_000}, "12"),
        # 600,000 ÷ 10,000,000 = 0.06 → 6%.
        ("customers.contraction_rate", {"sales.downgrades": 600_000}, "6"),
    ],
)
def test_dollar_churn_expansion_and_contraction_rates_over_a_trailing_year(
    ctx: ToolContext, kpi: str, inputs: dict[str, int], expected: str
) -> None:
    value = compute(ctx, kpi, {"sales.starting_arr": 10_000_000, **inputs}, period="2026-Q3")
    assert value.value == Decimal(expected)
    assert value.period == TWELVE_MONTHS_TO_SEP


def test_ltv_and_ltv_to_cac(ctx: ToolContext) -> None:
    # LTV: 50,000 ARR per account × 80% margin ÷ 20% annual logo churn = 40,000 ÷ 0.2 = 200,000.
    ltv = compute(
        ctx,
        "customers.ltv",
        {"customers.avg_contract_value": 50_000, "sales.gross_margin": 80, "customers.logo_churn_rate": 20},
        period="2026-Q3",
    )
    assert ltv.value == Decimal("200000")
    # LTV:CAC: 2,000,000 new ARR × 0.8 ÷ 0.2 = 8,000,000 lifetime gross profit ÷ 2,500,000 S&M = 3.2.
    ratio = compute(
        ctx,
        "sales.ltv_to_cac",
        {
            "sales.new_business": 2_000_000,
            "sales.gross_margin": 80,
            "customers.logo_churn_rate": 20,
            "sm_fully_loaded": 2_500_000,
        },
        period="2026-Q3",
    )
    assert ratio.value == Decimal("3.2")


def test_arpa_is_monthly_recurring_revenue_per_active_account(ctx: ToolContext) -> None:
    # 1,000,000 MRR ÷ 400 accounts = 2,500 a month.
    value = compute(
        ctx, "customers.arpa", {"sales.mrr": 1_000_000, "customers.total_customers": 400}, as_of=date(2026, 9, 30)
    )
    assert value.value == Decimal("2500")
    assert value.unit is Unit.CURRENCY_PER_MONTH


def test_win_rate_and_pipeline_coverage(ctx: ToolContext) -> None:
    # 30 won ÷ (30 won + 90 lost) = 30 ÷ 120 = 0.25 → 25%.
    win = compute(
        ctx, "sales.win_rate", {"sales.closed_won_count": 30, "sales.closed_lost_count": 90}, period="2026-Q3"
    )
    assert win.value == Decimal("25")
    # 4,000,000 pipeline at 30 June ÷ 1,000,000 Q3 target = 4.
    coverage = compute(
        ctx,
        "sales.pipeline_coverage",
        {"qualified_pipeline": 4_000_000, "new_arr_target": 1_000_000},
        period="2026-Q3",
    )
    assert coverage.value == Decimal("4")
    pipeline = next(use for use in coverage.inputs if use.name == "qualified_pipeline")
    assert pipeline.label.startswith("qualified_pipeline (raw input of sales.pipeline_coverage)")


@pytest.mark.parametrize(
    ("kpi", "line", "amount", "expected"),
    [
        # 1,200,000 ÷ 3,000,000 = 0.4 → 40%.
        ("finance.sm_pct_revenue", "finance.total_sm", 1_200_000, "40"),
        # 900,000 ÷ 3,000,000 = 0.3 → 30%.
        ("finance.rnd_pct_revenue", "finance.total_rnd", 900_000, "30"),
        # 450,000 ÷ 3,000,000 = 0.15 → 15%.
        ("finance.ga_pct_revenue", "finance.total_ga", 450_000, "15"),
    ],
)
def test_spend_as_a_share_of_revenue(ctx: ToolContext, kpi: str, line: str, amount: int, expected: str) -> None:
    value = compute(ctx, kpi, {line: amount, "finance.total_revenue": 3_000_000}, period="2026-Q3")
    assert value.value == Decimal(expected)


def test_billings_are_revenue_plus_the_change_in_deferred_less_the_change_in_unbilled(ctx: ToolContext) -> None:
    # 3,000,000 + (2,500,000 − 2,000,000) − (300,000 − 200,000) = 3,000,000 + 500,000 − 100,000 = 3,400,000.
    value = compute(
        ctx,
        "finance.billings",
        {
            "finance.total_revenue": 3_000_000,
            "deferred_revenue_close": 2_500_000,
            "deferred_revenue_open": 2_000_000,
            "unbilled_receivables_close": 300_000,
            "unbilled_receivables_open": 200_000,
        },
        period="2026-Q3",
    )
    assert value.value == Decimal("3400000")
    opening = next(use for use in value.inputs if use.name == "deferred_revenue_open")
    assert opening.label.startswith("deferred_revenue_open")


def test_rpo_and_current_rpo(ctx: ToolContext) -> None:
    # RPO: 2,500,000 deferred + 6,000,000 unbilled = 8,500,000; cRPO: 2,000,000 + 2,800,000 = 4,800,000.
    rpo = compute(
        ctx,
        "finance.rpo",
        {"deferred_revenue": 2_500_000, "unbilled_contract_value": 6_000_000},
        as_of=date(2026, 9, 30),
    )
    crpo = compute(
        ctx,
        "finance.crpo",
        {"deferred_revenue": 2_000_000, "unbilled_contract_value": 2_800_000},
        as_of=date(2026, 9, 30),
    )
    assert (rpo.value, crpo.value) == (Decimal("8500000"), Decimal("4800000"))


def test_dso(ctx: ToolContext) -> None:
    # 1,500,000 receivables ÷ 3,000,000 quarterly revenue × 92 days = 0.5 × 92 = 46 days.
    value = compute(
        ctx,
        "finance.dso",
        {"accounts_receivable": 1_500_000, "finance.total_revenue": 3_000_000, "days_in_period": 92},
        period="2026-Q3",
    )
    assert value.value == Decimal("46")
    assert value.unit is Unit.DAYS


def test_revenue_magic_number(ctx: ToolContext) -> None:
    # (3,300,000 − 3,000,000) ÷ 3 months × 12 = 1,200,000 annualized; ÷ 1,600,000 Q2 S&M = 0.75.
    value = compute(
        ctx,
        "sales.revenue_magic_number",
        {
            "finance.total_revenue": 3_300_000,
            "revenue_prior_period": ValueClaim(value=3_000_000, period=Q2),
            "period_months": 3,
            "sm_prior_period": 1_600_000,
        },
        period="2026-Q3",
    )
    assert value.value == Decimal("0.75")


def test_an_editorial_benchmark_is_not_read_as_peers(ctx: ToolContext) -> None:
    # 900,000 net new ARR ÷ 3,000,000 R&D = 0.3: between the editorial median 0.27 and p75 0.40.
    value = compute(
        ctx, "product.rd_efficiency", {"sales.net_new_arr": 900_000, "finance.total_rnd": 3_000_000}, period="2026-Q3"
    )
    assert value.value == Decimal("0.3")
    assert value.benchmark_position is not None
    assert "editorial bands (no peers were measured)" in value.benchmark_position.reading
    assert "of peers" not in value.benchmark_position.reading


def test_an_input_named_by_a_merged_id_is_read_as_the_kpi_it_was_merged_into(ctx: ToolContext) -> None:
    # sales.new_customers_added was merged into customers.new_customers_added; a caller using the old name as
    # the input name of CAC still means the count. 900,000 of fully loaded S&M ÷ 30 new customers = 30,000.
    value = compute_from_inputs(
        ctx,
        "sales.cac",
        {"sm_fully_loaded": 900_000, "sales.new_customers_added": 30},
        period="2026-Q3",
        currency="USD",
    )
    assert value.value == Decimal("30000")
    assert {used.name for used in value.inputs} == {"sm_fully_loaded", "customers.new_customers_added"}
