"""The kpi://ledger-format document states the validator's own column rules."""

from __future__ import annotations

from kpi_context.tools.ledger.format import ledger_format
from kpi_context.tools.ledger.source import REQUIRED_COLUMNS


def test_every_date_column_states_the_iso_shape_and_the_years():
    columns = ledger_format()["columns"]
    for column in ("start_date", "end_date", "signed_date", "go_live_date"):
        assert "YYYY-MM-DD" in columns[column] and "year 1900–2199" in columns[column]


def test_the_amount_states_its_digits_its_decimals_and_what_it_refuses():
    amount = ledger_format()["columns"]["amount"]
    # 24 integer digits; 6 significant decimals plus 12 trailing zeros = 18 digits after the point.
    assert "1–24 ASCII digits" in amount and "1–18 digits" in amount and "first 6" in amount
    for refused in ("'+'", "thousands separator", "exponent", "Infinity", "NaN", "hex"):
        assert refused in amount


def test_the_currency_is_three_capitals_and_every_required_column_is_described():
    layout = ledger_format()
    assert "three capitals A–Z" in layout["columns"]["currency"]
    assert set(REQUIRED_COLUMNS) <= set(layout["columns"])
    assert any("same rules in every format" in rule for rule in layout["rules"])
