"""The kpi://ledger-format document states the validator's own column rules."""

from __future__ import annotations

from kpi_context.ontology.ledger_options import VOCABULARY, OptionKey
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


def test_every_basis_option_is_listed_with_its_values_and_what_it_decides():
    options = ledger_format()["options"]
    assert set(options) == {key.value for key in OptionKey}
    for key in OptionKey:
        assert options[key.value]["values"] == [value.value for value in VOCABULARY[key]]
        assert options[key.value]["rule"]
    assert "permanent_only" in options["discounts"]["values"]
    assert "exit_rate" in options["annualization"]["values"]


def test_the_discount_duration_column_states_its_values_and_that_it_needs_a_list_amount():
    duration = ledger_format()["columns"]["discount_duration"]
    assert "finite · permanent" in duration and "list_amount" in duration and "blank: permanent" in duration
