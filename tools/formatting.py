"""Rounding and human formatting of values: the governed label an LLM quotes verbatim."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from kpi_context.ontology.binding import Unit
from kpi_context.tools.errors import ErrorCode, KpiError

# Results are exact until this final step; the quantum is part of the documented contract.
_QUANTUM: dict[Unit, Decimal] = {
    Unit.CURRENCY: Decimal("0.01"),
    Unit.CURRENCY_PER_MONTH: Decimal("0.01"),
    Unit.PERCENT: Decimal("0.01"),
    Unit.RATIO: Decimal("0.01"),
    Unit.MONTHS: Decimal("0.01"),
    Unit.DAYS: Decimal("0.01"),
    Unit.SCORE: Decimal("0.01"),
    Unit.COUNT: Decimal("0.01"),
}

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}


MAX_INTEGER_DIGITS = 32
"""Integer digits a bound value may have: a ledger amount's DECIMAL(38,6) holds 32, a caller's number 30."""


def quantize(value: Decimal, unit: Unit, *, field: str = "inputs") -> Decimal:
    """Round half-even to the unit's quantum; whole numbers stay whole (12 not 12.00).

    A value with more than MAX_INTEGER_DIGITS integer digits (a ratio over a near-zero input, say)
    is refused with `out_of_range`, naming `field`: it cannot be rounded exactly, and no KPI is that large.
    """
    quantum = _QUANTUM.get(unit)
    if quantum is None:
        return value
    if not value.is_finite() or (not value.is_zero() and value.adjusted() >= MAX_INTEGER_DIGITS):
        raise KpiError(
            ErrorCode.OUT_OF_RANGE,
            f"the result ({_magnitude(value)}) has more than {MAX_INTEGER_DIGITS} integer digits; "
            "check the inputs for a near-zero divisor or a misplaced scale",
            field=field,
            details={"max_integer_digits": MAX_INTEGER_DIGITS},
        )
    with localcontext() as context:
        # Room for every integer digit plus the quantum's places: the default 28 digits would trap.
        context.prec = MAX_INTEGER_DIGITS + 8
        rounded = value.quantize(quantum, rounding=ROUND_HALF_EVEN)
        if rounded.is_zero():
            return Decimal(0)  # a tiny negative amount must not read as "-0"
        if rounded == rounded.to_integral_value():
            return rounded.quantize(Decimal(1))
        return rounded


def _magnitude(value: Decimal) -> str:
    """'about 1E+349' for a huge value; never the digits themselves (they may run to thousands)."""
    if not value.is_finite():
        return str(value)
    return f"about {'-' if value.is_signed() else ''}1E+{value.adjusted()}"


def rounding_rule(unit: Unit, currency: str | None) -> str | None:
    """The rule `quantize` applies, in words bound to the value: 'half-even to 0.01 USD'."""
    quantum = _QUANTUM.get(unit)
    if quantum is None:
        return None
    what = {Unit.PERCENT: " percentage points", Unit.RATIO: "", Unit.MONTHS: " months", Unit.DAYS: " days"}
    suffix = f" {currency}" if currency and unit in (Unit.CURRENCY, Unit.CURRENCY_PER_MONTH) else what.get(unit, "")
    return f"exact, then half-even to {quantum}{suffix}"


def format_value(value: Decimal | None, unit: Unit, currency: str | None) -> str:
    if value is None:
        return "undefined"
    number = _group(value)
    match unit:
        case Unit.CURRENCY | Unit.CURRENCY_PER_MONTH:
            symbol = _SYMBOLS.get(currency or "")
            text = f"{symbol}{number}" if symbol else f"{currency} {number}"
            if value < 0 and symbol:
                text = f"-{symbol}{_group(-value)}"
            return text + ("/month" if unit is Unit.CURRENCY_PER_MONTH else "")
        case Unit.PERCENT:
            return f"{number}%"
        case Unit.RATIO:
            return f"{number}x"
        case Unit.MONTHS:
            return f"{number} months"
        case Unit.DAYS:
            return f"{number} days"
        case Unit.COUNT | Unit.SCORE | Unit.DATE | Unit.TEXT:
            return number


def _group(value: Decimal) -> str:
    return f"{value:,f}"
