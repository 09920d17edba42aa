"""compare_metrics in the domain layer: trends, same-period and benchmark comparisons, and refusals.

Every expected figure is worked out by hand in a comment next to the assertion.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from kpi_context.ontology.binding import RecurringInclusion
from kpi_context.ontology.loader import load_catalog
from kpi_context.tools.binder import Draft
from kpi_context.tools.compare import (
    BenchmarkRef,
    Comparison,
    ComparisonKind,
    ComparisonRefusal,
    Direction,
    UnsafeComparison,
    compare_metrics,
)
from kpi_context.tools.compute import compute_from_inputs
from kpi_context.tools.context import ToolContext
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.periods import Period
from kpi_context.tools.values import BoundValue, ValueClaim, ValueStatus

FORBIDDEN = {"difference", "ratio", "percent_change"}


@pytest.fixture(scope="module")
def ctx() -> ToolContext:
    return ToolContext.create(load_catalog(), secret=b"compare-tests")


def as_claim(bound: BoundValue, **changes: Any) -> ValueClaim:
    document = bound.model_dump(mode="json")
    document.update(changes)
    return ValueClaim.model_validate(document)


def acv(
    ctx: ToolContext, contract_value: int, new_customers: int, period: str | Period, currency: str = "USD"
) -> ValueClaim:
    """New-logo ACV: first-contract value of the period's new logos (TCV ÷ term) ÷ those new logos."""
    value = compute_from_inputs(
        ctx,
        "sales.avg_contract_value",
        {"new_logo_contract_value": contract_value, "new_customers_signed": new_customers},
        period=period,
        currency=currency,
    )
    return as_claim(value)


# Since catalog 1.2.0 the KBCM ACV quartiles (25,000 / 62,000 / 100,000 USD) sit on this variant of blended ACV,
# not on the new-logo ACV above.
MEDIAN_PER_ACCOUNT = "median_per_account"
Q3_CLOSE = date(2026, 9, 30)


def median_acv(ctx: ToolContext, median_account_arr: int, currency: str = "USD") -> ValueClaim:
    """Blended ACV, median_per_account variant: the live ARR of the median active account at the Q3 close."""
    value = compute_from_inputs(
        ctx,
        "customers.avg_contract_value",
        {"median_account_arr": median_account_arr},
        variant=MEDIAN_PER_ACCOUNT,
        as_of=Q3_CLOSE,
        currency=currency,
    )
    return as_claim(value)


def arr(ctx: ToolContext, amount: int, as_of: date) -> ValueClaim:
    return as_claim(compute_from_inputs(ctx, "sales.arr", {"sales.arr": amount}, as_of=as_of, currency="USD"))


def payback(ctx: ToolContext, new_business: int, period: str) -> ValueClaim:
    value = compute_from_inputs(
        ctx,
        "sales.cac_payback_period",
        {"finance.total_sm": 600_000, "sales.new_business": new_business, "sales.gross_margin": 75},
        period=period,
        currency="USD",
    )
    return as_claim(value)


def compared(ctx: ToolContext, left: ValueClaim, right: ValueClaim | BenchmarkRef) -> Comparison:
    return compare_metrics(ctx, left, right)


def refusal(ctx: ToolContext, left: ValueClaim, right: ValueClaim | BenchmarkRef) -> ComparisonRefusal:
    with pytest.raises(UnsafeComparison) as info:
        compare_metrics(ctx, left, right)
    assert info.value.code is ErrorCode.UNSAFE_COMPARISON
    return info.value.refusal


def keys_anywhere(payload: object) -> set[str]:
    if isinstance(payload, dict):
        return set(payload) | {k for v in payload.values() for k in keys_anywhere(v)}
    if isinstance(payload, list):
        return {k for v in payload for k in keys_anywhere(v)}
    return set()


# --- comparable ------------------------------------------------------------------------------


def test_the_same_kpi_over_two_quarters_is_a_trend_measured_from_the_earlier_one(ctx: ToolContext) -> None:
    # Q2: 1,000,000 ÷ 20 = 50,000; Q3: 1,240,000 ÷ 20 = 62,000.
    # Change 62,000 − 50,000 = 12,000; ratio 62,000 ÷ 50,000 = 1.24; 12,000 ÷ 50,000 = 24%.
    q2, q3 = acv(ctx, 1_000_000, 20, "2026-Q2"), acv(ctx, 1_240_000, 20, "2026-Q3")
    result = compared(ctx, q2, q3)
    assert result.comparable is True
    assert result.kind is ComparisonKind.TREND
    assert result.baseline == "left"
    assert (result.difference, result.ratio, result.percent_change) == (
        Decimal("12000"),
        Decimal("1.24"),
        Decimal("24"),
    )
    assert result.difference_text == "+$12,000"
    # ACV's polarity is higher_is_better.
    assert result.direction is Direction.BETTER
    # "<later label> vs <earlier label>: <difference_text>, <relative>% relative; <direction>".
    assert result.summary == (
        "ACV — new-logo average, recurring only, TCV ÷ term, Q3 2026: $62,000 vs "
        "ACV — new-logo average, recurring only, TCV ÷ term, Q2 2026: $50,000: +$12,000, +24% relative; better"
    )


def test_the_baseline_is_the_earlier_period_whichever_side_it_is_on(ctx: ToolContext) -> None:
    q2, q3 = acv(ctx, 1_000_000, 20, "2026-Q2"), acv(ctx, 1_240_000, 20, "2026-Q3")
    result = compared(ctx, q3, q2)
    assert result.baseline == "right"
    # Still later minus earlier: +12,000.
    assert result.difference == Decimal("12000")
    assert result.left.value == Decimal("62000")


def test_quarters_of_different_day_counts_are_still_a_trend(ctx: ToolContext) -> None:
    # Q1 has 90 days, Q3 92; both are three calendar months.
    result = compared(ctx, acv(ctx, 1_000_000, 20, "2026-Q1"), acv(ctx, 1_240_000, 20, "2026-Q3"))
    assert result.kind is ComparisonKind.TREND


def test_two_values_for_the_same_period_compare_left_against_right(ctx: ToolContext) -> None:
    # 1,100,000 ÷ 20 = 55,000 against 62,000: −7,000; −7,000 ÷ 62,000 × 100 = −11.290… → −11.29%.
    result = compared(ctx, acv(ctx, 1_100_000, 20, "2026-Q3"), acv(ctx, 1_240_000, 20, "2026-Q3"))
    assert result.kind is ComparisonKind.SAME_PERIOD
    assert result.baseline == "right"
    assert result.difference == Decimal("-7000")
    assert result.difference_text == "-$7,000"
    assert result.percent_change == Decimal("-11.29")
    assert result.direction is Direction.WORSE


def test_balances_at_two_dates_are_a_trend_measured_from_the_earlier_date(ctx: ToolContext) -> None:
    # 8,000,000 at the Q2 close, 10,000,000 at the Q3 close: +2,000,000; 2,000,000 ÷ 8,000,000 = +25%.
    result = compared(ctx, arr(ctx, 10_000_000, date(2026, 9, 30)), arr(ctx, 8_000_000, date(2026, 6, 30)))
    assert result.kind is ComparisonKind.TREND
    assert result.baseline == "right"
    assert (result.difference, result.percent_change) == (Decimal("2000000"), Decimal("25"))
    assert result.difference_text == "+$2,000,000"
    # ARR's polarity is higher_is_better.
    assert result.direction is Direction.BETTER


def test_a_shorter_payback_is_better(ctx: ToolContext) -> None:
    # Q2: 1,200,000 ÷ 12 × 0.75 = 75,000 a month → 600,000 ÷ 75,000 = 8 months.
    # Q3: 1,600,000 ÷ 12 × 0.75 = 100,000 a month → 600,000 ÷ 100,000 = 6 months. Change −2.
    result = compared(ctx, payback(ctx, 1_200_000, "2026-Q2"), payback(ctx, 1_600_000, "2026-Q3"))
    assert result.difference == Decimal("-2")
    assert result.direction is Direction.BETTER


def test_no_change_reads_as_unchanged(ctx: ToolContext) -> None:
    result = compared(ctx, acv(ctx, 1_240_000, 20, "2026-Q2"), acv(ctx, 1_240_000, 20, "2026-Q3"))
    assert result.difference == Decimal("0")
    assert result.direction is Direction.UNCHANGED


def test_a_zero_baseline_gives_a_difference_but_no_ratio_or_percent(ctx: ToolContext) -> None:
    # Q2: 0 ÷ 20 = 0; Q3 62,000. Difference 62,000; a ratio to zero is undefined.
    result = compared(ctx, acv(ctx, 0, 20, "2026-Q2"), acv(ctx, 1_240_000, 20, "2026-Q3"))
    assert result.difference == Decimal("62000")
    assert result.ratio is None and result.percent_change is None
    assert any("zero" in note for note in result.notes)


def test_an_asserted_side_is_compared_and_noted(ctx: ToolContext) -> None:
    typed = ValueClaim(
        kpi="sales.avg_contract_value",
        value=50_000,
        currency="USD",
        period={"start": "2026-04-01", "end": "2026-06-30"},
    )
    result = compared(ctx, acv(ctx, 1_240_000, 20, "2026-Q3"), typed)
    assert result.right.status is ValueStatus.ASSERTED
    assert "right value is asserted by the caller" in result.notes
    # 62,000 − 50,000 = 12,000.
    assert result.difference == Decimal("12000")


# --- against a benchmark ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quartile", "difference", "ratio", "percent", "direction"),
    [
        # Catalog quartiles 25,000 / 62,000 / 100,000 for median-per-account ACV; the value is 62,000.
        # p25: 62,000 − 25,000 = 37,000; 62,000 ÷ 25,000 = 2.48; 37,000 ÷ 25,000 = 148%.
        ("p25", "37000", "2.48", "148", Direction.BETTER),
        # median: 62,000 − 62,000 = 0; ratio 1; 0%.
        ("median", "0", "1", "0", Direction.UNCHANGED),
        # p75: 62,000 − 100,000 = −38,000; 62,000 ÷ 100,000 = 0.62; −38,000 ÷ 100,000 = −38%.
        ("p75", "-38000", "0.62", "-38", Direction.WORSE),
    ],
)
def test_a_value_against_each_benchmark_quartile(
    ctx: ToolContext, quartile: str, difference: str, ratio: str, percent: str, direction: Direction
) -> None:
    result = compared(ctx, median_acv(ctx, 62_000), BenchmarkRef.model_validate({"benchmark": quartile}))
    assert result.kind is ComparisonKind.BENCHMARK
    assert result.baseline == "right"
    assert result.difference == Decimal(difference)
    assert result.ratio == Decimal(ratio)
    assert result.percent_change == Decimal(percent)
    assert result.direction is direction


def test_lower_churn_than_the_benchmark_median_is_better(ctx: ToolContext) -> None:
    # 20 accounts lost of 200 at the window's open = 10%; the catalog median is 13% and lower is better.
    churn = compute_from_inputs(
        ctx,
        "customers.logo_churn_rate",
        {"customers.customers_churned": 20, "customers_at_open": 200},
        period="2026",
    )
    assert churn.value == Decimal("10")
    result = compared(ctx, as_claim(churn), BenchmarkRef(benchmark="median"))
    assert result.difference == Decimal("-3")
    assert result.direction is Direction.BETTER


def test_a_benchmark_in_dollars_refuses_a_value_in_euros(ctx: ToolContext) -> None:
    # The median-per-account rules the benchmark measured, but in euros: the USD quartiles cannot place it.
    refused = refusal(ctx, median_acv(ctx, 62_000, currency="EUR"), BenchmarkRef(benchmark="median"))
    assert [m.axis for m in refused.mismatches] == ["benchmark"]
    assert "EUR" in refused.mismatches[0].right
    assert not keys_anywhere(refused.model_dump(mode="json")) & FORBIDDEN


def test_a_variant_the_benchmark_does_not_measure_is_refused(ctx: ToolContext) -> None:
    # Blended ACV under its default rules, the mean: 6,200,000 ARR ÷ 100 accounts = 62,000, the benchmark's
    # median figure, yet the quartiles describe the median account (median_per_account), not the mean.
    mean = compute_from_inputs(
        ctx,
        "customers.avg_contract_value",
        {"sales.arr": 6_200_000, "customers.total_customers": 100},
        as_of=Q3_CLOSE,
        currency="USD",
    )
    assert mean.value == Decimal("62000")
    refused = refusal(ctx, as_claim(mean), BenchmarkRef(benchmark="median"))
    assert refused.right.variant == "benchmark"
    assert refused.right.value is None
    assert [m.axis for m in refused.mismatches] == ["benchmark"]
    assert f"'{MEDIAN_PER_ACCOUNT}'" in refused.mismatches[0].right


def test_a_kpi_without_a_benchmark_is_refused(ctx: ToolContext) -> None:
    refused = refusal(ctx, payback(ctx, 1_200_000, "2026-Q3"), BenchmarkRef(benchmark="median"))
    assert "no benchmark" in refused.message


def test_new_logo_acv_has_no_benchmark_since_the_quartiles_moved(ctx: ToolContext) -> None:
    # 1,240,000 ÷ 20 = 62,000 new-logo ACV: the KBCM median figure, but the catalog (1.2.0) puts those quartiles
    # on median-per-account blended ACV, so the new-logo mean is refused rather than placed.
    refused = refusal(ctx, acv(ctx, 1_240_000, 20, "2026-Q3"), BenchmarkRef(benchmark="median"))
    assert "no benchmark" in refused.message
    assert not keys_anywhere(refused.model_dump(mode="json")) & FORBIDDEN


def test_a_value_bound_under_other_rules_than_the_benchmark_is_refused(ctx: ToolContext) -> None:
    kpi = ctx.catalog.kpis["customers.avg_contract_value"]
    # What a ledger computation would sign for median-per-account ACV with committed usage included.
    with_usage = ctx.binder.bind(
        Draft(
            kpi=kpi,
            variant_id=MEDIAN_PER_ACCOUNT,
            value=Decimal("62000"),
            status=ValueStatus.COMPUTED,
            as_of=Q3_CLOSE,
            currency="USD",
            binding=kpi.binding_for(MEDIAN_PER_ACCOUNT).model_copy(
                update={"recurring_inclusion": RecurringInclusion.RECURRING_PLUS_COMMITTED_USAGE}
            ),
        )
    )
    refused = refusal(ctx, as_claim(with_usage), BenchmarkRef(benchmark="median"))
    assert [m.axis for m in refused.mismatches] == ["benchmark"]
    assert "recurring_inclusion" in refused.mismatches[0].right


# --- refused ------------------------------------------------------------------------------------


def test_acv_against_arr_is_refused_without_any_number_to_quote(ctx: ToolContext) -> None:
    refused = refusal(ctx, acv(ctx, 1_240_000, 20, "2026-Q3"), arr(ctx, 10_000_000, date(2026, 9, 30)))
    payload = refused.model_dump(mode="json")
    assert payload["code"] == "unsafe_comparison"
    assert payload["comparable"] is False
    assert not keys_anywhere(payload) & FORBIDDEN
    axes = [m.axis for m in refused.mismatches]
    assert axes[:4] == ["kpi", "grain.level", "grain.aggregation", "grain.population"]
    assert all(m.why for m in refused.mismatches)


def test_the_remedies_for_acv_against_arr_are_a_trend_of_each_side(ctx: ToolContext) -> None:
    refused = refusal(ctx, acv(ctx, 1_240_000, 20, "2026-Q3"), arr(ctx, 10_000_000, date(2026, 9, 30)))
    # Blended ACV (ARR ÷ customers) is a balance over all active accounts, not new-logo ACV's rules,
    # so deriving it is no remedy; each value's own trend is.
    assert [(r.action.value, r.kpis) for r in refused.remedies] == [
        ("compare_with_own_history", ["sales.avg_contract_value"]),
        ("compare_with_own_history", ["sales.arr"]),
    ]
    assert refused.remedies[0].explanation == (
        "Compare sales.avg_contract_value with its own value for another period of the same length (a trend)."
    )


def first_year_acv(ctx: ToolContext) -> ValueClaim:
    # 1,300,000 of first-contract-year value ÷ 20 new logos = 65,000.
    value = compute_from_inputs(
        ctx,
        "sales.avg_contract_value",
        {"first_year_new_business": 1_300_000, "new_customers_signed": 20},
        variant="first_year",
        period="2026-Q3",
        currency="USD",
    )
    return as_claim(value)


def test_two_variants_of_acv_are_refused_and_each_side_may_switch_to_the_others_variant(ctx: ToolContext) -> None:
    refused = refusal(ctx, first_year_acv(ctx), acv(ctx, 1_240_000, 20, "2026-Q3"))
    axes = [(m.axis, m.left, m.right) for m in refused.mismatches]
    assert axes[:2] == [
        ("variant", "first_year", "default"),
        ("annualization", "first_contract_year", "tcv_over_term_years"),
    ]
    switches = [(r.action.value, r.variant) for r in refused.remedies if r.action.value == "use_variant"]
    assert switches == [("use_variant", "default"), ("use_variant", "first_year")]


def test_two_variants_of_acv_are_refused_on_the_variant_and_annualization_axes_only(ctx: ToolContext) -> None:
    refused = refusal(ctx, first_year_acv(ctx), acv(ctx, 1_240_000, 20, "2026-Q3"))
    assert [(m.axis, m.left, m.right) for m in refused.mismatches] == [
        ("variant", "first_year", "default"),
        ("annualization", "first_contract_year", "tcv_over_term_years"),
    ]


def test_values_in_different_currencies_are_refused(ctx: ToolContext) -> None:
    refused = refusal(ctx, acv(ctx, 1_240_000, 20, "2026-Q3", currency="EUR"), acv(ctx, 1_000_000, 20, "2026-Q2"))
    assert [(m.axis, m.left, m.right) for m in refused.mismatches] == [("currency", "EUR", "USD")]
    assert refused.message == "Refused, not comparable: currency differs (EUR vs USD)"


def test_periods_of_different_length_are_refused(ctx: ToolContext) -> None:
    refused = refusal(ctx, acv(ctx, 400_000, 8, "2026-09"), acv(ctx, 1_240_000, 20, "2026-Q3"))
    assert [(m.axis, m.left, m.right) for m in refused.mismatches] == [("period", "Sep 2026", "Q3 2026")]


def test_periods_off_the_month_grid_of_different_length_are_refused(ctx: ToolContext) -> None:
    fifteen_days = Period(start=date(2026, 7, 1), end=date(2026, 7, 15))
    thirty_days = Period(start=date(2026, 8, 2), end=date(2026, 8, 31))
    refused = refusal(ctx, acv(ctx, 1_000_000, 20, fifteen_days), acv(ctx, 1_240_000, 20, thirty_days))
    assert [m.axis for m in refused.mismatches] == ["period"]


def test_retention_over_a_trailing_year_and_over_one_quarter_are_refused(ctx: ToolContext) -> None:
    movements = {
        "sales.starting_arr": 10_000_000,
        "sales.expansion": 400_000,
        "sales.downgrades": 0,
        "sales.churn_arr": 0,
    }
    yearly = compute_from_inputs(ctx, "customers.net_revenue_retention", movements, period="2026", currency="USD")
    quarterly = compute_from_inputs(
        ctx, "customers.net_revenue_retention", movements, variant="period_rate", period="2026-Q3", currency="USD"
    )
    refused = refusal(ctx, as_claim(yearly), as_claim(quarterly))
    axes = [m.axis for m in refused.mismatches]
    assert "variant" in axes and "time_basis" in axes


def test_an_undefined_side_is_refused(ctx: ToolContext) -> None:
    refused = refusal(ctx, acv(ctx, 1_000_000, 0, "2026-Q2"), acv(ctx, 1_240_000, 20, "2026-Q3"))
    assert [(m.axis, m.left) for m in refused.mismatches] == [("undefined", "no value")]


def test_an_undated_balance_is_refused_on_the_undated_axis(ctx: ToolContext) -> None:
    undated = ValueClaim(kpi="sales.arr", value=8_000_000, currency="USD")
    refused = refusal(ctx, undated, arr(ctx, 10_000_000, date(2026, 9, 30)))
    assert [(m.axis, m.left, m.right) for m in refused.mismatches] == [("undated", "undated", "2026-09-30")]


def test_two_undated_values_are_refused_on_the_undated_axis_with_the_true_reason(ctx: ToolContext) -> None:
    earlier = ValueClaim(kpi="sales.avg_contract_value", value=50_000, currency="USD")
    later = ValueClaim(kpi="sales.avg_contract_value", value=62_000, currency="USD")
    refused = refusal(ctx, earlier, later)
    assert [(m.axis, m.left, m.right) for m in refused.mismatches] == [("undated", "undated", "undated")]
    # Not "their periods are not the same length": neither value has a period at all.
    assert refused.mismatches[0].why.startswith("a value without a period or date cannot be placed in time")
    assert refused.message == (
        "Refused, not comparable: a value has no period or date (give `period` or `as_of` when computing it)"
    )
    assert not keys_anywhere(refused.model_dump(mode="json")) & FORBIDDEN


def test_an_undated_value_of_another_time_basis_is_refused_on_the_time_basis_axis_not_as_undated(
    ctx: ToolContext,
) -> None:
    # A flow (ACV) against a balance (ARR): the time bases differ, which already says why no period aligns.
    undated_flow = ValueClaim(kpi="sales.avg_contract_value", value=50_000, currency="USD")
    refused = refusal(ctx, undated_flow, arr(ctx, 10_000_000, date(2026, 9, 30)))
    axes = [m.axis for m in refused.mismatches]
    assert "time_basis" in axes
    assert "undated" not in axes and "period" not in axes


# --- direction, units and the difference to quote ---------------------------------------------


def nrr(ctx: ToolContext, expansion: int, downgrades: int, churn: int, period: str) -> ValueClaim:
    movements = {
        "sales.starting_arr": 10_000_000,
        "sales.expansion": expansion,
        "sales.downgrades": downgrades,
        "sales.churn_arr": churn,
    }
    return as_claim(
        compute_from_inputs(ctx, "customers.net_revenue_retention", movements, period=period, currency="USD")
    )


def test_a_percent_kpi_changes_by_percentage_points_quoted_in_difference_text(ctx: ToolContext) -> None:
    # 12 months to Sep 2025: (10,000,000 + 1,000,000 − 100,000 − 62,000) ÷ 10,000,000 = 108.38%.
    # 12 months to Sep 2026: (10,000,000 + 400,000 − 100,000 − 200,000) ÷ 10,000,000 = 101%.
    # 101 − 108.38 = −7.38 points; relative −7.38 ÷ 108.38 × 100 = −6.809… → −6.81%;
    # ratio 101 ÷ 108.38 = 0.9319… → 0.93 (ratio quantum 0.01).
    earlier = nrr(ctx, 1_000_000, 100_000, 62_000, "2025-Q3")
    later = nrr(ctx, 400_000, 100_000, 200_000, "2026-Q3")
    result = compared(ctx, later, earlier)
    assert result.kind is ComparisonKind.TREND
    assert result.baseline == "right"
    assert (result.difference, result.ratio, result.percent_change) == (
        Decimal("-7.38"),
        Decimal("0.93"),
        Decimal("-6.81"),
    )
    assert result.difference_text == "-7.38 percentage points"
    # NRR is higher_is_better: a fall is worse.
    assert result.direction is Direction.WORSE
    assert result.summary == (
        "NRR — trailing 12 months, starting-cohort ARR, 12 months to Sep 2026: 101% vs "
        "NRR — trailing 12 months, starting-cohort ARR, 12 months to Sep 2025: 108.38%: "
        "-7.38 percentage points, -6.81% relative; worse"
    )


def test_a_ratio_kpi_quotes_its_difference_as_a_multiple(ctx: ToolContext) -> None:
    def magic_number(net_new_arr: int, period: str) -> ValueClaim:
        value = compute_from_inputs(
            ctx,
            "sales.magic_number",
            {"sales.net_new_arr": net_new_arr, "sm_prior_period": 2_000_000},
            period=period,
            currency="USD",
        )
        return as_claim(value)

    # Q2: 1,000,000 ÷ 2,000,000 = 0.50x; Q3: 1,500,000 ÷ 2,000,000 = 0.75x. +0.25x; 0.25 ÷ 0.50 = +50%.
    result = compared(ctx, magic_number(1_000_000, "2026-Q2"), magic_number(1_500_000, "2026-Q3"))
    assert (result.difference, result.percent_change) == (Decimal("0.25"), Decimal("50"))
    assert result.difference_text == "+0.25x"
    assert result.direction is Direction.BETTER


def test_a_neutral_kpi_reports_its_change_without_judging_it(ctx: ToolContext) -> None:
    def headcount(people: int, as_of: date) -> ValueClaim:
        return as_claim(compute_from_inputs(ctx, "hr.total_headcount", {"hr.total_headcount": people}, as_of=as_of))

    # 120 people at the Q2 close, 150 at the Q3 close: +30; 30 ÷ 120 = +25%. Headcount's polarity is neutral.
    result = compared(ctx, headcount(120, date(2026, 6, 30)), headcount(150, date(2026, 9, 30)))
    assert (result.difference, result.percent_change) == (Decimal("30"), Decimal("25"))
    assert result.difference_text == "+30"
    assert result.direction is Direction.NOT_JUDGED
    assert result.summary.endswith(": +30, +25% relative; not judged")


def test_a_rise_in_a_lower_is_better_kpi_is_worse(ctx: ToolContext) -> None:
    def churn(churned: int, period: str) -> ValueClaim:
        value = compute_from_inputs(
            ctx,
            "customers.logo_churn_rate",
            {"customers.customers_churned": churned, "customers_at_open": 200},
            period=period,
        )
        return as_claim(value)

    # 2025: 20 ÷ 200 = 10%; 2026: 30 ÷ 200 = 15%. +5 points; 5 ÷ 10 = +50%. Lower churn is better.
    result = compared(ctx, churn(20, "2025"), churn(30, "2026"))
    assert (result.difference, result.percent_change) == (Decimal("5"), Decimal("50"))
    assert result.difference_text == "+5 percentage points"
    assert result.direction is Direction.WORSE


# --- naming the KPI -----------------------------------------------------------------------------


def test_an_alias_names_the_kpi_as_in_compute_kpi(ctx: ToolContext) -> None:
    # "NDR" is an alias of customers.net_revenue_retention only. Typed: 101 vs computed 108.38 → −7.38 points.
    typed = ValueClaim(kpi="NDR", value=101, period={"start": "2025-10-01", "end": "2026-09-30"})
    result = compared(ctx, typed, nrr(ctx, 1_000_000, 100_000, 62_000, "2026-Q3"))
    assert result.left.kpi == "customers.net_revenue_retention"
    assert result.left.status is ValueStatus.ASSERTED
    assert result.kind is ComparisonKind.SAME_PERIOD
    assert result.difference_text == "-7.38 percentage points"


@pytest.mark.parametrize("side", ["left", "right"])
def test_an_ambiguous_alias_is_not_found_with_suggestions_rather_than_guessed(ctx: ToolContext, side: str) -> None:
    # "ACV" is an alias of both new-logo ACV (sales) and blended ACV (customers).
    ambiguous = ValueClaim(kpi="ACV", value=62_000, currency="USD", period={"start": "2026-07-01", "end": "2026-09-30"})
    other = acv(ctx, 1_240_000, 20, "2026-Q3")
    left, right = (ambiguous, other) if side == "left" else (other, ambiguous)
    with pytest.raises(KpiError) as info:
        compare_metrics(ctx, left, right)
    assert info.value.code is ErrorCode.NOT_FOUND
    assert info.value.detail.field == f"{side}.kpi"
    suggestions = info.value.detail.details["suggestions"]
    assert {"sales.avg_contract_value", "customers.avg_contract_value"} <= set(suggestions)


# --- governed ledger options -------------------------------------------------------------------


def grr_default(ctx: ToolContext) -> ValueClaim:
    # (10,000,000 − 300,000 − 600,000) ÷ 10,000,000 = 91%, for the 12 months to Sep 2026.
    value = compute_from_inputs(
        ctx,
        "customers.gross_revenue_retention",
        {"sales.starting_arr": 10_000_000, "sales.downgrades": 300_000, "sales.churn_arr": 600_000},
        period="2026-Q3",
        currency="USD",
    )
    return as_claim(value)


def grr_capped_on_the_aggregate(ctx: ToolContext) -> BoundValue:
    """What the ledger engine signs for GRR computed with grr_cap=aggregate (other options at their defaults)."""
    kpi = ctx.catalog.kpis["customers.gross_revenue_retention"]
    return ctx.binder.bind(
        Draft(
            kpi=kpi,
            variant_id=None,
            value=Decimal("93"),
            status=ValueStatus.COMPUTED,
            period=Period(start=date(2025, 10, 1), end=date(2026, 9, 30)),
            basis={"grr_cap": "aggregate"},
        )
    )


def test_the_same_kpi_under_different_ledger_options_is_refused_on_the_basis_axis(ctx: ToolContext) -> None:
    # The formula-computed GRR states no options, so it reads under the catalog default grr_cap=per_customer.
    refused = refusal(ctx, as_claim(grr_capped_on_the_aggregate(ctx)), grr_default(ctx))
    assert [(m.axis, m.left, m.right) for m in refused.mismatches] == [("basis.grr_cap", "aggregate", "per_customer")]
    assert refused.message == "Refused, not comparable: basis.grr_cap differs (aggregate vs per_customer)"
    assert not keys_anywhere(refused.model_dump(mode="json")) & FORBIDDEN


def test_an_asserted_value_keeps_the_ledger_options_it_states(ctx: ToolContext) -> None:
    typed = ValueClaim(
        kpi="customers.gross_revenue_retention",
        value=93,
        period={"start": "2025-10-01", "end": "2026-09-30"},
        basis={"grr_cap": "aggregate"},
    )
    refused = refusal(ctx, typed, grr_default(ctx))
    assert [m.axis for m in refused.mismatches] == ["basis.grr_cap"]


# --- what the server serializes ----------------------------------------------------------------


def test_comparable_and_code_survive_serialization_without_defaults(ctx: ToolContext) -> None:
    # The server drops fields at their default; these must always be there for a caller to branch on.
    result = compared(ctx, acv(ctx, 1_000_000, 20, "2026-Q2"), acv(ctx, 1_240_000, 20, "2026-Q3"))
    shown = result.model_dump(mode="json", exclude_defaults=True)
    assert shown["comparable"] is True
    refused = refusal(ctx, acv(ctx, 1_240_000, 20, "2026-Q3", currency="EUR"), acv(ctx, 1_000_000, 20, "2026-Q2"))
    shown = refused.model_dump(mode="json", exclude_defaults=True)
    assert (shown["code"], shown["comparable"]) == ("unsafe_comparison", False)
    # A side's variant and status default to "default" and computed, so they are left out.
    assert "variant" not in shown["left"] and "status" not in shown["left"]


def test_a_refusal_offers_at_most_three_remedies(ctx: ToolContext) -> None:
    # Voluntary turnover over the trailing year: 10 ÷ ((110 + 90) ÷ 2) = 10%.
    voluntary = compute_from_inputs(
        ctx,
        "hr.voluntary_turnover_rate",
        {"hr.voluntary_exits": 10, "headcount_close": 110, "headcount_open": 90},
        period="2026",
    )
    # Involuntary turnover over Q4 only: 2 ÷ ((110 + 100) ÷ 2) = 1.904…% → 1.90%.
    involuntary = compute_from_inputs(
        ctx,
        "hr.involuntary_turnover_rate",
        {"hr.terminations": 2, "headcount_close": 110, "headcount_open": 100},
        variant="period_rate",
        period="2026-Q4",
    )
    # Five candidates before the cap: three variant switches (voluntary → period_rate; involuntary → default
    # or excluding_layoffs, both trailing-year) and one trend per KPI.
    refused = refusal(ctx, as_claim(voluntary), as_claim(involuntary))
    assert 1 <= len(refused.remedies) <= 3
    assert len({r.explanation for r in refused.remedies}) == len(refused.remedies)


# --- the governance profile and the catalog version are axes ----------------------------------------------------


def _gross_margin(ctx: ToolContext) -> BoundValue:
    # A reported gross margin of 76 % for Q3 2026: a figure with no lock on it in any profile used here.
    return compute_from_inputs(ctx, "sales.gross_margin", {"sales.gross_margin": 76}, period="2026-Q3")


def _contexts(tmp_path) -> tuple[ToolContext, ToolContext, ToolContext]:
    from kpi_context.ontology.profile_loader import load_profile
    from tests.support.profiles import EXAMPLE, context, loaded, minimal_document

    catalog = load_catalog()
    acme = context(catalog, load_profile(EXAMPLE, catalog))
    globex = context(catalog, loaded(tmp_path, minimal_document(), catalog))
    return acme, globex, context(catalog, None)


def _axes(ctx: ToolContext, left: BoundValue, right: BoundValue) -> dict[str, Any]:
    with pytest.raises(UnsafeComparison) as refused:
        compare_metrics(ctx, as_claim(left), as_claim(right))
    return {m.axis: m for m in refused.value.refusal.mismatches} | {"remedies": refused.value.refusal.remedies}


def test_values_computed_under_two_profiles_are_refused_with_reason_and_remedy(tmp_path) -> None:
    acme, globex, _ = _contexts(tmp_path)
    axes = _axes(acme, _gross_margin(acme), _gross_margin(globex))
    assert set(axes) == {"profile", "remedies"}
    assert axes["profile"].left.startswith("acme (sha256:") and axes["profile"].right.startswith("globex (sha256:")
    assert "governance profiles" in axes["profile"].why
    assert axes["remedies"][0].action.value == "recompute_under_one_profile"


def test_a_value_under_a_profile_and_one_without_are_refused(tmp_path) -> None:
    acme, _, plain = _contexts(tmp_path)
    axes = _axes(plain, _gross_margin(plain), _gross_margin(acme))
    assert axes["profile"].left == "no profile"
    assert axes["profile"].right.startswith("acme")


def test_two_values_under_one_profile_compare(tmp_path) -> None:
    acme, _, _ = _contexts(tmp_path)
    compared = compare_metrics(acme, as_claim(_gross_margin(acme)), as_claim(_gross_margin(acme)))
    assert compared.difference == 0


def test_values_computed_under_two_catalog_versions_are_refused() -> None:
    from kpi_context.ontology.catalog import Catalog
    from tests.support.profiles import context

    catalog = load_catalog()
    manifest = catalog.manifest.model_copy(update={"version": "9.9.9"})
    newer = context(Catalog(manifest=manifest, kpis=catalog.kpis, content_hash="sha256:other"), None)
    current = context(catalog, None)
    axes = _axes(current, _gross_margin(current), _gross_margin(newer))
    assert (axes["catalog"].left, axes["catalog"].right) == (catalog.version, "9.9.9")
