"""The ledger format as a document a model can read (resource kpi://ledger-format).

Built from the validator's own vocabularies and the option table, so what a model is told is
what the engine enforces.
"""

from __future__ import annotations

from typing import Any

from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS, VOCABULARY, OptionKey
from kpi_context.tools.ledger.source import BUILTIN_DIMENSIONS, MAX_DIMENSIONS, MAX_INLINE_ROWS, REQUIRED_COLUMNS
from kpi_context.tools.ledger.validate import (
    AMOUNT_DECIMALS,
    AMOUNT_INTEGER_DIGITS,
    AMOUNT_PERIODS,
    AMOUNT_TRAILING_ZEROS,
    CHANGE_TYPES,
    CHARGE_TYPES,
    DIMENSION_LENGTH,
    DISCOUNT_DURATIONS,
    FIRST_YEAR,
    LAST_YEAR,
    UNASSIGNED,
)

_DATE = f"YYYY-MM-DD (ASCII digits, a real calendar day, year {FIRST_YEAR}–{LAST_YEAR})"
_AMOUNT = (
    f"optional '-', 1–{AMOUNT_INTEGER_DIGITS} ASCII digits, then optionally '.' and 1–"
    f"{AMOUNT_DECIMALS + AMOUNT_TRAILING_ZEROS} digits of which only the first {AMOUNT_DECIMALS} may be non-zero; "
    "no '+', thousands separator, exponent, Infinity, NaN or hex"
)

_COLUMNS: dict[str, str] = {
    "contract_id": "the contract the line belongs to (any non-blank text)",
    "account_id": "the customer account (any non-blank text)",
    "line_id": "optional id of the line (any text; breaks ties when an account is placed in a segment member)",
    "segment": "optional dimension: the account's size band, e.g. smb · mid_market · enterprise",
    "region": "optional dimension: the account's region, e.g. amer · emea · apac",
    "product": "optional dimension: the product of the line",
    "plan": "optional dimension: the plan or tier sold",
    "industry": "optional dimension: the account's industry",
    "charge_type": " · ".join(CHARGE_TYPES),
    "amount": f"decimal net of discounts: {_AMOUNT}; negative only on contraction or cancellation rows, "
    "and there it must be",
    "amount_period": " · ".join(AMOUNT_PERIODS) + " ('term' = the whole line period)",
    "list_amount": "optional undiscounted amount (used with basis discounts=list); same rule as amount, "
    "never the opposite sign",
    "discount_duration": "optional, with list_amount: "
    + " · ".join(DISCOUNT_DURATIONS)
    + " — whether the discount ends before the line does (used with basis discounts=permanent_only); blank: permanent",
    "start_date": f"{_DATE}, first service day (inclusive)",
    "end_date": f"{_DATE}, last service day (inclusive), not before start_date",
    "signed_date": _DATE,
    "go_live_date": f"optional {_DATE}; defaults to start_date",
    "currency": "ISO 4217: exactly three capitals A–Z; mixed currencies need fx_rates",
    "change_type": " · ".join(CHANGE_TYPES),
}


def ledger_format() -> dict[str, Any]:
    """Columns, required ones, row rules and the `basis` options each ledger KPI accepts."""
    return {
        "one_row_per": f"contract line (CSV, Parquet, JSON Lines, or inline rows ≤ {MAX_INLINE_ROWS:,})",
        "required": list(REQUIRED_COLUMNS),
        "columns": _COLUMNS,
        "rules": [
            "every column is read as text and judged by the same rules in every format",
            "a required column that is absent, null, empty or only spaces makes the row unusable",
            "spaces around a date or an amount are ignored; every other column must match exactly",
            "a one_time line has amount_period once; a recurring or usage_committed line never has",
            "a Parquet DATE reads as its ISO text; a TIMESTAMP reads with its time and is rejected",
            "in JSON an amount may be a number or a string; give more than 15 significant digits as a string",
            "the ledger has no count column: customer counts are derived from account_id",
            "a mid-contract change is its own row with its own dates (co-termed when it ends with the contract)",
            "a ramp is one row per step; a renewal is a new contract_id with change_type renewal",
            "every bad row is rejected with its row number and reasons; rows read = used + rejected",
            f"a dimension value has at most {DIMENSION_LENGTH} characters and no control character; a blank one "
            f"reads as the member '{UNASSIGNED}'",
        ],
        "dimensions": _DIMENSIONS,
        "kpis": {kpi: [key.value for key in OptionKey if key in spec.keys] for kpi, spec in LEDGER_KPI_OPTIONS.items()},
        "options": {
            key.value: {"values": [v.value for v in VOCABULARY[key]], "rule": option_rule(key)} for key in OptionKey
        },
    }


def option_rule(key: OptionKey) -> str:
    """What the `basis` key decides, in a line; its values and defaults are in the README's option table."""
    match key:
        case OptionKey.RECURRING_INCLUSION:
            return "which charge types count (one_time includes services lines)"
        case OptionKey.ANNUALIZATION:
            return "how a contract's lines become a yearly amount; ACV KPIs take tcv_over_term_years or first_contract_year"
        case OptionKey.SHORT_TERMS:
            return "a term shorter than a year annualized up, or counted at face value (one-year minimum)"
        case OptionKey.DAY_COUNT:
            return (
                "how partial periods are measured: 30/360, actual/365, actual/actual, actual/365 without 29 February, "
                "or actual days over the valuation day's year"
            )
        case OptionKey.DISCOUNTS:
            return "net amounts, list amounts, or list where discount_duration is finite and net otherwise"
        case OptionKey.LIVE_BASIS:
            return "a line counts from go-live, or new value from signature (CARR)"
        case OptionKey.CO_TERM:
            return "a co-termed change at its revenue to the contract's end, or at its yearly run rate"
        case OptionKey.CHURN_TIMING:
            return "a cancellation removes value when the paid lines end, or on its own start date"
        case OptionKey.GRR_CAP:
            return "gross retention capped per customer, or on the total"
        case OptionKey.FULL_DISCOUNT:
            return "a line discounted to zero (amount 0, list_amount > 0): the customer churned, or contracted to zero"
        case OptionKey.REACTIVATION:
            return "a returning customer's value: its own bridge movement, or part of expansion"
        case OptionKey.SAME_PERIOD_CHURN:
            return "a customer live within the period but at neither end: in no movement, or in new and in churn"
        case OptionKey.MOVEMENT_TIMING:
            return "bridge movements from the open and close values, or from each day's change (implies the two above)"
        case OptionKey.RENEWAL_UPLIFT:
            return "CARR: a renewal signed ahead adds its increase over the lines it renews from its start, or its signature"
        case OptionKey.NEW_CUSTOMER_EXPANSION:
            return "a new customer's change within its first period: part of new business, or expansion/contraction"


_DIMENSIONS: dict[str, Any] = {
    "built_in": list(BUILTIN_DIMENSIONS),
    "declared": f"up to {MAX_DIMENSIONS} more: named by the operator (--dimension NAME) for datasets, or in an "
    "inline ledger as {'rows': [...], 'dimensions': ['team']}; a name is lower-case ASCII letters, digits and '_', "
    "starting with a letter",
    "value": f"optional text of at most {DIMENSION_LENGTH} characters with no control character; anything else "
    f"rejects the row. Missing, null, empty or only spaces: the member '{UNASSIGNED}'",
    "use": "group_by a dimension (the total and one value per member) or where {dimension: member} (one member)",
    "assignment": "an account is in one member at a date: the value on its line in force that day (start_date ≤ "
    "day ≤ end_date, any charge type) with the latest start_date, ties to the highest line_id, then the later row; "
    "with no line in force, its latest line starting on or before the day; with none, its earliest line",
    "assignment_date": "point-in-time and flow KPIs place accounts at the period close (the value's as-of date; "
    "each end of a growth or trend at its own date); NRR, GRR, logo churn and the dollar churn, expansion and "
    "contraction rates at the window's open, so the cohort is fixed",
}
