"""The ledger format as a document a model can read (resource kpi://ledger-format).

Built from the validator's own vocabularies and the option table, so what a model is told is
what the engine enforces.
"""

from __future__ import annotations

from typing import Any

from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS, OptionKey
from kpi_context.tools.ledger.source import MAX_INLINE_ROWS, REQUIRED_COLUMNS
from kpi_context.tools.ledger.validate import (
    AMOUNT_DECIMALS,
    AMOUNT_INTEGER_DIGITS,
    AMOUNT_PERIODS,
    AMOUNT_TRAILING_ZEROS,
    CHANGE_TYPES,
    CHARGE_TYPES,
    FIRST_YEAR,
    LAST_YEAR,
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
    "line_id": "optional id of the line",
    "product": "optional product name",
    "charge_type": " · ".join(CHARGE_TYPES),
    "amount": f"decimal net of discounts: {_AMOUNT}; negative only on contraction or cancellation rows, "
    "and there it must be",
    "amount_period": " · ".join(AMOUNT_PERIODS) + " ('term' = the whole line period)",
    "list_amount": "optional undiscounted amount (used with basis discounts=list); same rule as amount, "
    "never the opposite sign",
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
        ],
        "kpis": {kpi: [key.value for key in OptionKey if key in spec.keys] for kpi, spec in LEDGER_KPI_OPTIONS.items()},
    }
