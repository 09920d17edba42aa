"""Rules `inputs_carry_result_rules` and `inputs_cover_result_window`: one label, one number.

An input carries the recurring inclusion, annualization and counting date the result claims, and
is read for the period the result's time basis implies. The fixture's new-logo ACV divides
`sales.new_business` (go-live, contract year in force, a flow over the period) by
`sales.new_customers_added` (a count over the period, dated at the period's close).
"""

from __future__ import annotations

import pytest

CARRY = "inputs_carry_result_rules"
WINDOW = "inputs_cover_result_window"

ACV = "kpis/sales/avg_contract_value.json"
TREND = "kpis/customers/acv_trend_pct.json"

TRAILING_12 = {"kind": "trailing_window", "window_months": 12}


def _trailing(document, *roles):
    """Make the default binding trailing-12 and read the default formula's inputs in `roles`, in order."""
    document["binding"]["time_basis"] = TRAILING_12
    for item, role in zip(document["expression"]["inputs"], roles, strict=True):
        item["period"] = role


def test_the_clean_fixture_catalog_breaks_neither_rule(fixture_catalog):
    outcome = fixture_catalog.check()

    assert outcome.findings(CARRY) == set(), outcome.rendered()
    assert outcome.findings(WINDOW) == set(), outcome.rendered()
    assert outcome.report.catalog is not None


# --- inputs_carry_result_rules ---------------------------------------------------------


def test_a_go_live_input_under_a_signed_result_is_an_error(fixture_catalog):
    # The result claims "signed"; sales.new_business counts from go-live. The count input is dated at
    # the period's close, which is no counting date, so only the first input is wrong.
    fixture_catalog.edit(ACV, lambda d: d["binding"].update(date_basis="signed"))

    outcome = fixture_catalog.check()

    assert outcome.findings(CARRY) == {(ACV, "/expression/inputs/0")}
    assert "date_basis is go_live but the result claims signed" in outcome.only(CARRY).message
    assert outcome.report.catalog is None


def test_an_input_annualized_otherwise_than_the_result_is_an_error(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: d["binding"].update(annualization="tcv_over_term_years"))

    issue = fixture_catalog.check().only(CARRY)

    assert (issue.file, issue.pointer) == (ACV, "/expression/inputs/0")
    assert "annualization is current_contract_year but the result claims tcv_over_term_years" in issue.message


def test_a_variant_reusing_the_default_formula_is_judged_under_its_own_binding(fixture_catalog):
    def add_signed_variant(document):
        binding = {**document["binding"], "date_basis": "signed"}
        document["variants"].append(
            {"id": "signed", "label": "signed", "description": "Counted from signature.", "binding": binding}
        )

    fixture_catalog.edit(ACV, add_signed_variant)

    # Variant 1 (after first_year) has no formula of its own: the default one, with its go-live input.
    assert fixture_catalog.check().findings(CARRY) == {(ACV, "/variants/1/inputs/0")}


# --- inputs_cover_result_window ----------------------------------------------------------


def test_a_trailing_12_result_reading_flows_without_the_window_role_is_an_error(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: _trailing(d, "current", "current"))

    outcome = fixture_catalog.check()

    # Both inputs are flows over the period, read for the current period instead of the window.
    assert outcome.findings(WINDOW) == {(ACV, "/expression/inputs/0"), (ACV, "/expression/inputs/1")}
    assert all("must be read over the window" in i.message for i in outcome.report.issues if i.rule == WINDOW)
    assert outcome.report.catalog is None


def test_a_trailing_12_result_reading_its_flows_over_the_window_is_clean(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: _trailing(d, "window", "window"))

    outcome = fixture_catalog.check()

    assert outcome.findings(WINDOW) == set(), outcome.rendered()
    assert outcome.findings(CARRY) == set(), outcome.rendered()


def test_a_trailing_result_reading_one_flow_over_the_prior_period_is_an_error_at_that_input(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: _trailing(d, "window", "prior_period"))

    assert fixture_catalog.check().findings(WINDOW) == {(ACV, "/expression/inputs/1")}


@pytest.mark.parametrize("role", ["window", "window_open"])
def test_a_period_flow_result_with_a_window_role_is_an_error(fixture_catalog, role):
    fixture_catalog.edit(ACV, lambda d: d["expression"]["inputs"][0].update(period=role))

    issue = fixture_catalog.check().only(WINDOW)

    assert (issue.file, issue.pointer) == (ACV, "/expression/inputs/0")
    assert "a flow over the period has no trailing window to read" in issue.message


def test_a_balance_read_over_the_window_is_an_error(fixture_catalog):
    # The ACV trend reads blended ACV, a balance: at the window's close or open, never over it.
    fixture_catalog.edit(TREND, lambda d: _trailing(d, "current", "window"))

    issue = fixture_catalog.check().only(WINDOW)

    assert (issue.file, issue.pointer) == (TREND, "/expression/inputs/1")
    assert "not over it" in issue.message


def test_a_balance_at_the_windows_open_under_a_trailing_result_is_clean(fixture_catalog):
    fixture_catalog.edit(TREND, lambda d: _trailing(d, "current", "window_open"))

    assert fixture_catalog.check().findings(WINDOW) == set()
