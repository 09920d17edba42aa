"""Rule `polarity_and_range`: numeric KPIs say which way is good and where true values lie."""

from __future__ import annotations

import pytest

RULE = "polarity_and_range"

ARR = "kpis/sales/arr.json"
MARGIN = "kpis/sales/gross_margin.json"
CUSTOMERS = "kpis/customers/total_customers.json"
PAYBACK = "kpis/sales/cac_payback_period.json"
ACV = "kpis/sales/avg_contract_value.json"
RISKS = "kpis/customers/churn_risks.json"

MARGIN_INPUT = 2
"""Index of the sales.gross_margin input in the fixture's CAC payback formula."""


def _raw_margin_input(document, plausible_range=None):
    """Replace CAC payback's gross-margin KPI input with a raw percent figure of the same binding."""
    margin_binding = {
        "value_basis": "ratio_of_bases",
        "grain": {"level": "company", "aggregation": "rate", "population": "whole_company"},
        "recurring_inclusion": "not_applicable",
        "annualization": "not_applicable",
        "time_basis": {"kind": "period_flow"},
        "date_basis": "period_close",
        "unit": "percent",
        "currency_required": False,
    }
    raw = {"name": "margin", "binding": margin_binding, "description": "Gross margin of the period, in percent."}
    if plausible_range is not None:
        raw["plausible_range"] = plausible_range
    document["expression"]["formula"] = "finance.total_sm / (per_month(sales.new_business) * ratio(margin))"
    document["expression"]["inputs"][MARGIN_INPUT] = raw


def test_the_clean_fixture_catalog_declares_polarity_and_range_where_it_must(fixture_catalog):
    outcome = fixture_catalog.check()

    assert outcome.findings(RULE) == set(), outcome.rendered()
    assert outcome.report.catalog is not None


# --- numeric KPIs must declare both ------------------------------------------------------


@pytest.mark.parametrize("path", [ARR, MARGIN, CUSTOMERS], ids=["currency", "percentage", "number"])
def test_a_numeric_kpi_without_polarity_is_rejected(fixture_catalog, path):
    fixture_catalog.edit(path, lambda d: d.pop("polarity"))

    outcome = fixture_catalog.check()

    assert outcome.findings(RULE) == {(path, "/polarity")}
    assert outcome.report.catalog is None


@pytest.mark.parametrize("path", [ARR, MARGIN, CUSTOMERS], ids=["currency", "percentage", "number"])
def test_a_numeric_kpi_without_a_plausible_range_is_rejected(fixture_catalog, path):
    fixture_catalog.edit(path, lambda d: d.pop("plausible_range"))

    assert fixture_catalog.check().findings(RULE) == {(path, "/plausible_range")}


def test_a_missing_polarity_is_explained_in_words(fixture_catalog):
    fixture_catalog.edit(PAYBACK, lambda d: d.update(polarity=None))

    issue = fixture_catalog.check().only(RULE)

    assert "number KPI must state its polarity" in issue.message


# --- text and date KPIs must declare neither -------------------------------------------


def test_a_text_kpi_declaring_polarity_and_range_is_rejected_at_both(fixture_catalog):
    def add_both(document):
        document["polarity"] = {"direction": "lower_is_better", "reason": "More risks are worse."}
        document["plausible_range"] = {"min": 0, "max": 10}

    fixture_catalog.edit(RISKS, add_both)

    assert fixture_catalog.check().findings(RULE) == {(RISKS, "/polarity"), (RISKS, "/plausible_range")}


# --- benchmark quartiles lie within the range --------------------------------------------


def test_a_quartile_below_the_range_is_rejected_at_that_quartile(fixture_catalog):
    # The fixture's quartiles are 65 / 75 / 80; a floor of 70 leaves only p25 outside.
    fixture_catalog.edit(MARGIN, lambda d: d["plausible_range"].update(min=70))

    issue = fixture_catalog.check().only(RULE)

    assert (issue.file, issue.pointer) == (MARGIN, "/benchmark/p25")
    assert "p25 65" in issue.message


def test_a_benchmark_on_the_ratio_scale_falls_outside_a_percent_range(fixture_catalog):
    # 0.65 / 0.75 / 0.80 is the scale slip the range exists to catch: every quartile is reported.
    fixture_catalog.edit(MARGIN, lambda d: d["benchmark"].update(p25=0.65, median=0.75, p75=0.8))

    assert fixture_catalog.check().findings(RULE) == {
        (MARGIN, "/benchmark/p25"),
        (MARGIN, "/benchmark/median"),
        (MARGIN, "/benchmark/p75"),
    }


def test_quartiles_on_the_limits_of_the_range_are_inside_it(fixture_catalog):
    fixture_catalog.edit(MARGIN, lambda d: d["plausible_range"].update(min=65, max=80))

    assert fixture_catalog.check().findings(RULE) == set()


def test_an_open_side_of_the_range_admits_any_quartile(fixture_catalog):
    fixture_catalog.edit(MARGIN, lambda d: d["plausible_range"].update(min=None, max=1))

    # Unbounded below, but 1 is still a ceiling: every quartile is above it.
    assert fixture_catalog.check().findings(RULE) == {
        (MARGIN, "/benchmark/p25"),
        (MARGIN, "/benchmark/median"),
        (MARGIN, "/benchmark/p75"),
    }

    fixture_catalog.edit(MARGIN, lambda d: d["plausible_range"].update(max=None))

    assert fixture_catalog.check().findings(RULE) == set()


# --- raw percent and ratio inputs declare a range ---------------------------------------


def test_a_raw_percent_input_without_a_range_is_rejected(fixture_catalog):
    fixture_catalog.edit(PAYBACK, _raw_margin_input)

    issue = fixture_catalog.check().only(RULE)

    assert (issue.file, issue.pointer) == (PAYBACK, f"/expression/inputs/{MARGIN_INPUT}/plausible_range")
    assert "raw percent input 'margin'" in issue.message


def test_a_raw_percent_input_with_a_range_is_accepted(fixture_catalog):
    fixture_catalog.edit(PAYBACK, lambda d: _raw_margin_input(d, {"min": 5, "max": 100}))

    outcome = fixture_catalog.check()

    assert outcome.findings(RULE) == set()
    assert outcome.report.catalog is not None


def test_a_raw_ratio_input_in_a_variant_formula_is_reported_at_the_variant(fixture_catalog):
    def ratio_input(document):
        document["variants"][0]["expression"]["inputs"][0]["binding"].update(unit="ratio", currency_required=False)

    fixture_catalog.edit(ACV, ratio_input)

    assert fixture_catalog.check().findings(RULE) == {(ACV, "/variants/0/expression/inputs/0/plausible_range")}


def test_a_raw_currency_input_needs_no_range(fixture_catalog):
    variant_input = fixture_catalog.read(ACV)["variants"][0]["expression"]["inputs"][0]
    assert variant_input["binding"]["unit"] == "currency"
    assert "plausible_range" not in variant_input

    assert fixture_catalog.check().findings(RULE) == set()


def test_an_input_that_reads_a_kpi_cannot_carry_a_range_of_its_own(fixture_catalog):
    def ranged_kpi_input(document):
        document["expression"]["inputs"][MARGIN_INPUT]["plausible_range"] = {"min": 0, "max": 100}

    fixture_catalog.edit(PAYBACK, ranged_kpi_input)

    issue = fixture_catalog.check().only(RULE)

    assert (issue.file, issue.pointer) == (PAYBACK, f"/expression/inputs/{MARGIN_INPUT}/plausible_range")
    assert "sales.gross_margin" in issue.message


def test_a_minimum_set_by_definition_needs_a_minimum(fixture_catalog):
    fixture_catalog.edit(MARGIN, lambda d: d["plausible_range"].update(min=None, min_by_definition=True))

    outcome = fixture_catalog.check()

    assert (MARGIN, "/plausible_range") in outcome.findings("model")


def test_a_minimum_set_by_definition_is_a_valid_part_of_a_range(fixture_catalog):
    fixture_catalog.edit(MARGIN, lambda d: d["plausible_range"].update(min_by_definition=True))

    assert fixture_catalog.check().rendered() == []
