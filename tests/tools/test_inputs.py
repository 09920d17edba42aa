"""Binding the inputs of a formula, and refusing inputs bound differently than the formula needs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS
from kpi_context.ontology.loader import load_catalog
from kpi_context.ontology.model import PeriodRole
from kpi_context.tools.claims import claim_decimal
from kpi_context.tools.compute import compute_from_inputs, resolve_when
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, ErrorDetail, KpiError
from kpi_context.tools.inputs import BoundInput, When, bind_input, trailing_window
from kpi_context.tools.ledger.engine import compute_from_ledger
from kpi_context.tools.ledger.source import DatasetRegistry
from kpi_context.tools.periods import Period
from kpi_context.tools.values import BoundValue, ValueClaim, ValueStatus

Q2 = Period(start=date(2026, 4, 1), end=date(2026, 6, 30))
Q3 = Period(start=date(2026, 7, 1), end=date(2026, 9, 30))
Q3_2025 = Period(start=date(2025, 7, 1), end=date(2025, 9, 30))
Q3_JSON = {"start": "2026-07-01", "end": "2026-09-30"}
WINDOW_TO_SEP_2026 = Period(start=date(2025, 10, 1), end=date(2026, 9, 30))
WINDOW_JSON = {"start": "2025-10-01", "end": "2026-09-30"}


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


def bind(
    ctx: ToolContext,
    kpi_id: str,
    name: str,
    argument: Any,
    *,
    variant: str | None = None,
    period: str = "2026-Q3",
    currency: str | None = "USD",
) -> BoundInput:
    """One input of `kpi_id` bound on its own, with the whole bound value the computation lists by reference."""
    kpi = ctx.catalog.kpis[kpi_id]
    expression = kpi.expression_for(variant)
    assert expression is not None
    spec = next(spec for spec in expression.inputs if spec.name == name)
    when = resolve_when(kpi, kpi.binding_for(variant), period, None)
    return bind_input(ctx.binder, kpi, spec, argument, when, currency)


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
        {"first_year_new_business": header_averaged, "new_customers_signed": 20},
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
    spend = bind(ctx, "sales.cac_payback_period", "finance.total_sm", 600_000).value
    assert spend.status is ValueStatus.REPORTED
    assert spend.binding == ctx.catalog.kpis["finance.total_sm"].binding
    assert spend.period == Q3
    assert spend.currency == "USD"
    # A percent is not money: it carries no currency.
    assert bind(ctx, "sales.cac_payback_period", "sales.gross_margin", 75).value.currency is None


def test_a_computed_value_lists_its_inputs_by_reference(ctx: ToolContext) -> None:
    value = compute_from_inputs(ctx, "sales.cac_payback_period", payback_inputs(), period="2026-Q3", currency="USD")
    uses = {use.name: use for use in value.inputs}
    assert list(uses) == ["finance.total_sm", "sales.new_business", "sales.gross_margin"]
    spend = uses["finance.total_sm"]
    assert (spend.kpi, spend.value, spend.status) == ("finance.total_sm", Decimal(600_000), ValueStatus.REPORTED)
    # The reference carries the input's own value id, so it can be traced to the bound input.
    assert (
        spend.value_id == bind(ctx, "sales.cac_payback_period", "finance.total_sm", 600_000).value.provenance.value_id
    )
    assert spend.label == "Total Sales & Marketing — Total Sales & Marketing, as reported, Q3 2026: $600,000"


def test_a_typed_value_for_the_inputs_own_kpi_is_bound_as_asserted(ctx: ToolContext) -> None:
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"finance.total_sm": claim(kpi="finance.total_sm", value=600_000, currency="USD")}),
        period="2026-Q3",
        currency="USD",
    )
    spend = next(use for use in value.inputs if use.name == "finance.total_sm")
    assert spend.status is ValueStatus.ASSERTED
    assert "as asserted" in spend.label
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
    used = next(use for use in value.inputs if use.name == "finance.total_sm")
    assert spend.provenance is not None
    assert used.value_id == spend.provenance.value_id
    assert (used.status, used.label) == (spend.status, spend.label)
    assert not any("asserted" in w for w in value.warnings)


def test_a_raw_input_is_bound_under_the_formulas_own_name_without_a_signature(ctx: ToolContext) -> None:
    value = compute_from_inputs(
        ctx,
        "sales.avg_contract_value",
        {"first_year_new_business": 1_300_000, "new_customers_signed": 20},
        variant="first_year",
        period="2026-Q3",
        currency="USD",
    )
    raw = next(use for use in value.inputs if use.name == "first_year_new_business")
    assert raw.kpi == "sales.avg_contract_value#first_year_new_business"
    assert raw.value_id is None
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
    labels = {use.name: use.label for use in value.inputs}
    assert labels["sales.net_new_arr"].endswith(", Q3 2026: $900,000")
    assert labels["sm_prior_period"].endswith(", Q2 2026: $1,200,000")
    prior = bind(ctx, "sales.magic_number", "sm_prior_period", 1_200_000).value
    assert (prior.kpi, prior.period) == ("finance.total_sm", Q2)


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


def test_a_year_over_year_trend_covers_the_twelve_months_to_the_close_and_reads_the_year_earlier_close(
    ctx: ToolContext,
) -> None:
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
    # The variant is a trailing twelve-month measure: "2026-Q3" is the twelve months to 30 Sep 2026.
    assert value.period == WINDOW_TO_SEP_2026
    # The year-ago figure is one window earlier: 1 Oct 2024 – 30 Sep 2025, closing a year before.
    year_ago = bind(ctx, "customers.acv_trend_pct", "acv_year_ago", 50_000, variant="year_over_year").value
    assert year_ago.period == Period(start=date(2024, 10, 1), end=date(2025, 9, 30))
    assert [use.value for use in value.inputs] == [Decimal(52_000), Decimal(50_000)]


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


def _two_accounts_one_cancelled() -> list[dict[str, str]]:
    # A and B pay 10,000 a year each through 2026; B's cancellation is signed 1 Aug, effective 1 Sep 2026.
    base = {"charge_type": "recurring", "amount_period": "year", "currency": "USD", "end_date": "2026-12-31"}
    lived = {**base, "amount": "10000", "start_date": "2025-01-01", "signed_date": "2025-01-01", "change_type": "new"}
    return [
        {**lived, "contract_id": "A1", "account_id": "A"},
        {**lived, "contract_id": "B1", "account_id": "B"},
        {
            **base,
            "contract_id": "B1",
            "account_id": "B",
            "amount": "-10000",
            "start_date": "2026-09-01",
            "signed_date": "2026-08-01",
            "change_type": "cancellation",
        },
    ]


def _ledger_nrr_inputs(ctx: ToolContext, tmp_path: Path, churn_basis: dict[str, str]) -> dict[str, Any]:
    registry = DatasetRegistry.from_cli(tmp_path)
    cancelled = {"churn_timing": "cancellation_date"}
    rows = {"rows": _two_accounts_one_cancelled()}

    def run(kpi: str, basis: dict[str, str]) -> ValueClaim:
        return passed_back(compute_from_ledger(ctx, kpi, rows, datasets=registry, period="2026", basis=basis))

    return {
        "sales.starting_arr": run("sales.starting_arr", cancelled),
        "sales.expansion": run("sales.expansion", cancelled),
        "sales.downgrades": run("sales.downgrades", cancelled),
        "sales.churn_arr": run("sales.churn_arr", churn_basis),
    }


def test_nrr_from_ledger_inputs_inherits_their_options(ctx: ToolContext, tmp_path: Path) -> None:
    inputs = _ledger_nrr_inputs(ctx, tmp_path, {"churn_timing": "cancellation_date"})
    value = compute_from_inputs(ctx, "customers.net_revenue_retention", inputs, period="2026", currency="USD")
    # Cohort on 31 Dec 2025: 20,000. B churns on 1 Sep 2026 (cancellation date): 10,000.
    # (20,000 + 0 − 0 − 10,000) ÷ 20,000 = 50%.
    assert value.value == Decimal(50)
    assert value.basis["churn_timing"] == "cancellation_date"
    assert set(value.basis) <= {key.value for key in LEDGER_KPI_OPTIONS["customers.net_revenue_retention"].keys}


def test_inputs_computed_under_conflicting_options_are_refused_on_the_basis_axis(
    ctx: ToolContext, tmp_path: Path
) -> None:
    # Churn computed at the end of the paid period (the default) beside flows computed at the cancellation date.
    inputs = _ledger_nrr_inputs(ctx, tmp_path, {})
    detail = refused(ctx, "customers.net_revenue_retention", inputs, period="2026", currency="USD")
    assert detail.code is ErrorCode.INPUT_BINDING_MISMATCH
    assert detail.field == "inputs.sales.churn_arr"
    assert detail.details["axis"] == "basis.churn_timing"
    assert {detail.details["required"], detail.details["given"]} == {"cancellation_date", "end_of_paid_period"}


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
    new_business = next(use for use in value.inputs if use.name == "sales.new_business")
    assert new_business.label.endswith("€1,200,000")
    assert (
        bind(ctx, "sales.cac_payback_period", "sales.new_business", 1_200_000, currency="EUR").value.currency == "EUR"
    )


def test_bare_money_inputs_without_any_currency_are_refused(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.cac_payback_period", payback_inputs(), period="2026-Q3")
    assert detail.code is ErrorCode.INVALID_ARGUMENT
    assert detail.field is not None and "currency" in detail.field


# --- reading numbers: scale, stated units, plausible ranges -------------------------------------


def test_a_gross_margin_given_as_a_fraction_is_refused_naming_both_readings(ctx: ToolContext) -> None:
    # Gross margin is a percent on the 0–100 scale, plausible from 5 to 100: 0.76 would be 0.76 %, while 76 % fits.
    detail = refused(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"sales.gross_margin": 0.76}),
        period="2026-Q3",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.IMPLAUSIBLE_VALUE, "inputs.sales.gross_margin")
    assert "0.76%" in detail.message and "76%" in detail.message.replace("0.76%", "")
    assert detail.details["given"] == "0.76"
    assert detail.details["unit"] == "percent"
    assert detail.details["did_you_mean"] == "76"
    assert "5%" in detail.details["plausible"] and "100%" in detail.details["plausible"]


def test_a_reported_gross_margin_given_as_a_fraction_is_refused_the_same_way(ctx: ToolContext) -> None:
    detail = refused(ctx, "sales.gross_margin", {"sales.gross_margin": 0.76}, period="2026-Q3")
    assert (detail.code, detail.field) == (ErrorCode.IMPLAUSIBLE_VALUE, "inputs.sales.gross_margin")
    assert "0.76%" in detail.message and "76%" in detail.message.replace("0.76%", "")
    assert detail.details["did_you_mean"] == "76"


def test_a_small_monthly_logo_churn_is_a_plausible_percent_and_kept_as_given(ctx: ToolContext) -> None:
    # Logo churn is plausible from 0 to 100 %: 0.8 for one month is read as 0.8 %, not refused as a fraction.
    plausible = ctx.catalog.kpis["customers.logo_churn_rate"].plausible_range
    assert plausible is not None and plausible.contains(Decimal("0.8"))
    value = compute_from_inputs(
        ctx, "customers.logo_churn_rate", {"customers.logo_churn_rate": 0.8}, variant="period_rate", period="2026-09"
    )
    assert value.status is ValueStatus.REPORTED
    assert value.value == Decimal("0.8")
    assert value.unit.value == "percent"
    assert value.period == Period(start=date(2026, 9, 1), end=date(2026, 9, 30))
    assert not any("plausible" in w for w in value.warnings)


def test_a_percent_string_is_read_on_the_0_to_100_scale(ctx: ToolContext) -> None:
    # "76%" is 76: 1,200,000 ÷ 12 = 100,000 a month × 0.76 = 76,000; 600,000 ÷ 76,000 = 7.894… → 7.89 months.
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"sales.gross_margin": "76%"}),
        period="2026-Q3",
        currency="USD",
    )
    assert value.value == Decimal("7.89")
    margin = next(use for use in value.inputs if use.name == "sales.gross_margin")
    assert margin.value == Decimal(76)
    assert value.warnings == []


def test_a_fraction_stated_as_a_ratio_is_converted_to_a_percent_with_a_warning(ctx: ToolContext) -> None:
    # 0.76 (ratio) × 100 = 76 %: the same 7.89 months as "76%".
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"sales.gross_margin": claim(value=0.76, unit="ratio")}),
        period="2026-Q3",
        currency="USD",
    )
    assert value.value == Decimal("7.89")
    margin = next(use for use in value.inputs if use.name == "sales.gross_margin")
    assert margin.value == Decimal(76)
    conversions = [
        w for w in value.warnings if w.startswith("input sales.gross_margin: given as 0.76 (ratio), read as")
    ]
    assert len(conversions) == 1


def test_the_ratio_conversion_warning_states_the_percent_as_the_catalog_writes_it(ctx: ToolContext) -> None:
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"sales.gross_margin": claim(value=0.76, unit="ratio")}),
        period="2026-Q3",
        currency="USD",
    )
    assert "input sales.gross_margin: given as 0.76 (ratio), read as 76%" in value.warnings


def test_a_confirmed_outlier_with_its_unit_is_kept_with_a_warning(ctx: ToolContext) -> None:
    # A 3 % gross margin is below the plausible 5 %, but the caller says it is true.
    # 100,000 a month × 0.03 = 3,000; 600,000 ÷ 3,000 = 200 months.
    outlier = claim(value=3, unit="percent", confirm=True)
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"sales.gross_margin": outlier}),
        period="2026-Q3",
        currency="USD",
    )
    assert value.value == Decimal(200)
    assert any(
        w.startswith("input sales.gross_margin: 3%") and "kept because the caller confirmed it" in w
        for w in value.warnings
    )


@pytest.mark.parametrize(
    "outlier",
    [claim(value=3, unit="percent"), claim(value=3, confirm=True), claim(value=3)],
    ids=["unit-without-confirm", "confirm-without-unit", "bare"],
)
def test_an_outlier_without_both_its_unit_and_confirm_is_refused(ctx: ToolContext, outlier: ValueClaim) -> None:
    detail = refused(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"sales.gross_margin": outlier}),
        period="2026-Q3",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.IMPLAUSIBLE_VALUE, "inputs.sales.gross_margin")
    assert "confirm" in detail.message
    # 3 × 100 = 300 is no plausible margin either, so no "did you mean".
    assert "did_you_mean" not in detail.details


def test_an_implausible_amount_of_money_is_shown_in_the_computations_currency(ctx: ToolContext) -> None:
    # Revenue's range starts at 0 as a plausibility check (not by definition), so a confirmation could keep it.
    detail = refused(
        ctx,
        "sales.gross_margin",
        {"finance.total_revenue": -500_000, "finance.total_cogs": 0},
        period="2026-Q3",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.IMPLAUSIBLE_VALUE, "inputs.finance.total_revenue")
    assert "None" not in detail.message
    assert "-$500,000" in detail.message


def test_a_negative_movement_is_refused_with_its_minimum_even_when_confirmed(ctx: ToolContext) -> None:
    # sales.downgrades is a positive amount by definition: −500,000 is a sign slip, not an outlier.
    negative = claim(value=-500_000, unit="currency", confirm=True)
    detail = refused(
        ctx,
        "customers.gross_revenue_retention",
        {"sales.starting_arr": 10_000_000, "sales.downgrades": negative, "sales.churn_arr": 0},
        period="2026",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.INVALID_ARGUMENT, "inputs.sales.downgrades")
    assert "-$500,000 is below $0" in detail.message
    assert detail.details == {"input": "sales.downgrades", "given": "-500000", "minimum": "0", "unit": "currency"}


def test_a_stated_unit_that_cannot_convert_is_an_input_binding_mismatch(ctx: ToolContext) -> None:
    detail = refused(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"sales.gross_margin": claim(value=76, unit="months")}),
        period="2026-Q3",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.INPUT_BINDING_MISMATCH, "inputs.sales.gross_margin.unit")
    assert detail.details == {"input": "sales.gross_margin", "axis": "unit", "required": "percent", "given": "months"}


def test_a_signed_value_outside_the_plausible_range_is_not_range_checked(ctx: ToolContext) -> None:
    # The server computed this 3 % margin itself: (1,000,000 − 970,000) ÷ 1,000,000 = 3 %.
    margin = compute_from_inputs(
        ctx,
        "sales.gross_margin",
        {"finance.total_revenue": 1_000_000, "finance.total_cogs": 970_000},
        period="2026-Q3",
        currency="USD",
    )
    assert margin.value == Decimal(3)
    # 100,000 a month × 0.03 = 3,000; 600,000 ÷ 3,000 = 200 months.
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        payback_inputs(**{"sales.gross_margin": passed_back(margin)}),
        period="2026-Q3",
        currency="USD",
    )
    assert value.value == Decimal(200)


# --- trailing windows -------------------------------------------------------------------------------


def nrr_flows(**overrides: Any) -> dict[str, Any]:
    inputs: dict[str, Any] = {
        "sales.starting_arr": 10_000_000,
        "sales.expansion": 1_200_000,
        "sales.downgrades": 300_000,
        "sales.churn_arr": 400_000,
    }
    inputs.update(overrides)
    return inputs


def test_nrr_fed_the_quarters_flows_is_refused_naming_the_input(ctx: ToolContext) -> None:
    quarter_expansion = claim(kpi="sales.expansion", value=1_200_000, currency="USD", period=Q3_JSON)
    detail = refused(
        ctx,
        "customers.net_revenue_retention",
        nrr_flows(**{"sales.expansion": quarter_expansion}),
        period="2026-Q3",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.PERIOD_MISMATCH, "inputs.sales.expansion.period")
    assert "'sales.expansion'" in detail.message
    assert "Q3 2026" in detail.message and "12 months to Sep 2026" in detail.message


def test_nrr_fed_twelve_month_window_inputs_is_computed_for_that_window(ctx: ToolContext) -> None:
    window = {"currency": "USD", "period": WINDOW_JSON}
    value = compute_from_inputs(
        ctx,
        "customers.net_revenue_retention",
        {
            # Starting ARR is read the day before the window opens: 30 Sep 2025.
            "sales.starting_arr": claim(kpi="sales.starting_arr", value=10_000_000, currency="USD", as_of="2025-09-30"),
            "sales.expansion": claim(kpi="sales.expansion", value=1_200_000, **window),
            "sales.downgrades": claim(kpi="sales.downgrades", value=300_000, **window),
            "sales.churn_arr": claim(kpi="sales.churn_arr", value=400_000, **window),
        },
        period="2026-Q3",
        currency="USD",
    )
    # (10,000,000 + 1,200,000 − 300,000 − 400,000) ÷ 10,000,000 = 10,500,000 ÷ 10,000,000 = 1.05 → 105%.
    assert value.value == Decimal(105)
    assert value.period == WINDOW_TO_SEP_2026
    assert value.label.endswith(", 12 months to Sep 2026: 105%")


def test_nrr_with_bare_numbers_binds_flows_to_the_window_and_starting_arr_to_its_eve(ctx: ToolContext) -> None:
    expansion = bind(ctx, "customers.net_revenue_retention", "sales.expansion", 1_200_000).value
    starting = bind(ctx, "customers.net_revenue_retention", "sales.starting_arr", 10_000_000).value
    assert expansion.period == WINDOW_TO_SEP_2026
    assert starting.as_of == date(2025, 9, 30)


def test_nrr_fed_starting_arr_at_the_quarters_open_is_refused(ctx: ToolContext) -> None:
    # The quarter opens on 1 July (ARR of 30 June); the window opens on 1 October 2025 (ARR of 30 Sep 2025).
    at_quarter_open = claim(kpi="sales.starting_arr", value=10_000_000, currency="USD", as_of="2026-06-30")
    detail = refused(
        ctx,
        "customers.net_revenue_retention",
        nrr_flows(**{"sales.starting_arr": at_quarter_open}),
        period="2026-Q3",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.PERIOD_MISMATCH, "inputs.sales.starting_arr.as_of")
    assert "2025-09-30" in detail.message


def ebitda_margin(ctx: ToolContext, period: Period | str) -> BoundValue:
    return compute_from_inputs(
        ctx,
        "finance.ebitda_margin",
        {"finance.ebitda": 1_500_000, "finance.total_revenue": 10_000_000},
        period=period,
        currency="USD",
    )


def test_rule_of_40_on_ebitda_with_a_quarterly_margin_is_refused(ctx: ToolContext) -> None:
    quarterly = ebitda_margin(ctx, "2026-Q3")
    assert quarterly.period == Q3
    detail = refused(
        ctx,
        "operations.rule_of_40",
        {"sales.growth_rate_yoy": 30, "finance.ebitda_margin": passed_back(quarterly)},
        variant="ebitda_margin",
        period="2026-Q3",
        currency="USD",
    )
    assert (detail.code, detail.field) == (ErrorCode.PERIOD_MISMATCH, "inputs.finance.ebitda_margin.period")
    assert "'finance.ebitda_margin'" in detail.message


def test_rule_of_40_on_ebitda_with_a_twelve_month_margin_is_computed_for_the_window(ctx: ToolContext) -> None:
    # EBITDA margin over the twelve months: 1,500,000 ÷ 10,000,000 = 15 %. Rule of 40 on EBITDA (the
    # ebitda_margin variant since 1.2.0) = 30 % growth + 15 % = 45.
    yearly = ebitda_margin(ctx, WINDOW_TO_SEP_2026)
    assert yearly.value == Decimal(15)
    value = compute_from_inputs(
        ctx,
        "operations.rule_of_40",
        {"sales.growth_rate_yoy": 30, "finance.ebitda_margin": passed_back(yearly)},
        variant="ebitda_margin",
        period="2026-Q3",
        currency="USD",
    )
    assert value.value == Decimal(45)
    assert value.period == WINDOW_TO_SEP_2026


def test_a_period_given_as_start_and_end_is_read_like_its_shorthand(ctx: ToolContext) -> None:
    as_dates = Period.model_validate(Q3_JSON)
    by_dates = compute_from_inputs(ctx, "sales.cac_payback_period", payback_inputs(), period=as_dates, currency="USD")
    by_name = compute_from_inputs(ctx, "sales.cac_payback_period", payback_inputs(), period="2026-Q3", currency="USD")
    # 1,200,000 ÷ 12 = 100,000 a month × 75 % = 75,000; 600,000 ÷ 75,000 = 8 months.
    assert by_dates.value == by_name.value == Decimal(8)
    assert by_dates.period == by_name.period == Q3
    assert by_dates.provenance is not None and by_name.provenance is not None
    assert by_dates.provenance.value_id == by_name.provenance.value_id
    # A trailing-window KPI given {start, end} is computed for the twelve months to its end.
    nrr = compute_from_inputs(ctx, "customers.net_revenue_retention", nrr_flows(), period=as_dates, currency="USD")
    assert nrr.period == WINDOW_TO_SEP_2026


def test_a_period_that_is_not_whole_months_is_labelled_by_its_dates(ctx: ToolContext) -> None:
    # 1 July – 15 September 2026: the twelve months to 15 Sep 2026 run from 16 Sep 2025.
    part = Period(start=date(2026, 7, 1), end=date(2026, 9, 15))
    nrr = compute_from_inputs(ctx, "customers.net_revenue_retention", nrr_flows(), period=part, currency="USD")
    assert nrr.period == Period(start=date(2025, 9, 16), end=date(2026, 9, 15))
    assert nrr.label.endswith(", 2025-09-16 to 2026-09-15: 105%")


# --- counts, digits and the calendar's ends --------------------------------------------------------

ACV_Q3 = {"period": "2026-Q3", "currency": "USD"}


@pytest.mark.parametrize(
    "customers", [2.5, 0.1, claim(value="20.5"), claim(value=2.5, unit="count", confirm=True)], ids=str
)
def test_a_fractional_count_is_refused_naming_the_input(ctx: ToolContext, customers: Any) -> None:
    # 2.5 new customers cannot be signed: ACV = 1,000 ÷ 2.5 = 400 would be a wrong figure, not an outlier.
    error = refused(
        ctx,
        "sales.avg_contract_value",
        {"new_logo_contract_value": 1000, "new_customers_signed": customers},
        **ACV_Q3,
    )
    assert error.code is ErrorCode.INVALID_ARGUMENT
    where = "inputs.new_customers_signed" + (".value" if isinstance(customers, ValueClaim) else "")
    assert error.field == where
    assert "not a whole number" in error.message


@pytest.mark.parametrize("customers", [-3, -1.0, claim(value=-3, unit="count", confirm=True)], ids=str)
def test_a_negative_count_is_refused_even_when_confirmed(ctx: ToolContext, customers: Any) -> None:
    # −3 new customers would give ACV 100 ÷ −3 = −$33.33.
    error = refused(
        ctx,
        "sales.avg_contract_value",
        {"new_logo_contract_value": 100, "new_customers_signed": customers},
        **ACV_Q3,
    )
    assert error.code is ErrorCode.INVALID_ARGUMENT
    assert error.field is not None and error.field.startswith("inputs.new_customers_signed")
    assert "negative" in error.message


def test_a_whole_count_written_with_a_decimal_point_is_a_whole_number(ctx: ToolContext) -> None:
    # 20.0 customers is 20: ACV = 1,240,000 ÷ 20 = 62,000.
    value = compute_from_inputs(
        ctx,
        "sales.avg_contract_value",
        {"new_logo_contract_value": 1_240_000, "new_customers_signed": 20.0},
        **ACV_Q3,
    )
    assert value.value == Decimal(62_000)


def test_a_reported_count_kpi_is_held_to_the_same_rule(ctx: ToolContext) -> None:
    error = refused(ctx, "customers.total_customers", {"customers.total_customers": 41.5}, as_of=date(2026, 9, 30))
    assert (error.code, error.field) == (ErrorCode.INVALID_ARGUMENT, "inputs.customers.total_customers")


def test_a_count_that_is_a_change_may_be_negative_but_not_fractional(ctx: ToolContext) -> None:
    # hr.headcount_change's plausible range reaches −1,000,000: a fall of 12 people is a true figure.
    fell = compute_from_inputs(ctx, "hr.headcount_change", {"hr.headcount_change": -12}, period="2026-Q3")
    assert fell.value == Decimal(-12)
    error = refused(ctx, "hr.headcount_change", {"hr.headcount_change": -12.5}, period="2026-Q3")
    assert (error.code, error.field) == (ErrorCode.INVALID_ARGUMENT, "inputs.hr.headcount_change")


@pytest.mark.parametrize("text", ["١٠٠٠%", "٧٦%", "７６%", "76％", "1e2%"])
def test_a_percent_string_with_non_ascii_digits_or_an_exponent_is_refused(ctx: ToolContext, text: str) -> None:
    with pytest.raises(KpiError) as info:
        bind(ctx, "sales.gross_margin", "finance.total_revenue", text)
    # The input's own place, not an internal copy: the caller passed the string at inputs.<name>.
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "inputs.finance.total_revenue")


def test_a_decimal_string_with_non_ascii_digits_is_not_read_as_a_number(ctx: ToolContext) -> None:
    # Decimal("١٠٠٠") is 1000 in Python; a claim built without validation must still not be read so.
    sneaked = ValueClaim.model_construct(value="١٠٠٠", unit=None, kpi=None, binding=None, provenance=None)
    with pytest.raises(KpiError) as info:
        claim_decimal(sneaked, "inputs.x")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.INVALID_ARGUMENT, "inputs.x.value")


@pytest.mark.parametrize("number", [10**30, -(10**30), 10**4400], ids=["1e30", "-1e30", "1e4400"])
def test_an_input_with_more_than_30_integer_digits_is_out_of_range_naming_the_input(
    ctx: ToolContext, number: int
) -> None:
    error = refused(
        ctx,
        "sales.avg_contract_value",
        {"new_logo_contract_value": number, "new_customers_signed": 20},
        **ACV_Q3,
    )
    assert (error.code, error.field) == (ErrorCode.OUT_OF_RANGE, "inputs.new_logo_contract_value")


def test_an_input_of_30_digits_is_computed_and_rounded_without_trapping(ctx: ToolContext) -> None:
    # 4 × 10^29 ÷ 2 customers = 2 × 10^29 dollars: 30 integer digits, beyond the default context's 28.
    value = compute_from_inputs(
        ctx,
        "sales.avg_contract_value",
        {"new_logo_contract_value": 4 * 10**29, "new_customers_signed": 2},
        **ACV_Q3,
    )
    assert value.value == Decimal(2 * 10**29)
    assert value.label.endswith("$200,000,000,000,000,000,000,000,000,000")


def test_a_prior_period_before_year_one_is_out_of_range(ctx: ToolContext) -> None:
    # The quarter before Q1 of year 1 is in year 0, which no calendar date has.
    with pytest.raises(KpiError) as info:
        When(Period(start=date(1, 1, 1), end=date(1, 3, 31)), None).for_role(PeriodRole.PRIOR_PERIOD)
    assert (info.value.code, info.value.detail.field) == (ErrorCode.OUT_OF_RANGE, "period")


def test_a_trailing_window_opening_before_year_one_is_out_of_range() -> None:
    with pytest.raises(KpiError) as info:
        trailing_window(date(1, 6, 30), 12)
    assert (info.value.code, info.value.detail.field) == (ErrorCode.OUT_OF_RANGE, "period")
