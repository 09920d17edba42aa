"""Rules `unique_ids` and `id_matches_path`: each id is defined once, in the file its id names."""

from __future__ import annotations

from kpi_context.ontology.rules.identity import expected_path

ARR = "kpis/sales/arr.json"


def test_the_clean_fixture_catalog_has_no_identity_findings(fixture_catalog):
    outcome = fixture_catalog.check()

    assert outcome.findings("unique_ids") == set()
    assert outcome.findings("id_matches_path") == set()
    assert outcome.report.catalog is not None


def test_an_id_defined_in_two_files_is_reported_at_the_second_file(fixture_catalog):
    fixture_catalog.write("kpis/sales/arr_copy.json", fixture_catalog.read(ARR))

    outcome = fixture_catalog.check()

    # Files are read in path order and "arr.json" sorts before "arr_copy.json", so the copy is the repeat.
    issue = outcome.only("unique_ids")
    assert (issue.file, issue.pointer) == ("kpis/sales/arr_copy.json", "/id")
    assert "already defined in kpis/sales/arr.json" in issue.message
    assert outcome.report.catalog is None


def test_a_definition_stored_under_the_wrong_path_is_rejected_at_its_id(fixture_catalog):
    document = fixture_catalog.read("kpis/sales/cac.json")
    (fixture_catalog.root / "kpis/sales/cac.json").unlink()
    fixture_catalog.write("kpis/finance/cac.json", document)

    outcome = fixture_catalog.check()

    issue = outcome.only("id_matches_path")
    assert (issue.file, issue.pointer) == ("kpis/finance/cac.json", "/id")
    assert "must be defined in kpis/sales/cac.json" in issue.message
    # The id itself still resolves, so nobody referencing sales.cac gets a second, misleading error.
    assert outcome.findings("references_resolve") == set()


def test_the_expected_path_of_an_id_is_its_domain_folder_and_slug_file():
    assert expected_path("customers.acv_trend_pct") == "kpis/customers/acv_trend_pct.json"
