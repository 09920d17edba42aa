"""Binding the inputs of a formula, and refusing inputs bound differently than the formula needs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.model import PeriodRole
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, ErrorDetail, KpiError
from kpi_context.tools.inputs import When
from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.periods import Period
from kpi_context.tools.values import BoundValue, ValueClaim, ValueStatus

Q2 = Period(start=date(2026, 4, 1), end=date(2026, 6, 30))
Q3 = Period(start=date(2026, 7, 1), end=date(2026, 9, 30))
Q3_2025 = Period(start=date(2025, 7, 1), end=date(2025, 9, 30))
Q3_JSON = {"start": "2026-07-01", "end": "2026-09-30"}


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=b"inputs-tests")


def claim(**fields: Any) -> ValueClaim:
    return ValueClaim.model_validate(fields)


def passed_back(value: BoundValue) -> ValueClaim:
    return ValueClaim.model_validate(value.model_dump(mode="json"))


def refused(ctx: ToolContext, kpi: str, inputs: dict[str, Any], **options: Any) -> ErrorDetail:
    with pytest.raises(KpiError) as info:
        compute_from_inputs(ctx, kpi, inputs, **options)
    return info.value.detail


def payback_inputs(**overrides: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {"finance.total_sm": 600_000, "sales.new_business": 1_200_000, "sales.gross_margin": 75}
    inputs.update(overrides)
    return inputs


# --- input_binding_mismatch ---------------------------------------------------------------


def test_a_per_new_customer_cac_fed_as_total_spend_is_refused_naming_the_input_and_the_grain(ctx: ToolContext) -> None:
    cac = claim(kpi="sales.cac", value=30_000, currency="USD", period=Q3_JSON)
    detail = refused(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"finance.total_sm": cac}),
        period="2026-Q3",
        currency="USD",
    )
    assert detail.code is ErrorCode.INPUT_BINDING_MISMATCH
    assert detail.details["input"] == "finance.total_sm"
    # The grain differs first: company total vs one new customer.
    assert detail.details["axis"] == "grain.level"
    required = {m["axis"]: (m["required"], m["given"]) for m in detail.details["mismatches"]}
    assert required["grain.level"] == ("company", "new_customer")
    assert required["grain.aggregation"] == ("total", "mean")
    assert required["kpi"] == ("finance.total_sm", "sales.cac")
    assert "'finance.total_sm'" in detail.message
    assert "cannot stand in" in detail.message


def test_a_new_business_figure_claimed_over_all_customers_is_refused_on_the_population_axis(ctx: ToolContext) -> None:
    wrong_population = claim(
        kpi="sales.new_business",
        value=1_200_000,
        currency="USD",
        binding={"grain": {"population": "all_active"}},
    )
    detail = refused(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"sales.new_business": wrong_population}),
        period="2026-Q3",
        currency="USD",
    )
    assert detail.code is ErrorCode.INPUT_BINDING_MISMATCH
    assert detail.field == "inputs.sales.new_business"
    assert detail.details["mismatches"] == [
        {"axis": "grain.population", "required": "new_logos_in_period", "given": "all_active"}
    ]


def test_a_raw_input_with_the_wrong_annualization_is_refused_and_told_what_to_supply(ctx: ToolContext) -> None:
    header_averaged = claim(value=1_300_000, currency="USD", binding={"annualization": "tcv_over_term_years"})
    detail = refused(
        ctx,
        "sales.avg_contract_value",
        {"first_year_new_business": header_averaged, "sales.new_customers_added": 20},
        variant="first_year",
        period="2026-Q3",
        currency="USD",
    )
    assert detail.code is ErrorCode.INPUT_BINDING_MISMATCH
    assert (detail.details["input"], detail.details["axis"]) == ("first_year_new_business", "annualization")
    assert "Supply first_year_new_business as described" in detail.message


def test_a_server_value_of_another_variant_is_refused_where_the_default_is_needed(ctx: ToolContext) -> None:
    # Header-averaged blended ACV: 10,400,000 ÷ 200 accounts = 52,000, annualized TCV ÷ term.
    header_averaged = compute_from_inputs(
        ctx,
        "customers.avg_contract_value",
        {"arr_header_averaged": 10_400_000, "customers.total_customers": 200},
        variant="header_averaged",
        as_of=date(2026, 9, 30),
        currency="USD",
    )
    detail = refused(
        ctx,
        "customers.acv_trend_pct",
        {"acv_current": passed_back(header_averaged), "acv_prior": 50_000},
        period="2026-Q3",
        currency="USD",
    )
    assert detail.code is ErrorCode.INPUT_BINDING_MISMATCH
    assert (detail.details["input"], detail.details["axis"]) == ("acv_current", "annualization")


def test_a_typed_value_that_names_another_variant_is_refused_like_the_signed_one(ctx: ToolContext) -> None:
    typed = claim(kpi="customers.avg_contract_value", variant="header_averaged", value=52_000, currency="USD")
    detail = refused(
        ctx,
        "customers.acv_trend_pct",
        {"acv_current": typed, "acv_prior": 50_000},
        period="2026-Q3",
        currency="USD",
    )
    assert detail.code is ErrorCode.INPUT_BINDING_MISMATCH
    assert detail.details["input"] == "acv_current"


def test_an_input_with_no_value_is_refused_as_undefined(ctx: ToolContext) -> None:
    detail = refused(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"sales.gross_margin": claim(value=None)}),
        period="2026-Q3",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.UNDEFINED_VALUE, "inputs.sales.gross_margin.value")


# --- how inputs are bound --------------------------------------------------------------------


def test_bare_numbers_are_reported_figures_bound_by_the_catalog_for_the_computed_period(ctx: ToolContext) -> None:
    value = compute_from_inputs(ctx, "sales.cac_payback_period", payback_inputs(), period="2026-Q3", currency="USD")
    inputs = {use.name: use.value for use in value.inputs}
    spend = inputs["finance.total_sm"]
    assert spend.status is ValueStatus.REPORTED
    assert spend.binding == ctx.catalog.kpis["finance.total_sm"].binding
    assert spend.period == Q3
    assert spend.currency == "USD"
    # A percent is not money: it carries no currency.
    assert inputs["sales.gross_margin"].currency is None


def test_a_typed_value_for_the_inputs_own_kpi_is_bound_as_asserted(ctx: ToolContext) -> None:
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"finance.total_sm": claim(kpi="finance.total_sm", value=600_000, currency="USD")}),
        period="2026-Q3",
        currency="USD",
    )
    spend = next(use.value for use in value.inputs if use.name == "finance.total_sm")
    assert spend.status is ValueStatus.ASSERTED
    assert "some inputs are asserted by the caller, not produced by this server" in value.warnings


def test_a_signed_input_is_used_as_it_was_returned(ctx: ToolContext) -> None:
    spend = compute_from_inputs(
        ctx, "finance.total_sm", {"finance.total_sm": 600_000}, period="2026-Q3", currency="USD"
    )
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"finance.total_sm": passed_back(spend)}),
        period="2026-Q3",
        currency="USD",
    )
    used = next(use.value for use in value.inputs if use.name == "finance.total_sm")
    assert used.provenance == spend.provenance
    assert not any("asserted" in w for w in value.warnings)


def test_a_raw_input_is_bound_under_the_formulas_own_name_without_a_signature(ctx: ToolContext) -> None:
    value = compute_from_inputs(
        ctx,
        "sales.avg_contract_value",
        {"first_year_new_business": 1_300_000, "sales.new_customers_added": 20},
        variant="first_year",
        period="2026-Q3",
        currency="USD",
    )
    raw = next(use.value for use in value.inputs if use.name == "first_year_new_business")
    assert raw.kpi == "sales.avg_contract_value#first_year_new_business"
    assert raw.provenance is None
    assert raw.label == "first_year_new_business (raw input of sales.avg_contract_value): $1,300,000"


# --- periods ------------------------------------------------------------------------------------


def test_a_prior_period_input_given_as_a_number_is_bound_to_the_previous_quarter(ctx: ToolContext) -> None:
    # Magic number: Q3 net new ARR 900,000 ÷ Q2 S&M 1,200,000 = 0.75.
    value = compute_from_inputs(
        ctx,
        "sales.magic_number",
        {"sales.net_new_arr": 900_000, "sm_prior_period": 1_200_000},
        period="2026-Q3",
        currency="USD",
    )
    periods = {use.name: use.value.period for use in value.inputs}
    assert periods == {"sales.net_new_arr": Q3, "sm_prior_period": Q2}


def test_a_prior_period_input_for_the_current_quarter_is_a_period_mismatch(ctx: ToolContext) -> None:
    same_quarter = claim(kpi="finance.total_sm", value=1_200_000, currency="USD", period=Q3_JSON)
    detail = refused(
        ctx,
        "sales.magic_number",
        {"sales.net_new_arr": 900_000, "sm_prior_period": same_quarter},
        period="2026-Q3",
        currency="USD",
    )
    assert detail.code is ErrorCode.PERIOD_MISMATCH
    assert detail.field == "inputs.sm_prior_period.period"
    assert "Q3 2026" in detail.message and "Q2 2026" in detail.message


def test_a_current_input_for_another_quarter_is_a_period_mismatch(ctx: ToolContext) -> None:
    q2_spend = claim(
        kpi="finance.total_sm", value=600_000, currency="USD", period={"start": "2026-04-01", "end": "2026-06-30"}
    )
    detail = refused(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"finance.total_sm": q2_spend}),
        period="2026-Q3",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.PERIOD_MISMATCH, "inputs.finance.total_sm.period")


def test_a_balance_dated_at_the_wrong_close_is_a_period_mismatch(ctx: ToolContext) -> None:
    # The prior-period blended ACV of a Q3 trend is read at the Q2 close, 30 June; 30 September is the wrong date.
    at_q3_close = compute_from_inputs(
        ctx,
        "customers.avg_contract_value",
        {"sales.arr": 10_400_000, "customers.total_customers": 200},
        as_of=date(2026, 9, 30),
        currency="USD",
    )
    detail = refused(
        ctx,
        "customers.acv_trend_pct",
        {"acv_current": 52_000, "acv_prior": passed_back(at_q3_close)},
        period="2026-Q3",
        currency="USD",
    )
    assert detail.code is ErrorCode.PERIOD_MISMATCH
    assert detail.field == "inputs.acv_prior.as_of"
    assert "2026-06-30" in detail.message


def test_a_prior_year_input_is_bound_to_the_same_quarter_a_year_earlier(ctx: ToolContext) -> None:
    # Year over year: 52,000 now vs 50,000 a year ago → (52,000 − 50,000) ÷ 50,000 = 4%.
    value = compute_from_inputs(
        ctx,
        "customers.acv_trend_pct",
        {"acv_current": 52_000, "acv_year_ago": 50_000},
        variant="year_over_year",
        period="2026-Q3",
        currency="USD",
    )
    assert value.value == Decimal("4")
    periods = {use.name: use.value.period for use in value.inputs}
    assert periods == {"acv_current": Q3, "acv_year_ago": Q3_2025}


def test_roles_shift_the_period_back_one_period_or_twelve_months() -> None:
    when = When(Q3, None)
    assert when.for_role(PeriodRole.CURRENT) is when
    assert when.for_role(PeriodRole.PRIOR_PERIOD) == When(Q2, None)
    assert when.for_role(PeriodRole.PRIOR_YEAR) == When(Q3_2025, None)
    # A dated computation without a period has no earlier period to read.
    assert When(None, date(2026, 9, 30)).for_role(PeriodRole.PRIOR_PERIOD) == When(None, None)


def test_a_prior_period_input_needs_a_whole_month_period() -> None:
    fortnight = When(Period(start=date(2026, 7, 1), end=date(2026, 7, 14)), None)
    with pytest.raises(KpiError) as info:
        fortnight.for_role(PeriodRole.PRIOR_PERIOD)
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "period")


def test_nrr_accepts_the_starting_arr_the_server_computed_for_the_same_year(ctx: ToolContext, tmp_path: Path) -> None:
    # One contract at 12,000 a year, live since July 2025: ARR at the open of 2026 (31 Dec 2025) is 12,000.
    row = {
        "contract_id": "C1",
        "account_id": "A1",
        "charge_type": "recurring",
        "amount": "12000",
        "amount_period": "year",
        "start_date": "2025-07-01",
        "end_date": "2027-06-30",
        "signed_date": "2025-06-15",
        "currency": "USD",
        "change_type": "new",
    }
    starting = compute_from_ledger(
        ctx, "sales.starting_arr", {"rows": [row]}, datasets=DatasetRegistry.from_cli(tmp_path), period="2026"
    )
    # (12,000 + 1,200 expansion − 0 − 0) ÷ 12,000 = 1.10 → 110%.
    value = compute_from_inputs(
        ctx,
        "customers.net_revenue_retention",
        {
            "sales.starting_arr": passed_back(starting),
            "sales.expansion": 1_200,
            "sales.downgrades": 0,
            "sales.churn_arr": 0,
        },
        period="2026",
        currency="USD",
    )
    assert value.value == Decimal("110")


# --- currency ------------------------------------------------------------------------------------


def test_an_input_in_another_currency_than_the_computation_is_refused(ctx: ToolContext) -> None:
    eur = claim(kpi="finance.total_sm", value=600_000, currency="EUR")
    detail = refused(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"finance.total_sm": eur}),
        period="2026-Q3",
        currency="USD",
    )
    assert detail.code is ErrorCode.CURRENCY_MISMATCH
    assert detail.field == "inputs.finance.total_sm.currency"
    assert detail.details == {"input": "finance.total_sm", "input_currency": "EUR", "currency": "USD"}


def test_a_bare_money_input_takes_the_currency_of_the_computation(ctx: ToolContext) -> None:
    value = compute_from_inputs(ctx, "sales.cac_payback_period", payback_inputs(), period="2026-Q3", currency="EUR")
    new_business = next(use.value for use in value.inputs if use.name == "sales.new_business")
    assert new_business.currency == "EUR"
    assert new_business.label.endswith("€1,200,000")


def test_bare_money_inputs_without_any_currency_are_refused(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.cac_payback_period", payback_inputs(), period="2026-Q3")
    assert detail.code is ErrorCode.INVALID_ARGUMENT
    assert detail.field is not None and "currency" in detail.field
