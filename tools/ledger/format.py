"""The ledger format as a document a model can read (resource kpi://ledger-format).

Built from the validator's own vocabularies and the option table, so what a model is told is
what the engine enforces.
"""

from __future__ import annotations

from typing import Any

from kpi_context.ontology.ledger_options import LEDGER_KPI_OPTIONS, OptionKey
from kpi_context.tools.ledger.source import REQUIRED_COLUMNS
from kpi_context.tools.ledger.validate import AMOUNT_PERIODS, CHANGE_TYPES, CHARGE_TYPES

_COLUMNS: dict[str, str] = {
    "contract_id": "the contract the line belongs to",
    "account_id": "the customer account",
    "line_id": "optional id of the line",
    "product": "optional product name",
    "charge_type": " · ".join(CHARGE_TYPES),
    "amount": "decimal, net of discounts, ASCII digits and one optional '.', no '+' or separators; "
    "negative only on contraction or cancellation rows",
    "amount_period": " · ".join(AMOUNT_PERIODS) + " ('term' = the whole line period)",
    "list_amount": "optional undiscounted amount (used with basis discounts=list)",
    "start_date": "YYYY-MM-DD, first service day (inclusive)",
    "end_date": "YYYY-MM-DD, last service day (inclusive)",
    "signed_date": "YYYY-MM-DD",
    "go_live_date": "optional YYYY-MM-DD; defaults to start_date",
    "currency": "ISO 4217; mixed currencies need fx_rates",
    "change_type": " · ".join(CHANGE_TYPES),
}


def ledger_format() -> dict[str, Any]:
    """Columns, required ones, row rules and the `basis` options each ledger KPI accepts."""
    return {
        "one_row_per": "contract line (CSV, Parquet, JSON Lines, or inline rows ≤ 10,000)",
        "required": list(REQUIRED_COLUMNS),
        "columns": _COLUMNS,
        "rules": [
            "a mid-contract change is its own row with its own dates (co-termed when it ends with the contract)",
            "a ramp is one row per step; a renewal is a new contract_id with change_type renewal",
            "every bad row is rejected with its row number and reason; rows read = used + rejected",
        ],
        "kpis": {kpi: [key.value for key in OptionKey if key in spec.keys] for kpi, spec in LEDGER_KPI_OPTIONS.items()},
    }
