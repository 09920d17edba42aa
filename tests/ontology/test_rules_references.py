"""Rule `references_resolve`: every KPI id a definition mentions names a definition in the catalog."""

from __future__ import annotations

from kpi_context.ontology.issues import Severity

ARR = "kpis/sales/arr.json"
ACV = "kpis/sales/avg_contract_value.json"
BLENDED = "kpis/customers/avg_contract_value.json"


def test_the_clean_fixture_catalog_has_no_unresolved_references(fixture_catalog):
    assert fixture_catalog.check().findings("references_resolve") == set()


def test_an_unknown_related_kpi_id_is_reported_at_its_list_position(fixture_catalog):
    fixture_catalog.edit(ARR, lambda d: d["related_kpi_ids"].append("sales.arr_forecast"))

    outcome = fixture_catalog.check()

    # The fixture lists one related id, so the appended one sits at index 1.
    issue = outcome.only("references_resolve")
    assert (issue.file, issue.pointer) == (ARR, "/related_kpi_ids/1")
    assert "sales.arr_forecast" in issue.message


def test_an_unknown_must_pair_with_id_is_reported(fixture_catalog):
    fixture_catalog.edit(ACV, lambda d: d.update(must_pair_with=["customers.avg_contract_value", "sales.win_rate"]))

    assert fixture_catalog.check().findings("references_resolve") == {(ACV, "/must_pair_with/1")}


def test_an_expression_input_naming_an_unknown_kpi_is_reported_at_its_kpi_field(fixture_catalog):
    def rename(document):
        document["variants"][0]["expression"]["inputs"][1]["kpi"] = "sales.new_logo_count"

    fixture_catalog.edit(ACV, rename)

    outcome = fixture_catalog.check()

    assert outcome.findings("references_resolve") == {(ACV, "/variants/0/expression/inputs/1/kpi")}
    assert outcome.report.catalog is None


def test_an_unknown_expression_input_is_reported_once_not_also_as_a_type_error(fixture_catalog):
    fixture_catalog.edit(BLENDED, lambda d: d["expression"]["inputs"][1].update(kpi="customers.active_logos"))

    outcome = fixture_catalog.check()

    assert outcome.rules() == {"references_resolve"}, outcome.rendered()


def test_listing_a_kpi_as_related_to_itself_is_only_a_warning(fixture_catalog):
    fixture_catalog.edit(ARR, lambda d: d["related_kpi_ids"].append("sales.arr"))

    outcome = fixture_catalog.check()

    assert outcome.findings("references_resolve", Severity.WARNING) == {(ARR, "/related_kpi_ids/1")}
    assert outcome.report.catalog is not None
    assert len(outcome.report.catalog.warnings) == 1


def test_a_reference_to_a_file_that_failed_an_earlier_stage_is_not_reported_again(fixture_catalog):
    # customers.total_customers is referenced by the blended ACV's expression; break its file structurally.
    fixture_catalog.edit("kpis/customers/total_customers.json", lambda d: d.update(field_type="money"))

    outcome = fixture_catalog.check()

    assert outcome.findings("schema") == {("kpis/customers/total_customers.json", "/field_type")}
    assert outcome.findings("references_resolve") == set()
