"""Rule `no_cycles`: computed KPIs must not depend on themselves through their inputs."""

from __future__ import annotations

ARR = "kpis/sales/arr.json"
PAYBACK = "kpis/sales/cac_payback_period.json"
MARGIN = "kpis/sales/gross_margin.json"


def test_chains_of_computed_kpis_without_a_loop_pass(fixture_catalog):
    # acv_trend_pct → blended ACV → ARR and total customers: three levels deep, no loop.
    assert fixture_catalog.check().findings("no_cycles") == set()


def test_a_kpi_computed_from_its_own_prior_period_value_is_a_cycle(fixture_catalog):
    def roll_forward(document):
        document["production"] = "computed"
        document["expression"] = {
            "formula": "arr_prior + sales.new_business",
            "inputs": [
                {"name": "arr_prior", "kpi": "sales.arr", "period": "prior_period"},
                {"name": "sales.new_business", "kpi": "sales.new_business"},
            ],
        }

    fixture_catalog.edit(ARR, roll_forward)

    issue = fixture_catalog.check().only("no_cycles")

    assert (issue.file, issue.pointer) == (ARR, "/expression/inputs/0/kpi")
    assert "sales.arr → sales.arr" in issue.message


def test_two_computed_kpis_reading_each_other_are_reported_once_at_the_first_id(fixture_catalog):
    def from_payback(document):
        document["production"] = "computed"
        document["expression"] = {
            "formula": "percent(payback_now / payback_prior)",
            "inputs": [
                {"name": "payback_now", "kpi": "sales.cac_payback_period"},
                {"name": "payback_prior", "kpi": "sales.cac_payback_period", "period": "prior_period"},
            ],
        }

    fixture_catalog.edit(MARGIN, from_payback)

    outcome = fixture_catalog.check()

    # The smaller id of the loop, sales.cac_payback_period, anchors the report; its edge to
    # sales.gross_margin is the third input of its formula (index 2).
    issue = outcome.only("no_cycles")
    assert (issue.file, issue.pointer) == (PAYBACK, "/expression/inputs/2/kpi")
    assert "sales.cac_payback_period → sales.gross_margin → sales.cac_payback_period" in issue.message
    assert outcome.findings("expression_types") == set()
