"""Rounding to each unit's quantum and the human rendering used in governed labels."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kpi_context.ontology.binding import Unit
from kpi_context.tools.errors import ErrorCode, KpiError
from kpi_context.tools.formatting import format_value, quantize, rounding_rule


@pytest.mark.parametrize(
    ("raw", "unit", "rounded"),
    [
        # Money to the cent, half to even: 0.005 goes down to the even 0, 0.015 up to the even 2.
        ("62000.005", Unit.CURRENCY, "62000"),
        ("62000.015", Unit.CURRENCY, "62000.02"),
        ("1234.5", Unit.CURRENCY, "1234.50"),
        ("250000.125", Unit.CURRENCY_PER_MONTH, "250000.12"),
        # Percent to two places, half to even.
        ("24.125", Unit.PERCENT, "24.12"),
        ("24.135", Unit.PERCENT, "24.14"),
        # Ratios to two places (quantum 0.01): 0.123456 → 0.12; 0.125 → the even 0.12, 0.135 → the even 0.14.
        ("0.123456", Unit.RATIO, "0.12"),
        ("0.125", Unit.RATIO, "0.12"),
        ("0.135", Unit.RATIO, "0.14"),
        ("0.75", Unit.RATIO, "0.75"),
        ("1.5", Unit.RATIO, "1.50"),
        ("2.0000", Unit.RATIO, "2"),
        # 600,000 ÷ 75,000 = 8 exactly: whole numbers stay whole.
        ("8.000000", Unit.MONTHS, "8"),
        ("12.00", Unit.DAYS, "12"),
        ("45.678", Unit.DAYS, "45.68"),
        ("41.5", Unit.SCORE, "41.50"),
        ("20", Unit.COUNT, "20"),
    ],
)
def test_values_are_rounded_half_even_to_the_quantum_of_their_unit(raw: str, unit: Unit, rounded: str) -> None:
    result = quantize(Decimal(raw), unit)
    # Compare the text too: 12 and 12.00 are equal numbers but not the same contract.
    assert str(result) == rounded


def test_a_whole_result_is_shown_without_decimals() -> None:
    assert str(quantize(Decimal("1E+3"), Unit.CURRENCY)) == "1000"


@pytest.mark.parametrize("unit", [Unit.DATE, Unit.TEXT])
def test_units_without_a_quantum_are_left_exactly_as_they_are(unit: Unit) -> None:
    assert str(quantize(Decimal("3.14159"), unit)) == "3.14159"


@pytest.mark.parametrize(
    ("value", "unit", "currency", "text"),
    [
        ("62000", Unit.CURRENCY, "USD", "$62,000"),
        ("1000", Unit.CURRENCY, "EUR", "€1,000"),
        ("1234.50", Unit.CURRENCY, "GBP", "£1,234.50"),
        ("1200000", Unit.CURRENCY, "JPY", "¥1,200,000"),
        # A currency without a symbol is written as its ISO code.
        ("1234.50", Unit.CURRENCY, "CHF", "CHF 1,234.50"),
        # A negative amount puts the minus before the symbol, not between symbol and digits.
        ("-1234.50", Unit.CURRENCY, "USD", "-$1,234.50"),
        ("-1234.50", Unit.CURRENCY, "CHF", "CHF -1,234.50"),
        ("250000", Unit.CURRENCY_PER_MONTH, "USD", "$250,000/month"),
        ("-50000", Unit.CURRENCY_PER_MONTH, "EUR", "-€50,000/month"),
        ("24", Unit.PERCENT, None, "24%"),
        ("101.5", Unit.PERCENT, None, "101.5%"),
        ("0.75", Unit.RATIO, None, "0.75x"),
        ("8", Unit.MONTHS, None, "8 months"),
        ("45.5", Unit.DAYS, None, "45.5 days"),
        ("1234", Unit.COUNT, None, "1,234"),
        ("41", Unit.SCORE, None, "41"),
    ],
)
def test_values_are_rendered_with_their_unit_and_thousands_separators(
    value: str, unit: Unit, currency: str | None, text: str
) -> None:
    assert format_value(Decimal(value), unit, currency) == text


def test_an_undefined_value_is_rendered_as_the_word_undefined() -> None:
    assert format_value(None, Unit.CURRENCY, "USD") == "undefined"


def test_a_tiny_negative_amount_that_rounds_to_zero_is_shown_as_zero() -> None:
    # -0.001 dollars rounds to 0.00 at the cent quantum: there is no minus left to show.
    rounded = quantize(Decimal("-0.001"), Unit.CURRENCY)
    assert str(rounded) == "0"
    assert format_value(rounded, Unit.CURRENCY, "USD") == "$0"


@pytest.mark.parametrize(
    ("unit", "currency", "rule"),
    [
        # The rule states what `quantize` does: exact arithmetic, one rounding, half-even, to the unit's quantum.
        (Unit.CURRENCY, "USD", "exact, then half-even to 0.01 USD"),
        (Unit.CURRENCY_PER_MONTH, "EUR", "exact, then half-even to 0.01 EUR"),
        (Unit.PERCENT, None, "exact, then half-even to 0.01 percentage points"),
        (Unit.RATIO, None, "exact, then half-even to 0.01"),
        (Unit.MONTHS, None, "exact, then half-even to 0.01 months"),
        (Unit.DAYS, None, "exact, then half-even to 0.01 days"),
        (Unit.COUNT, None, "exact, then half-even to 0.01"),
        (Unit.SCORE, None, "exact, then half-even to 0.01"),
    ],
)
def test_the_rounding_rule_is_stated_in_words_with_its_quantum(unit: Unit, currency: str | None, rule: str) -> None:
    assert rounding_rule(unit, currency) == rule


def test_a_currency_is_named_in_the_rule_only_for_money() -> None:
    assert rounding_rule(Unit.PERCENT, "USD") == "exact, then half-even to 0.01 percentage points"


@pytest.mark.parametrize("unit", [Unit.DATE, Unit.TEXT])
def test_units_that_are_not_rounded_have_no_rounding_rule(unit: Unit) -> None:
    assert rounding_rule(unit, None) is None


# --- values too large to round exactly ---------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "unit", "rounded"),
    [
        # 31 integer digits and two places: 33 digits, more than the default context's 28, rounded exactly.
        ("1234567890123456789012345678901.125", Unit.CURRENCY, "1234567890123456789012345678901.12"),
        # 32 integer digits (the largest a ledger sum holds): 10^32 − 1 stays whole.
        ("99999999999999999999999999999999", Unit.CURRENCY, "99999999999999999999999999999999"),
        ("-12345678901234567890123456789.5", Unit.PERCENT, "-12345678901234567890123456789.50"),
    ],
)
def test_values_with_more_digits_than_the_default_context_are_still_rounded_exactly(
    raw: str, unit: Unit, rounded: str
) -> None:
    assert str(quantize(Decimal(raw), unit)) == rounded


@pytest.mark.parametrize("raw", ["1E+32", "-123456789012345678901234567890123", "1E+349", "Infinity", "NaN"])
def test_a_value_beyond_32_integer_digits_is_refused_as_out_of_range_not_a_crash(raw: str) -> None:
    with pytest.raises(KpiError) as info:
        quantize(Decimal(raw), Unit.CURRENCY, field="inputs")
    assert (info.value.code, info.value.detail.field) == (ErrorCode.OUT_OF_RANGE, "inputs")
    # The message gives the magnitude, never thousands of digits.
    assert len(info.value.detail.message) < 200


def test_a_tiny_value_rounds_to_zero_without_trapping() -> None:
    # 1E-320 to the cent is 0.00, shown as a plain 0.
    assert str(quantize(Decimal("1E-320"), Unit.CURRENCY)) == "0"
