"""The formula language: parser, exact evaluator, and the unit and grain checker."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kpi_context.ontology.binding import GrainLevel, Population, Unit
from kpi_context.ontology.expression import (
    BinOp,
    Call,
    ExpressionError,
    Extent,
    Func,
    Neg,
    Num,
    Quantity,
    Ref,
    UndefinedResult,
    evaluate,
    infer,
    parse,
    referenced_names,
)

# --- operand types, as the bindings of the catalog's KPIs make them ---------------------------

COMPANY_TOTAL_SM = Quantity(Unit.CURRENCY, Extent.TOTAL, GrainLevel.COMPANY, Population.WHOLE_COMPANY)
NEW_BUSINESS_ARR = Quantity(Unit.CURRENCY, Extent.TOTAL, GrainLevel.COMPANY, Population.NEW_LOGOS_IN_PERIOD)
NEW_LOGOS = Quantity(Unit.COUNT, Extent.TOTAL, GrainLevel.NEW_CUSTOMER, Population.NEW_LOGOS_IN_PERIOD)
ARR = Quantity(Unit.CURRENCY, Extent.TOTAL, GrainLevel.COMPANY, Population.ALL_ACTIVE)
ACTIVE_ACCOUNTS = Quantity(Unit.COUNT, Extent.TOTAL, GrainLevel.ACCOUNT, Population.ALL_ACTIVE)
CAC_PER_NEW_CUSTOMER = Quantity(
    Unit.CURRENCY, Extent.PER_ENTITY, GrainLevel.NEW_CUSTOMER, Population.NEW_LOGOS_IN_PERIOD
)
GROSS_MARGIN = Quantity(Unit.PERCENT, Extent.INTENSIVE, GrainLevel.COMPANY, Population.WHOLE_COMPANY)
BLENDED_ACV = Quantity(Unit.CURRENCY, Extent.PER_ENTITY, GrainLevel.ACCOUNT, Population.ALL_ACTIVE)

ENV = {
    "finance.total_sm": COMPANY_TOTAL_SM,
    "sales.new_business": NEW_BUSINESS_ARR,
    "sales.new_customers_added": NEW_LOGOS,
    "sales.arr": ARR,
    "customers.total_customers": ACTIVE_ACCOUNTS,
    "sales.cac": CAC_PER_NEW_CUSTOMER,
    "sales.gross_margin": GROSS_MARGIN,
    "acv_current": BLENDED_ACV,
    "acv_prior": BLENDED_ACV,
}

SEED_002_PAYBACK = "sales.cac / (per_month(sales.new_business) * ratio(sales.gross_margin))"
CORRECTED_PAYBACK = "finance.total_sm / (per_month(sales.new_business) * ratio(sales.gross_margin))"


def typed(formula: str) -> Quantity:
    return infer(parse(formula), ENV)


# --- parser ------------------------------------------------------------------------------


def test_multiplication_binds_tighter_than_addition():
    assert parse("a + b * c") == BinOp("+", Ref("a"), BinOp("*", Ref("b"), Ref("c")))


def test_operators_of_equal_precedence_associate_to_the_left():
    assert parse("a - b - c") == BinOp("-", BinOp("-", Ref("a"), Ref("b")), Ref("c"))
    assert parse("a / b / c") == BinOp("/", BinOp("/", Ref("a"), Ref("b")), Ref("c"))


def test_parentheses_unary_minus_decimals_and_dotted_names_parse():
    tree = parse("-(sales.arr + 1.5) * 2")

    assert tree == BinOp("*", Neg(BinOp("+", Ref("sales.arr"), Num(Decimal("1.5")))), Num(Decimal(2)))


def test_functions_parse_with_their_arguments():
    assert parse("max(a, per_month(b))") == Call(Func.MAX, (Ref("a"), Call(Func.PER_MONTH, (Ref("b"),))))


def test_referenced_names_lists_every_identifier_once():
    assert referenced_names(parse("percent((x - y) / y) + min(x, 3)")) == {"x", "y"}


@pytest.mark.parametrize(
    ("formula", "fragment"),
    [
        ("a +", "ends early"),
        ("(a + b", "expected )"),
        ("a b", "unexpected 'b' at position 2"),
        ("a % b", "unexpected character '%'"),
        ("sqrt(a)", "unknown function 'sqrt'"),
        ("min(a)", "min() takes 2 argument(s), got 1"),
        ("per_month(a, b)", "per_month() takes 1 argument(s), got 2"),
        (")", "expected an operand"),
        ("__import__('os')", "unexpected character '_'"),
    ],
)
def test_malformed_formulas_are_rejected_with_a_reason(formula, fragment):
    with pytest.raises(ExpressionError) as caught:
        parse(formula)
    assert fragment in str(caught.value)


# --- evaluator ---------------------------------------------------------------------------


def test_the_corrected_cac_payback_evaluates_to_eight_months():
    values = {
        "finance.total_sm": Decimal(600000),
        "sales.new_business": Decimal(1200000),
        "sales.gross_margin": Decimal(75),
    }
    # 1,200,000 ÷ 12 = 100,000 new ARR per month; × 0.75 margin = 75,000; 600,000 ÷ 75,000 = 8.
    assert evaluate(parse(CORRECTED_PAYBACK), values) == Decimal(8)


def test_evaluation_is_exact_decimal_arithmetic():
    # 0.1 + 0.2 is exactly 0.3 in decimal, where binary floating point gives 0.30000000000000004.
    assert evaluate(parse("a + b"), {"a": Decimal("0.1"), "b": Decimal("0.2")}) == Decimal("0.3")


def test_acv_trend_is_the_percent_change_of_blended_acv():
    values = {"acv_current": Decimal(63000), "acv_prior": Decimal(60000)}
    # (63,000 − 60,000) ÷ 60,000 = 0.05 → 5 percent.
    assert evaluate(parse("percent((acv_current - acv_prior) / acv_prior)"), values) == Decimal(5)


def test_functions_and_unary_minus_evaluate():
    values = {"a": Decimal(24), "b": Decimal(5)}
    # per_month(24) = 2; per_year(2) = 24; ratio(5) = 0.05; min(24, 5) = 5; max = 24; -(5) = -5.
    assert evaluate(parse("per_month(a)"), values) == Decimal(2)
    assert evaluate(parse("per_year(per_month(a))"), values) == Decimal(24)
    assert evaluate(parse("ratio(b)"), values) == Decimal("0.05")
    assert evaluate(parse("min(a, b) + max(a, b)"), values) == Decimal(29)
    assert evaluate(parse("-b"), values) == Decimal(-5)


def test_division_by_zero_is_an_undefined_result_naming_the_denominator():
    with pytest.raises(UndefinedResult, match=r"sales\.new_customers_added"):
        evaluate(
            parse("sales.new_business / sales.new_customers_added"),
            {
                "sales.new_business": Decimal(100000),
                "sales.new_customers_added": Decimal(0),
            },
        )


# --- type checker ------------------------------------------------------------------------


def test_the_seed_002_cac_payback_formula_is_rejected_as_a_grain_mismatch():
    # Per-new-customer CAC ÷ company-total monthly new ARR mixes an average with a total.
    with pytest.raises(ExpressionError, match="grain mismatch") as caught:
        typed(SEED_002_PAYBACK)
    assert "an amount per new customer" in str(caught.value)


def test_the_corrected_cac_payback_formula_types_to_months():
    result = typed(CORRECTED_PAYBACK)

    # currency ÷ (currency per month × ratio) = months; a total over a total is a company-level rate.
    assert result.unit is Unit.MONTHS
    assert result.extent is Extent.INTENSIVE


def test_currency_total_over_a_customer_count_is_an_average_per_customer():
    result = typed("sales.arr / customers.total_customers")

    assert (result.unit, result.extent) == (Unit.CURRENCY, Extent.PER_ENTITY)
    assert (result.level, result.population) == (GrainLevel.ACCOUNT, Population.ALL_ACTIVE)


def test_new_logo_arr_averaged_over_all_active_customers_is_a_population_mismatch():
    with pytest.raises(ExpressionError, match="population mismatch"):
        typed("sales.new_business / customers.total_customers")


def test_currency_over_currency_is_a_dimensionless_rate():
    result = typed("sales.new_business / sales.arr")

    assert (result.unit, result.extent) == (Unit.RATIO, Extent.INTENSIVE)


def test_percent_change_of_two_averages_of_the_same_entity_is_a_percent_rate():
    result = typed("percent((acv_current - acv_prior) / acv_prior)")

    assert (result.unit, result.extent) == (Unit.PERCENT, Extent.INTENSIVE)


def test_a_percent_must_become_a_ratio_before_it_scales_money():
    with pytest.raises(ExpressionError, match="cannot multiply percent by currency"):
        typed("sales.gross_margin * sales.arr")


def test_adding_an_average_to_a_total_is_a_grain_mismatch():
    with pytest.raises(ExpressionError, match="grain mismatch"):
        typed("sales.cac + finance.total_sm")


def test_adding_averages_of_different_entities_is_a_grain_mismatch():
    with pytest.raises(ExpressionError, match="describe different entities"):
        typed("sales.cac + acv_current")


def test_adding_a_count_to_money_is_rejected():
    with pytest.raises(ExpressionError, match="cannot add"):
        typed("sales.arr + customers.total_customers")


def test_multiplying_an_average_by_a_total_is_a_grain_mismatch():
    # The units would multiply (currency per month × months = currency); the grains do not.
    env = {
        "mrr_per_account": Quantity(
            Unit.CURRENCY_PER_MONTH, Extent.PER_ENTITY, GrainLevel.ACCOUNT, Population.ALL_ACTIVE
        ),
        "months_total": Quantity(Unit.MONTHS, Extent.TOTAL, GrainLevel.COMPANY, Population.WHOLE_COMPANY),
    }
    with pytest.raises(ExpressionError, match="grain mismatch"):
        infer(parse("mrr_per_account * months_total"), env)


@pytest.mark.parametrize(
    ("formula", "fragment"),
    [
        ("per_month(sales.new_customers_added)", "per_month() takes an annual currency amount"),
        ("per_year(sales.arr)", "per_year() takes a monthly currency amount"),
        ("percent(sales.arr)", "percent() takes a ratio"),
        ("ratio(sales.arr)", "ratio() takes a percent"),
        ("sales.new_customers_added / sales.arr", "cannot divide count by currency"),
        ("sales.arr / unknown_input", "not a declared input"),
    ],
)
def test_functions_and_operators_reject_the_wrong_units(formula, fragment):
    with pytest.raises(ExpressionError) as caught:
        typed(formula)
    assert fragment in str(caught.value)


def test_a_literal_scales_without_changing_unit_or_grain():
    result = typed("sales.arr * 2")

    assert (result.unit, result.extent, result.population) == (Unit.CURRENCY, Extent.TOTAL, Population.ALL_ACTIVE)
